"""A sweep logged to the MLflow of a service whose jobs already are MLflow runs (Azure ML: run id = job name, the
job's experiment, ./outputs as its artifacts): each cell's job run becomes the sweep's nested child, tagged and
given the cell's params and metrics, instead of a second run per cell with its outputs uploaded again."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING

from rjobs.backends.base import HasWorkspaceTracking, JobsAreMlflowRuns
from rjobs.engine.ledger import CellRecord
from rjobs.results.mlflow_logging import cell_tags, log_batch
from rjobs.results.mlflow_runs import PARENT_TAG

if TYPE_CHECKING:
    from mlflow import MlflowClient
    from mlflow.entities import Run

log = logging.getLogger(__name__)

JobRunIds = Callable[[CellRecord], str | None]
"""A cell's job run id from its ledger record (JobsAreMlflowRuns.job_run_id)."""
MISSING = frozenset({"RESOURCE_DOES_NOT_EXIST", "NOT_FOUND"})


def tracking_target(backend: object, tracking_uri: str | None) -> tuple[str | None, JobRunIds | None]:
    """Where to log a sweep and how: an explicit URI gets the orchestrator's own runs (the jobs' runs are not there);
    by default the backend's workspace MLflow, with the cells' job runs nested when its jobs are MLflow runs."""
    if tracking_uri is not None or not isinstance(backend, HasWorkspaceTracking):
        return tracking_uri, None
    job_runs = backend.job_run_id if isinstance(backend, JobsAreMlflowRuns) else None
    return backend.tracking_uri(), job_runs


def existing_run(client: MlflowClient, run_id: str) -> Run | None:
    """The run, or None when the store does not hold it (never there, deleted)."""
    from mlflow.exceptions import MlflowException

    try:
        run = client.get_run(run_id)
    except MlflowException as exc:
        if exc.error_code not in MISSING:
            raise
        return None
    return None if run.info.lifecycle_stage == "deleted" else run


def log_job_run(
    client: MlflowClient,
    sweep: str,
    record: CellRecord,
    run_id: str | None,
    parent_run_id: str,
    experiment_id: str,
    tracking_uri: str,
) -> tuple[str | None, bool]:
    """Nest the cell's job run under the parent and log the cell's params, metrics and tags onto it, only what
    differs (its status and artifacts are the service's); (None, False) with a warning when it is not there."""
    if not run_id:
        reused = f" (reused from sweep {record.reused_from}, whose run it stays)" if record.reused_from else ""
        log.info("cell %s of sweep %s has no job run of its own%s: not logged", record.cell, sweep, reused)
        return None, False
    run = existing_run(client, run_id)
    if run is None:
        log.warning(
            "cell %s of sweep %s: its job run %s is not in MLflow at %s (deleted, or the job ran in another "
            "workspace): not logged",
            record.cell,
            sweep,
            run_id,
            tracking_uri,
        )
        return None, False
    if run.info.experiment_id != experiment_id:
        log.warning(
            "cell %s: job run %s is in experiment id %s, its sweep's parent run in %s: nested across experiments",
            record.cell,
            run_id,
            run.info.experiment_id,
            experiment_id,
        )
    tags = {**cell_tags(sweep, record), PARENT_TAG: parent_run_id}
    return run_id, log_batch(client, run, run_id, record.params, record.metrics, tags)
