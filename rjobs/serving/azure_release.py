"""One release to Azure ML: the build context's image built in the workspace's registry (unless the endpoint already has
a deployment of that very image), then deployed blue-green with a smoke request of real rows."""

from __future__ import annotations

import csv
import logging
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol

from rjobs.core.errors import InputError
from rjobs.serving.azure_endpoint import DEFAULT_INSTANCE_TYPE, DeployOutcome, EndpointPlan, deploy
from rjobs.serving.context import BuildContext

log = logging.getLogger(__name__)
SMOKE_ROWS = 3


class ImageBuilder(Protocol):
    def build(self, context: BuildContext) -> str: ...


def make_builder(ml_client: Any) -> ImageBuilder:
    """ACR Tasks in the workspace's registry, with the MLClient's credential."""
    from rjobs.serving.image_build import AcrTaskBuilder, workspace_registry

    return AcrTaskBuilder(ml_client._credential, workspace_registry(ml_client))


def smoke_rows_from_csv(path: Path, count: int = SMOKE_ROWS) -> list[dict[str, Any]]:
    """The first rows of a CSV with no empty or NA cell, numbers as numbers: what the smoke request sends."""
    if not path.is_file():
        raise InputError(path, None, "does not exist", "pass --smoke-data with a CSV of rows the model can score")
    rows: list[dict[str, Any]] = []
    with path.open(newline="", encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            if any(value in ("", "NA") for value in row.values()):
                continue
            rows.append({key: _number_or_text(value) for key, value in row.items()})
            if len(rows) == count:
                break
    if not rows:
        raise InputError(path, None, "has no complete row", "pass --smoke-data with at least one complete row")
    return rows


def _number_or_text(value: str) -> float | str:
    try:
        return float(value)
    except ValueError:
        return value


def deployed_image(ml_client: Any, endpoint: str, deployment: str) -> str | None:
    """The image an existing deployment of this name runs (its rjobs.image tag), or None when there is none."""
    from azure.core.exceptions import ResourceNotFoundError

    try:
        found = ml_client.online_deployments.get(deployment, endpoint)
    except ResourceNotFoundError:
        return None
    image = (found.tags or {}).get("rjobs.image")
    return str(image) if image else None


def release(
    ml_client: Any,
    context: BuildContext,
    endpoint: str,
    smoke_rows: Sequence[Mapping[str, Any]],
    *,
    auth_mode: str = "key",
    instance_type: str | None = None,
    instance_count: int = 1,
    tags: Mapping[str, str] | None = None,
    builder: ImageBuilder | None = None,
    report: Callable[[str], None] = log.info,
) -> DeployOutcome:
    """Build (or find) the image, then deploy it; what a re-run with the same model and environment finds is reused."""
    deployment = EndpointPlan(endpoint, "", context.tag).deployment
    image = deployed_image(ml_client, endpoint, deployment)
    if image is None:
        report(f"building the serving image (tag {context.tag}) in the workspace's registry")
        image = (builder or make_builder(ml_client)).build(context)
        report(f"built {image}")
    else:
        report(f"deployment {deployment} already runs {image}; no build")
    size = instance_type or DEFAULT_INSTANCE_TYPE
    final = EndpointPlan(endpoint, image, context.tag, auth_mode, size, instance_count, dict(tags or {}))
    return deploy(ml_client, final, smoke_rows, report=report)
