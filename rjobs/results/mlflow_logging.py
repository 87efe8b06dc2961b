"""Writing a run's params, metrics and tags to MLflow idempotently: only what differs from the run as stored, so a
sweep logged again after a resume updates its runs in place (shared by the orchestrator's own runs and job runs)."""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from rjobs.engine.ledger import CellRecord
from rjobs.results.mlflow_runs import CELL_TAG, KIND_TAG, RUN_TAG

if TYPE_CHECKING:
    from mlflow import MlflowClient
    from mlflow.entities import Run

log = logging.getLogger(__name__)

MAX_PARAM_LENGTH, MAX_TAG_LENGTH, BATCH = 6000, 8000, 100


def mlflow_key(name: str) -> str:
    """Param and metric names as MLflow accepts them (word characters, '.', '-', ' ' and '/')."""
    return re.sub(r"[^\w.\- /]", "_", str(name)) or "_"


def clip(value: Any, limit: int) -> str:
    text = str(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def cell_tags(run: str, record: CellRecord) -> dict[str, str]:
    """run, cell, job name, attempt and status, plus the error and job URL when there is one."""
    tags = {
        RUN_TAG: run,
        CELL_TAG: record.cell,
        KIND_TAG: "cell",
        "rjobs.job_name": record.job_name,
        "rjobs.attempt": str(record.attempt),
        "rjobs.status": record.state,
    }
    if record.error:
        tags["rjobs.error"] = record.error.strip()
    if record.url:
        tags["rjobs.url"] = record.url
    return tags


def log_batch(
    client: MlflowClient,
    run: Run | None,
    run_id: str,
    params: Mapping[str, Any],
    metrics: Mapping[str, float],
    tags: Mapping[str, Any],
) -> bool:
    """Log only what differs from the run as stored: params are immutable, metrics get a newer point."""
    from mlflow.entities import Metric, Param, RunTag

    old_params = run.data.params if run else {}
    old_metrics = run.data.metrics if run else {}
    old_tags = run.data.tags if run else {}
    new_params = []
    for key, value in params.items():
        key, text = mlflow_key(key), clip(value, MAX_PARAM_LENGTH)
        if key not in old_params:
            new_params.append(Param(key, text))
        elif old_params[key] != text:
            log.warning("run %s: param %s stays %r (params are immutable in MLflow)", run_id, key, old_params[key])
    now = int(time.time() * 1000)
    values = {mlflow_key(k): float(v) for k, v in metrics.items()}
    new_metrics = [Metric(k, v, now, 0) for k, v in values.items() if old_metrics.get(k) != v]
    texts = {k: clip(v, MAX_TAG_LENGTH) for k, v in tags.items()}
    new_tags = [RunTag(k, v) for k, v in texts.items() if old_tags.get(k) != v]
    for start in range(0, max(len(new_params), len(new_metrics), len(new_tags)), BATCH):
        client.log_batch(
            run_id,
            metrics=new_metrics[start : start + BATCH],
            params=new_params[start : start + BATCH],
            tags=new_tags[start : start + BATCH],
        )
    return bool(new_params or new_metrics or new_tags)
