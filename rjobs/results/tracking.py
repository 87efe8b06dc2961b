"""Log a finished sweep to MLflow from the ledger: a parent run per sweep and a nested child run per cell (on a
backend whose jobs are MLflow runs, the cell's job run itself: rjobs.results.job_runs).

Re-logging the same sweep updates its runs in place (found by the tags rjobs.run and rjobs.cell), so the
orchestrator can call it after every resume; one process at a time per sweep (results.mlflow_lock), so two flows on
one run name never create two sets of runs. MlflowClient only: the flow is multi-threaded and MLflow's
fluent API keeps global state.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rjobs.core.errors import InputError
from rjobs.core.hashing import hash_listing
from rjobs.core.naming import slug
from rjobs.core.states import JobState
from rjobs.engine.ledger import CellRecord, RunLedger
from rjobs.inputs.spec import JobSpec
from rjobs.results.job_runs import JobRunIds, log_job_run
from rjobs.results.mlflow_artifacts import ARTIFACT_PATH as ARTIFACT_PATH
from rjobs.results.mlflow_artifacts import log_outputs, outputs_listing
from rjobs.results.mlflow_lock import sweep_log_lock
from rjobs.results.mlflow_logging import cell_tags, log_batch
from rjobs.results.mlflow_logging import mlflow_key as mlflow_key
from rjobs.results.mlflow_runs import (
    CELL_TAG,
    KIND_TAG,
    PARENT_TAG,
    RUN_TAG,
    check_filter_value,
    find_children,
    find_parent,
)

if TYPE_CHECKING:
    from mlflow import MlflowClient
    from mlflow.entities import Run

log = logging.getLogger(__name__)

STORE_FILE = "mlflow.db"
ARTIFACTS_DIR = "mlartifacts"
OUTPUTS_HASH_TAG = "rjobs.outputs_sha256"
AZURE_EXTRA_FIX = "install the optional extra (uv sync --extra azureml-mlflow), or pass --tracking-uri or --no-mlflow"


@dataclass
class TrackingResult:
    """Where a sweep was logged and what this call changed, for the flow's log and artifacts."""

    tracking_uri: str
    experiment_id: str
    parent_run_id: str
    child_run_ids: dict[str, str] = field(default_factory=dict)
    created: int = 0
    updated: int = 0
    artifacts_logged: int = 0
    missing_job_runs: list[str] = field(default_factory=list)
    """Cells whose job run the store does not hold (deleted, another workspace): skipped, not copied."""


def local_tracking_uri(results_root: str | Path) -> str:
    """One sqlite store per results root, beside the runs it describes (MLflow's file store is deprecated)."""
    return f"sqlite:///{(Path(results_root).resolve() / STORE_FILE).as_posix()}"


def require_azureml_mlflow() -> None:
    """MLflow reaches a workspace only through the azureml-mlflow plugin: say so in one line, before any job runs."""
    try:
        import azureml.mlflow  # noqa: F401  (registers the azureml:// tracking store with MLflow)
    except ImportError:
        raise InputError(
            None, "azureml-mlflow", "is not installed but logging to Azure ML's MLflow needs it", AZURE_EXTRA_FIX
        ) from None


def make_client(tracking_uri: str) -> MlflowClient:
    """A client bound to one store for tracking and registry, never to MLflow's process-global URI."""
    from mlflow import MlflowClient

    from rjobs.results.mlflow_store import seed_local_store

    seed_local_store(tracking_uri)
    return MlflowClient(tracking_uri=tracking_uri, registry_uri=tracking_uri)


def fixed_params(spec: JobSpec, grid_keys: Sequence[str]) -> dict[str, str]:
    """The job inputs no cell overrides: literals as R sees them, data inputs by path."""
    from rjobs.core.values import value_text

    params = {}
    for name, spec_input in spec.inputs.items():
        if name in grid_keys:
            continue
        if spec_input.is_literal and spec_input.value is not None:
            params[name] = value_text(spec_input.value)
        elif spec_input.path is not None:
            params[name] = spec_input.path
    return params


def ensure_experiment(client: MlflowClient, name: str, artifact_root: Path | None) -> str:
    """The experiment's id, created on first use (locally its artifacts beside the store), restored if deleted."""
    from mlflow.exceptions import MlflowException

    experiment = client.get_experiment_by_name(name)
    if experiment is None:
        location = (artifact_root / ARTIFACTS_DIR / slug(name, 80)).as_uri() if artifact_root is not None else None
        try:
            return client.create_experiment(name, artifact_location=location)
        except MlflowException:  # created concurrently by another sweep: use theirs
            experiment = client.get_experiment_by_name(name)
            if experiment is None:
                raise
    if experiment.lifecycle_stage == "deleted":
        client.restore_experiment(experiment.experiment_id)
    return experiment.experiment_id


def _millis(seconds: float | None) -> int | None:
    return None if seconds is None else int(seconds * 1000)


def cell_status(state: JobState) -> str:
    """MLflow's status for a cell: jobs still in flight stay RUNNING, never-run and cancelled ones KILLED."""
    if state == JobState.COMPLETED:
        return "FINISHED"
    if state.failed:
        return "FAILED"
    if state in (JobState.CANCELED, JobState.ABSENT):
        return "KILLED"
    return "RUNNING"


def sweep_status(states: Sequence[JobState]) -> str:
    """The parent's status once the sweep returned: any failure FAILED, anything unfinished KILLED."""
    if any(s.failed for s in states):
        return "FAILED"
    if states and all(s == JobState.COMPLETED for s in states):
        return "FINISHED"
    return "KILLED"


