"""The parallel flow: a `type: parallel` job's input split into mini-batches, R on each with Azure ML's
concurrency, thresholds and retries, and every batch's rows appended into one output.

`python -m flows.train --job parallel-job.yml` dispatches here (flows/parallel_cli.py validates and splits first).
"""

from __future__ import annotations

from contextvars import ContextVar
from typing import Any
from uuid import UUID

from prefect import flow, get_run_logger
from prefect.states import Failed, State

from rjobs.engine.wiring import make_monitor
from rjobs.inputs.options import SweepOptions
from rjobs.parallel.engine import ParallelRun
from rjobs.parallel.summary import exit_code
from rjobs.parallel.wiring import PreparedParallel, build_run, prepare_parallel
from tasks.batches import run_batches, write_batch_results
from tasks.environment import check_environment, stage_data, upload_code

ACTIVE_RUNS: dict[UUID, ParallelRun] = {}
HANDED_OVER: ContextVar[PreparedParallel | None] = ContextVar("parallel_handed_over", default=None)
"""Set by the CLI around its call, so the flow reuses the CLI's split and backend."""


def cancel_on_hook(flow: Any, flow_run: Any, state: Any) -> None:
    """Prefect's cancellation hook, when it runs; `python -m flows.cancel` covers when it doesn't."""
    run = ACTIVE_RUNS.get(flow_run.id)
    if run is not None:
        (run.packed or run.sweep).cancel_all()


@flow(name="parallel", on_cancellation=[cancel_on_hook], on_crashed=[cancel_on_hook])
def parallel(options: SweepOptions = SweepOptions()) -> dict[str, Any] | State:  # noqa: B008
    """Stage, check the environment, run every batch, append the rows; Failed when a threshold was crossed."""
    from prefect.runtime import flow_run

    handed = HANDED_OVER.get()
    prepared = handed if handed is not None and handed.resolved.options == options else prepare_parallel(options)
    logger = get_run_logger()

    def on_transition(handle: Any, previous: Any, status: Any) -> None:
        logger.debug("job %s: %s -> %s", handle.job_name, previous or "found", status.state)

    monitor = make_monitor(prepared.backend, prepared.poll_interval, on_transition)
    run = build_run(prepared, monitor)
    ACTIVE_RUNS[flow_run.id] = run
    try:
        stage_data(run.sweep)
        check_environment(run.sweep)
        upload_code(run.sweep)
        try:
            run_batches(run)
        finally:
            summary = write_batch_results(run)
    finally:
        ACTIVE_RUNS.pop(flow_run.id, None)
    if exit_code(summary):
        failed = ", ".join(summary["failed_batches"][:10]) or "none failed; some did not run"
        reason = summary["stopped"] or "not every batch ran"
        return Failed(message=f"{reason}: batches {failed} (see {run.sweep.ledger.summary_path})", data=summary)
    return summary
