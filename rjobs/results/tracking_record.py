"""What the last successful MLflow log of a sweep held (results/<run>/mlflow.json), so that a re-run with nothing
new neither imports MLflow nor opens its store, the slowest part of an unchanged re-run."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rjobs.core.files import atomic_write_json, iter_outputs
from rjobs.engine.ledger import CellRecord, RunLedger
from rjobs.results.job_runs import JobRunIds, tracking_target
from rjobs.results.mlflow_lock import sweep_log_lock
from rjobs.results.tracking import TrackingResult, fixed_params, local_tracking_uri, log_sweep

if TYPE_CHECKING:
    from rjobs.engine.sweep import Sweep

RECORD_FILE = "mlflow.json"
RECORDED = ("tracking_uri", "experiment_id", "parent_run_id", "child_run_ids")


def record_path(ledger: RunLedger) -> Path:
    return ledger.run_dir / RECORD_FILE


def fingerprint(
    ledger: RunLedger, records: Sequence[CellRecord], experiment: str, backend: str, params: Mapping[str, Any]
) -> str:
    """Everything log_sweep writes from: the records, the fixed params, and each cell's outputs by name, size and
    modification time (content hashes would read every model file again)."""
    outputs = {
        r.cell: [(p.name, p.stat().st_size, p.stat().st_mtime_ns) for p in iter_outputs(ledger.outputs_dir(r.cell))]
        for r in records
    }
    payload = {
        "experiment": experiment,
        "backend": backend,
        "params": dict(params),
        "records": [asdict(r) for r in records],
        "outputs": outputs,
    }
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()


def unchanged_since_last_log(ledger: RunLedger, tracking_uri: str, digest: str) -> TrackingResult | None:
    """The recorded result when the same store last received exactly these records (and, for the local sqlite
    store, the store is still there); None: log again."""
    try:
        saved = json.loads(record_path(ledger).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(saved, dict) or saved.get("fingerprint") != digest or saved.get("tracking_uri") != tracking_uri:
        return None
    if tracking_uri.startswith("sqlite:///") and not Path(tracking_uri.removeprefix("sqlite:///")).is_file():
        return None
    try:
        return TrackingResult(
            tracking_uri, str(saved["experiment_id"]), str(saved["parent_run_id"]), dict(saved["child_run_ids"])
        )
    except (KeyError, TypeError, ValueError):
        return None


def log_sweep_if_changed(
    ledger: RunLedger,
    records: Sequence[CellRecord],
    *,
    experiment: str,
    backend: str,
    params: Mapping[str, Any] | None = None,
    tracking_uri: str | None = None,
    job_runs: JobRunIds | None = None,
) -> tuple[TrackingResult, bool]:
    """log_sweep, unless the last successful log held the same records; the result and whether it logged.
    The record is written only after log_sweep returns: a failed log is retried on the next run. The check, the log
    and the record happen under the sweep's MLflow lock: a second process waits, then finds it has nothing to do."""
    tracking_uri = tracking_uri or local_tracking_uri(ledger.root)
    digest = fingerprint(ledger, records, experiment, backend, params or {})
    with sweep_log_lock(ledger.run_dir):
        previous = unchanged_since_last_log(ledger, tracking_uri, digest)
        if previous is not None:
            return previous, False
        result = log_sweep(
            ledger,
            records,
            experiment=experiment,
            backend=backend,
            params=params,
            tracking_uri=tracking_uri,
            job_runs=job_runs,
        )
        record = {"fingerprint": digest, **{k: v for k, v in asdict(result).items() if k in RECORDED}}
        atomic_write_json(record_path(ledger), record)
    return result, True


def log_sweep_of(sweep: Sweep, tracking_uri: str | None = None) -> tuple[TrackingResult, bool]:
    """A sweep's records logged where its backend says (rjobs.results.job_runs.tracking_target) unless unchanged:
    what the log-to-mlflow task runs, and the transport tests without Prefect."""
    tracking_uri, job_runs = tracking_target(sweep.backend, tracking_uri)
    return log_sweep_if_changed(
        sweep.ledger,
        sweep.records(),
        experiment=sweep.spec.experiment,
        backend=sweep.backend.name,
        params=fixed_params(sweep.spec, sweep.grid_keys),
        tracking_uri=tracking_uri,
        job_runs=job_runs,
    )