def _finish_run(client: MlflowClient, run: Run | None, run_id: str, status: str, end_ms: int | None) -> bool:
    if run is not None and run.info.status == status and (end_ms is None or run.info.end_time == end_ms):
        return False
    if status == "RUNNING":
        client.update_run(run_id, status=status)
    else:
        client.set_terminated(run_id, status=status, end_time=end_ms)
    return True


def log_sweep(
    ledger: RunLedger,
    records: Sequence[CellRecord],
    *,
    experiment: str,
    backend: str,
    params: Mapping[str, Any] | None = None,
    tracking_uri: str | None = None,
    client: MlflowClient | None = None,
    job_runs: JobRunIds | None = None,
) -> TrackingResult:
    """Create or update the sweep's parent run and one child run per record; artifacts only when changed. With
    job_runs, each cell's child is its job run (found by id, never created, no artifacts). Holds the sweep's MLflow
    lock throughout, so what it finds by tag is still all there is when it creates what is missing."""
    check_filter_value("run name", ledger.run)
    for record in records:
        check_filter_value("cell", record.cell)
    with sweep_log_lock(ledger.run_dir):
        return _log_sweep(ledger, records, experiment, backend, params, tracking_uri, client, job_runs)


def _log_sweep(
    ledger: RunLedger,
    records: Sequence[CellRecord],
    experiment: str,
    backend: str,
    params: Mapping[str, Any] | None,
    tracking_uri: str | None,
    client: MlflowClient | None,
    job_runs: JobRunIds | None,
) -> TrackingResult:
    tracking_uri = tracking_uri or local_tracking_uri(ledger.root)
    client = client or make_client(tracking_uri)
    local_store = tracking_uri.startswith("sqlite:")
    existing = client.get_experiment_by_name(experiment)
    parent = find_parent(client, ledger.run, [existing.experiment_id]) if existing is not None else None
    parent = parent or find_parent(client, ledger.run)  # a sweep stays where it was first logged: never two parents
    if parent is None:
        experiment_id = ensure_experiment(client, experiment, ledger.root if local_store else None)
    else:
        experiment_id = parent.info.experiment_id
        if existing is None or existing.experiment_id != experiment_id:
            log.warning(
                "sweep %s is already logged in experiment id %s, not %r: updating it there",
                ledger.run,
                experiment_id,
                experiment,
            )
    result = TrackingResult(tracking_uri, experiment_id, "")

    starts = [r.submitted_at for r in records if r.submitted_at is not None]
    ends = [r.ended_at for r in records if r.ended_at is not None]
    if parent is None:
        created = client.create_run(
            experiment_id,
            start_time=_millis(min(starts)) if starts else None,
            tags={RUN_TAG: ledger.run, KIND_TAG: "sweep"},
            run_name=ledger.run,
        )
        result.parent_run_id, result.created = created.info.run_id, 1
    else:
        result.parent_run_id = parent.info.run_id
    parent_tags = {RUN_TAG: ledger.run, KIND_TAG: "sweep", "rjobs.backend": backend, "rjobs.cells": str(len(records))}
    changed = log_batch(client, parent, result.parent_run_id, dict(params or {}), {}, parent_tags)

    children: Mapping[str, Run] | None = None
    if job_runs is not None:
        for record in records:
            job_run = job_runs(record)
            if job_run is None and record.job_name and not record.reused_from:  # ran, but not as a job of its own
                if children is None:
                    children = find_children(client, experiment_id, result.parent_run_id) if parent else {}
                result.child_run_ids[record.cell] = _log_cell(client, ledger, record, experiment_id, result, children)
                continue
            run_id, cell_changed = log_job_run(
                client, ledger.run, record, job_run, result.parent_run_id, experiment_id, tracking_uri
            )
            if run_id is not None:
                result.child_run_ids[record.cell] = run_id
                result.updated += int(cell_changed)
            elif job_run:
                result.missing_job_runs.append(record.cell)
    else:
        children = find_children(client, experiment_id, result.parent_run_id) if parent is not None else {}
        for record in records:
            result.child_run_ids[record.cell] = _log_cell(client, ledger, record, experiment_id, result, children)

    status = sweep_status([r.job_state for r in records])
    end_ms = _millis(max(ends)) if ends else None
    changed = _finish_run(client, parent, result.parent_run_id, status, end_ms) or changed
    if parent is not None and changed:
        result.updated += 1
    return result


def _log_cell(
    client: MlflowClient,
    ledger: RunLedger,
    record: CellRecord,
    experiment_id: str,
    result: TrackingResult,
    children: Mapping[str, Run],
) -> str:
    """One child run: params, metrics and tags as in the ledger, the outputs folder when its hash changed."""
    child = children.get(record.cell)
    if child is None:
        created = client.create_run(
            experiment_id,
            start_time=_millis(record.submitted_at),
            tags={PARENT_TAG: result.parent_run_id, RUN_TAG: ledger.run, CELL_TAG: record.cell, KIND_TAG: "cell"},
            run_name=record.cell,
        )
        run_id = created.info.run_id
        result.created += 1
    else:
        run_id = child.info.run_id
    changed = log_batch(client, child, run_id, record.params, record.metrics, cell_tags(ledger.run, record))
    outputs = ledger.outputs_dir(record.cell)
    listing = outputs_listing(outputs)
    digest = hash_listing(listing.files) if listing.files else ""
    if digest and digest != (child.data.tags.get(OUTPUTS_HASH_TAG) if child is not None else None):
        log_outputs(client, run_id, outputs, listing)
        client.set_tag(run_id, OUTPUTS_HASH_TAG, digest)  # only after the upload: a failed one is retried next time
        result.artifacts_logged += 1
        changed = True
    status = cell_status(record.job_state)
    end_ms = _millis(record.ended_at) if status != "RUNNING" else None
    changed = _finish_run(client, child, run_id, status, end_ms) or changed
    if child is not None and changed:
        result.updated += 1
    return run_id
