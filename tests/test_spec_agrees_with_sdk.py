"""Our job.yml reader and azure-ai-ml's load_job must agree, for the demo and the seed guide's project."""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest

from rjobs.core.values import value_text
from rjobs.inputs.spec import load_job_spec

REPO = Path(__file__).resolve().parent.parent
JOBS = [REPO / "job.yml", REPO / "tests" / "fixtures" / "seed_project" / "job.yml"]


@pytest.mark.parametrize("job_file", JOBS, ids=lambda p: p.parent.name)
def test_engine_spec_matches_load_job(job_file: Path) -> None:
    from azure.ai.ml import load_job

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sdk = load_job(job_file)
    ours = load_job_spec(job_file)

    assert " ".join(sdk.command.split()) == " ".join(ours.command.split())
    assert Path(job_file.parent, sdk.code).resolve() == ours.code
    assert str(sdk.environment).removeprefix("azureml:") == str(ours.environment).removeprefix("azureml:")
    assert str(sdk.compute).removeprefix("azureml:") == str(ours.compute).removeprefix("azureml:")
    assert set(sdk.inputs) == set(ours.inputs)
    for name, node_input in sdk.inputs.items():
        sdk_input = getattr(node_input, "_data", node_input)
        mine = ours.inputs[name]
        if mine.is_literal:
            assert value_text(sdk_input) == mine.value, name  # ours is the text as written, the SDK's typed
        else:
            assert sdk_input.type == mine.type, name
            assert Path(job_file.parent, sdk_input.path).resolve() == ours.local_path(mine), name
    assert (sdk.experiment_name, sdk.display_name) == (ours.experiment_name, ours.display_name)
    assert dict(sdk.environment_variables or {}) == dict(ours.environment_variables)


def test_environment_yaml_build_context_is_the_dockerfile_folder() -> None:
    from azure.ai.ml import load_environment

    from rjobs.inputs.options import dockerfile_path

    env = load_environment(REPO / "environment-job.yml")
    assert Path(REPO, env.build.path).resolve() == dockerfile_path(REPO / "environment-job.yml").parent
    assert dockerfile_path(REPO / "environment-job.yml").is_file()
