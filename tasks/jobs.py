"""The per-cell Prefect task: one task run per cell, so the UI shows each cell's job and state; for large sweeps,
task runs of many cells (a Prefect task run and its log lines cost more than a cell's own bookkeeping)."""

from __future__ import annotations

from concurrent.futures import Executor, wait

from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE
from prefect.states import Cancelled, Completed, Failed, State

from rjobs.core.errors import JobCanceledError, JobFailedError, JobOutcomeError
from rjobs.core.files import LOG_FILE
from rjobs.core.states import JobState
from rjobs.engine.sweep import CellResult, Outcome, Sweep


@task(name="run-cell", task_run_name="{title} ({cell_id})", cache_policy=NO_CACHE)
def run_cell(sweep: Sweep, cell_id: str, title: str) -> CellResult | State:
    """Run one cell to a terminal state, its task run named after its parameters and cell id (not a tag: Prefect
    asks the server for tag concurrency slots before every tagged task run, 0.3-0.6 s a cell here); a
    failed cell fails its task run only, after its record is saved, with one line and the log's place as the
    message (an R error is the user's, not a Python traceback); a reused cell ends Cached, as Prefect shows reuse."""
    result = sweep.run_cell(cell_id)
    error = _report(sweep, result)
    if error is not None:
        return outcome_state(error)
    if result.outcome == Outcome.REUSED:
        where = f" from {result.reused_from}" if result.reused_from else ""
        return Completed(name="Cached", data=result, message=f"reused{where}: nothing was run")
    return result


def outcome_state(error: JobOutcomeError) -> State:
    """The task run's final state for a job that did not complete: Cancelled or Failed, with a one-line message."""
    if isinstance(error, JobCanceledError):
        return Cancelled(message=one_line(error))
    return Failed(message=one_line(error))


@task(name="run-cells", task_run_name="cells-{first}-x{count}", cache_policy=NO_CACHE)
def run_cells(sweep: Sweep, cell_ids: list[str], pool: Executor, first: str, count: int) -> list[CellResult] | State:
    """Run a batch of cells on the sweep's shared pool (at most max_concurrent jobs in flight across batches);
    every cell ends before the task run does, and it fails, with a line per cell that did not complete, if any."""
    logger = get_run_logger()
    futures = [pool.submit(sweep.run_cell, cell_id) for cell_id in cell_ids]
    wait(futures)
    results: list[CellResult] = []
    errors: list[BaseException] = []
    for cell_id, future in zip(cell_ids, futures, strict=True):
        error = future.exception()
        if error is None:
            results.append(future.result())
            error = _report(sweep, results[-1], quiet=True)
        if error is not None:
            errors.append(error)
            logger.warning("cell %s: %s", cell_id, one_line(error))
    logger.info("%d of %d cell(s) completed", count - len(errors), count)
    unexpected = [error for error in errors if not isinstance(error, JobOutcomeError)]
    if unexpected:  # a bug, not a job's outcome: its traceback is worth showing
        detail = f"{len(errors)} of {count} cell(s) did not complete; the first: {one_line(unexpected[0])}"
        raise JobFailedError(f"{first} (+{count - 1} cells)", detail) from unexpected[0]
    if errors:
        if all(isinstance(error, JobCanceledError) for error in errors):
            return Cancelled(message=f"{len(errors)} of {count} cell(s) cancelled")
        return Failed(message=f"{len(errors)} of {count} cell(s) did not complete; the first: {one_line(errors[0])}")
    return results


def one_line(error: BaseException) -> str:
    """A job outcome as its first line and where to look (a batch logs one such line per cell)."""
    if isinstance(error, JobOutcomeError):
        where = f" (see {error.look_at})" if error.look_at else ""
        return f"job {error.job_name} {error.outcome}: {error.detail.partition(chr(10))[0]}{where}"
    return f"{type(error).__name__}: {str(error).partition(chr(10))[0]}"


def _report(sweep: Sweep, result: CellResult, quiet: bool = False) -> JobFailedError | JobCanceledError | None:
    """Log a completed cell (unless quiet: a batch logs a count, not a record per cell); the error its task
    run should raise otherwise."""
    record = result.record
    params = ", ".join(f"{k}={v}" for k, v in record.params.items())
    if record.job_state == JobState.COMPLETED:
        if quiet:
            return None
        metrics = ", ".join(f"{k}={v:.4g}" for k, v in sorted(record.metrics.items()))
        verb = "reused" if result.outcome == Outcome.REUSED else "completed"
        get_run_logger().info("cell %s (%s) %s: %s", record.cell, params, verb, metrics or record.metrics_error)
        return None
    look_at = record.url or sweep.ledger.cell_dir(record.cell) / LOG_FILE
    if record.job_state == JobState.CANCELED:
        return JobCanceledError(record.job_name, record.error or "cancelled", look_at)
    return JobFailedError(
        record.job_name or record.cell, f"{record.state} after {record.attempt} attempt(s):\n{record.error}", look_at
    )
