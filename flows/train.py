"""The train flow: fan an R job out over a parameter grid, with bounded concurrency, into one results table.

Ad hoc: `python -m flows.train [--grid grid.yml] [--param seed=1,2] ...`; `--help` lists every option.
"""

from __future__ import annotations

import sys

if __name__ == "__main__":
    from flows.cli import main

    sys.exit(main())

import math
import signal
import threading
from collections import Counter, deque
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any
from uuid import UUID

from prefect import flow, get_run_logger
from prefect.futures import PrefectFuture, as_completed

from flows.cli import EXIT_BAD_INPUT, EXIT_CANCELLED, EXIT_FAILED_CELLS, EXIT_OK, main
from rjobs.engine.ledger import RunLedger
from rjobs.engine.monitor import JobMonitor
from rjobs.engine.sweep import Sweep, SweepSettings
from rjobs.engine.wiring import DEFAULT_POLL_INTERVAL, make_backend
from rjobs.inputs.options import ResolvedSweep, SweepOptions, resolve
from tasks.data import upload_data
from tasks.environment import check_environment, stage_data, upload_code
from tasks.jobs import run_cell, run_cells
from tasks.limits import ensure_limit, job_slot
from tasks.results import write_results
from tasks.tracking import log_to_mlflow, plot_sweep, select_and_register

__all__ = ["EXIT_BAD_INPUT", "EXIT_CANCELLED", "EXIT_FAILED_CELLS", "EXIT_OK", "main", "train"]
ACTIVE_SWEEPS: dict[UUID, Sweep] = {}
PER_CELL_TASK_RUNS = 100  # up to this many cells a task run each, so the UI shows every cell (~30 ms each)
BATCHES = 20  # a larger sweep runs in this many task runs of many cells: at 1,000 cells ~20 ms/cell, not ~45


def build_sweep(resolved: ResolvedSweep) -> Sweep:
    """The engine objects for one sweep, wired with the backend's clients and poll cadence."""
    backend = make_backend(resolved)
    options = resolved.options
    interval = options.poll_interval or DEFAULT_POLL_INTERVAL[backend.name]
    logger = get_run_logger()

    def on_transition(handle: Any, previous: Any, status: Any) -> None:
        where = f" {status.url}" if status.url else ""
        logger.info("job %s: %s -> %s%s", handle.job_name, previous or "found", status.state, where)

    monitor = JobMonitor(backend, interval=interval, on_transition=on_transition)
    settings = SweepSettings(run=resolved.run, retries=options.retries, timeout_s=options.timeout)
    if options.global_limit:
        ensure_limit(options.global_limit, options.global_limit_size)
        limit = options.global_limit
        settings.job_slot = lambda: job_slot(limit)
    return Sweep(
        resolved.spec, resolved.cells, backend, RunLedger(resolved.results_root, resolved.run), settings, monitor
    )


def fan_out(sweep: Sweep, limit: int) -> None:
    """At most `limit` jobs in flight: a task run per cell, or BATCHES task runs of many cells each past
    PER_CELL_TASK_RUNS cells (bench/RESULTS.md); on any interruption every in-flight job is cancelled first."""
    logger = get_run_logger()
    cells = list(sweep.cells)
    size = 1 if len(cells) <= PER_CELL_TASK_RUNS else math.ceil(len(cells) / BATCHES)
    pool = ThreadPoolExecutor(max_workers=limit, thread_name_prefix="cell") if size > 1 else None
    pending = deque(cells[i : i + size] for i in range(0, len(cells), size))
    window = limit if pool is None else math.ceil(2 * limit / size) + 1  # batches queued: the pool never starves
    running: dict[PrefectFuture[Any], list[str]] = {}
    done = 0
    try:
        while pending or running:
            while pending and len(running) < window:
                ids = pending.popleft()
                if pool is None:
                    running[run_cell.submit(sweep, ids[0])] = ids
                else:
                    running[run_cells.submit(sweep, ids, pool, ids[0], len(ids))] = ids
            finished = next(as_completed(list(running)))
            ids = running.pop(finished)
            done += len(ids)
            logger.info("[%d/%d] %s", done, len(cells), progress(sweep, ids, finished.state.name))
    except BaseException:
        with signals_ignored():
            cancelled = sweep.cancel_all()
            logger.warning("interrupted: cancelled %d job(s) in flight", len(cancelled))
            for future in running:
                future.wait(timeout=60)
        raise
    finally:
        if pool is not None:
            pool.shutdown(wait=False, cancel_futures=True)


def progress(sweep: Sweep, ids: list[str], task_state: str) -> str:
    """'cell <id>: Completed', or for a batch '<n> cells from <id>: 5 Completed, 1 Failed' (task state if unrun)."""
    states = Counter(result.record.state if (result := sweep.results.get(i)) else task_state for i in ids)
    if len(ids) == 1:
        return f"cell {ids[0]}: {next(iter(states))}"
    return f"{len(ids)} cells from {ids[0]}: " + ", ".join(f"{n} {state}" for state, n in sorted(states.items()))


@contextmanager
def signals_ignored() -> Iterator[None]:
    """A repeated Ctrl-C or SIGTERM would abandon the cleanup half-way; the first one already cancels everything."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    for s in previous:
        signal.signal(s, signal.SIG_IGN)
    try:
        yield
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)


def upload_inputs(resolved: ResolvedSweep) -> dict[str, str]:
    """Each local data input to `container/prefix/<input>/`; unchanged blobs are skipped by their MD5."""
    options = resolved.options
    assert options.upload_to is not None
    container, _, prefix = options.upload_to.strip("/").partition("/")
    references = {}
    for name, spec_input in resolved.spec.inputs.items():
        if spec_input.is_local:
            references[name] = upload_data(
                resolved.spec.local_path(spec_input),
                container,
                "/".join(p for p in (prefix, name) if p),
                account_url=options.data_account_url,
                datastore=options.datastore,
            )
    return references


def cancel_on_hook(flow_obj: Any, flow_run: Any, state: Any) -> None:
    """Prefect's cancellation hook, when it runs; `python -m flows.cancel` covers when it doesn't."""
    sweep = ACTIVE_SWEEPS.get(flow_run.id)
    if sweep is not None:
        sweep.cancel_all()


@flow(name="train", on_cancellation=[cancel_on_hook], on_crashed=[cancel_on_hook])
def train(options: SweepOptions = SweepOptions()) -> dict[str, Any]:  # noqa: B008
    """Stage data, check the environment, fan the cells out, collect, and write the results table."""
    from prefect.runtime import flow_run

    resolved = resolve(options)
    sweep = build_sweep(resolved)
    ACTIVE_SWEEPS[flow_run.id] = sweep
    try:
        stage_data(sweep, upload_inputs(resolved) if options.upload_to else None)
        check_environment(sweep)
        upload_code(sweep)
        try:
            fan_out(sweep, options.max_concurrent)
        finally:
            summary = write_results(
                sweep, {"max_concurrent": options.max_concurrent, "experiment": resolved.spec.experiment}
            )
        tracking = None if options.no_mlflow else log_to_mlflow(sweep, options.tracking_uri)
        if options.select:
            plot = plot_sweep(sweep, options.select)
            summary["best"] = select_and_register(
                sweep, options.select, options.register_model, options.model_path, tracking, plot
            )
    finally:
        ACTIVE_SWEEPS.pop(flow_run.id, None)
    return summary
