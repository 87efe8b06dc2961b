"""Azure ML models registered from a job's output: Azure ML has no registration step for R, so Python does it.

A version's identity is its `rjobs.source` tag (the caller's, else job and file): registering the same source again
returns the version made before instead of adding one, so a re-run of the flow is safe.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rjobs.backends.azureml.calls import ServiceCalls
from rjobs.backends.base import RegisteredModelRef
from rjobs.core.naming import SOURCE_TAG


def job_output_uri(job_name: str, model_path: str) -> str:
    """The file in the job's default artifacts output, as Azure ML addresses it for a model path."""
    return f"azureml://jobs/{job_name}/outputs/artifacts/paths/{model_path}"


def _versions(calls: ServiceCalls, name: str) -> list[Any]:
    """Every version of the model; none when the model does not exist yet (the service may say so either way)."""
    from azure.core.exceptions import ResourceNotFoundError

    models = calls.ml_client.models
    try:
        return list(calls("models.list", lambda: list(models.list(name=name))))
    except ResourceNotFoundError:
        return []


def register_job_output(
    calls: ServiceCalls, name: str, job_name: str, model_path: str, tags: Mapping[str, str], description: str
) -> RegisteredModelRef:
    """A custom_model version of `name` pointing at job_name's output file, unless one of the same source exists."""
    from azure.ai.ml.constants import AssetTypes
    from azure.ai.ml.entities import Model

    tags = {SOURCE_TAG: f"{job_name}/{model_path}", **tags}
    existing = _versions(calls, name)
    for model in existing:
        if (model.tags or {}).get(SOURCE_TAG) == tags[SOURCE_TAG]:
            return RegisteredModelRef(name, str(model.version), str(model.path), False)
    numbers = [int(m.version) for m in existing if str(m.version).isdigit()]
    uri = job_output_uri(job_name, model_path)
    model = Model(
        name=name,
        version=str(max(numbers, default=0) + 1),
        path=uri,
        type=AssetTypes.CUSTOM_MODEL,
        description=description,
        tags=dict(tags),
    )
    made = calls("models.create_or_update", calls.ml_client.models.create_or_update, model)
    return RegisteredModelRef(name, str(made.version), uri, True)
