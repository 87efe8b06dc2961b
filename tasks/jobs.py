"""The per-cell Prefect task: one task run per cell, so the UI shows each cell's job and state."""

from __future__ import annotations

from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE

from rjobs.errors import JobCanceledError, JobFailedError
from rjobs.ledger import LOG_FILE
from rjobs.states import JobState
from rjobs.sweep import CellResult, Outcome, Sweep


@task(name="run-cell", task_run_name="cell-{cell_id}", cache_policy=NO_CACHE)
def run_cell(sweep: Sweep, cell_id: str) -> CellResult:
    """Run one cell to a terminal state; a failed cell fails its task run only, after its record is saved."""
    result = sweep.run_cell(cell_id)
    record = result.record
    logger = get_run_logger()
    params = ", ".join(f"{k}={v}" for k, v in record.params.items())
    if record.job_state == JobState.COMPLETED:
        metrics = ", ".join(f"{k}={v:.4g}" for k, v in sorted(record.metrics.items()))
        verb = "reused" if result.outcome == Outcome.REUSED else "completed"
        logger.info("cell %s (%s) %s: %s", cell_id, params, verb, metrics or record.metrics_error)
        return result
    look_at = record.url or sweep.ledger.cell_dir(cell_id) / LOG_FILE
    if record.job_state == JobState.CANCELED:
        raise JobCanceledError(record.job_name, record.error or "cancelled", look_at)
    raise JobFailedError(
        record.job_name or cell_id, f"{record.state} after {record.attempt} attempt(s):\n{record.error}", look_at
    )
