"""The train flow: fan an R job out over a parameter grid, with bounded concurrency, into one results table.

Run it with `python -m flows.train` (flows/cli.py validates first and hands this flow its prepared sweep), from a
deployment of prefect.yaml, or from the Prefect UI; the flow prepares the sweep itself when nothing was handed over.
"""

from __future__ import annotations

import math
import signal
import threading
from collections import deque
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path
from typing import Any
from uuid import UUID

from prefect import flow, get_run_logger
from prefect.artifacts import create_markdown_artifact
from prefect.futures import PrefectFuture, as_completed
from prefect.states import Failed, State

from flows.parameters import flow_docstring, flow_signature, options_from_parameters
from flows.sweep_progress import PER_CELL, ProgressArtifact, progress_for, transition_logger
from rjobs.core.states import JobState
from rjobs.engine.ledger import RunLedger
from rjobs.engine.plan import emit_yaml, make_plan
from rjobs.engine.reuse import ContentIndex
from rjobs.engine.sweep import Sweep, SweepSettings
from rjobs.engine.wiring import PreparedSweep, make_monitor, prepare
from rjobs.inputs.grid import cell_title
from rjobs.inputs.options import ResolvedSweep, SweepOptions
from rjobs.packing.engine import PackedSweep
from tasks.data import upload_data
from tasks.environment import check_environment, stage_data, upload_code
from tasks.jobs import run_cell, run_cells
from tasks.limits import ensure_limit, job_slot
from tasks.packing import run_packs
from tasks.results import artifact_key, write_results
from tasks.tracking import log_to_mlflow, plot_sweep, select_and_register

ACTIVE_SWEEPS: dict[UUID, Sweep] = {}
ACTIVE_PACKS: dict[UUID, PackedSweep] = {}
PER_CELL_TASK_RUNS = 100  # up to this many cells a task run each, so the UI shows every cell
BATCHES = 20  # a larger sweep runs in this many task runs of many cells: a task run per cell costs more than a job


HANDED_OVER: ContextVar[PreparedSweep | None] = ContextVar("handed_over", default=None)
"""Set by the CLI around its call of the flow, so the flow reuses the CLI's resolution and backend."""


def prepared_for(options: SweepOptions) -> PreparedSweep:
    """The sweep the CLI prepared for exactly these options, else a fresh preparation (deployments, the UI)."""
    handed = HANDED_OVER.get()
    if handed is not None and handed.resolved.options == options:
        return handed
    return prepare(options)


def build_sweep(prepared: PreparedSweep) -> Sweep:
    """The engine objects for one sweep, wired with the backend's clients and poll cadence."""
    resolved, backend = prepared.resolved, prepared.backend
    options = resolved.options
    interval = prepared.poll_interval
    progress = progress_for([cell.cell_id for cell in resolved.cells])
    on_transition = transition_logger(resolved.run, progress, get_run_logger())
    monitor = make_monitor(backend, interval, on_transition)
    reuse = ContentIndex(resolved.results_root, resolved.content)
    settings = SweepSettings(
        run=resolved.run, retries=options.retries, timeout_s=options.timeout, reuse=reuse, progress=progress
    )
    if options.global_limit:
        ensure_limit(options.global_limit, options.global_limit_size)
        limit = options.global_limit
        settings.job_slot = lambda: job_slot(limit)
    return Sweep(
        resolved.spec, resolved.cells, backend, RunLedger(resolved.results_root, resolved.run), settings, monitor
    )


def fan_out(sweep: Sweep, limit: int) -> None:
    """At most `limit` jobs in flight: a task run per cell, or BATCHES task runs of many cells each past
    PER_CELL_TASK_RUNS cells; on any interruption every in-flight job is cancelled first."""
    logger = get_run_logger()
    cells = list(sweep.cells)
    size = 1 if len(cells) <= PER_CELL_TASK_RUNS else math.ceil(len(cells) / BATCHES)
    pool = ThreadPoolExecutor(max_workers=limit, thread_name_prefix="cell") if size > 1 else None
    pending = deque(cells[i : i + size] for i in range(0, len(cells), size))
    window = limit if pool is None else math.ceil(2 * limit / size) + 1  # batches queued: the pool never starves
    running: dict[PrefectFuture[Any], list[str]] = {}
    assert sweep.settings.progress is not None
    artifact = ProgressArtifact(sweep.settings.run, sweep.settings.progress)
    artifact.start()
    try:
        while pending or running:
            while pending and len(running) < window:
                ids = pending.popleft()
                if pool is None:
                    running[run_cell.submit(sweep, ids[0], cell_title(sweep.cells[ids[0]].params))] = ids
                else:
                    running[run_cells.submit(sweep, ids, pool, ids[0], len(ids))] = ids
            finished = next(as_completed(list(running)))
            ids = running.pop(finished)
            logger.info("%s", sweep.settings.progress.snapshot().line(), extra=PER_CELL)
            artifact.update()
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


def pack_out(sweep: Sweep, packs: int, processes: int, key: UUID) -> None:
    """--pack: the unfinished cells in at most `packs` packed jobs; on any interruption every pack is cancelled and
    the items that finished in it are kept."""
    logger = get_run_logger()
    packed = ACTIVE_PACKS[key] = PackedSweep(sweep, packs, processes, on_progress=logger.info)
    try:
        run_packs(packed)
    except BaseException:
        with signals_ignored():
            logger.warning("interrupted: cancelled %d packed job(s); finished items are kept", len(packed.stop()))
        raise
    finally:
        ACTIVE_PACKS.pop(key, None)


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


def cancel_on_hook(flow: Any, flow_run: Any, state: Any) -> None:
    """Prefect's cancellation hook, when it runs (a runner passes its arguments by name, the engine by position);
    `python -m flows.cancel` covers when it doesn't."""
    sweep = ACTIVE_SWEEPS.get(flow_run.id)
    if sweep is not None:
        sweep.cancel_all()
    if (packed := ACTIVE_PACKS.get(flow_run.id)) is not None:
        packed.cancel_all()


TRAIN_SUMMARY = """Stage data, check the environment, fan the cells out, collect, and write the results table. A dry run
or YAML emission (ticked in a run form too) submits nothing; a sweep with failed cells ends Failed, naming them."""


def _train(**parameters: Any) -> dict[str, Any] | State:
    options = options_from_parameters(parameters)
    prepared = prepared_for(options)
    name_flow_run(prepared.resolved.run)
    if options.dry_run or options.emit_yaml:
        return without_running(prepared)
    return run_sweep(prepared)


_train.__signature__ = flow_signature()  # type: ignore[attr-defined]
_train.__doc__ = flow_docstring(TRAIN_SUMMARY)
train = flow(name="train", description=TRAIN_SUMMARY, on_cancellation=[cancel_on_hook], on_crashed=[cancel_on_hook])(
    _train
)
"""The train flow: one top-level parameter per option (flows/parameters.py)."""


def name_flow_run(run: str) -> None:
    """The flow run is named after its sweep, so the UI's list of runs reads as the list of sweeps; the name is
    known only once the options are resolved, hence a rename rather than Prefect's flow_run_name."""
    from prefect.client.orchestration import get_client
    from prefect.runtime import flow_run

    if flow_run.id is None or flow_run.name == run:
        return
    try:
        with get_client(sync_client=True) as client:
            client.update_flow_run(flow_run.id, name=run)
    except Exception as exc:  # a name is not worth a sweep
        get_run_logger().warning("flow run not renamed to %s: %s", run, exc)


def run_sweep(prepared: PreparedSweep) -> dict[str, Any] | State:
    """The sweep itself, with its engine registered for the cancellation hooks while it runs."""
    from prefect.runtime import flow_run

    resolved = prepared.resolved
    options = resolved.options
    sweep = build_sweep(prepared)
    ACTIVE_SWEEPS[flow_run.id] = sweep
    try:
        stage_data(sweep, upload_inputs(resolved) if options.upload_to else None)
        check_environment(sweep)
        upload_code(sweep)
        try:
            if options.pack:
                pack_out(sweep, options.pack, options.pack_processes, flow_run.id)
            else:
                fan_out(sweep, options.max_concurrent)
        finally:
            extra = {"max_concurrent": options.max_concurrent, "experiment": resolved.spec.experiment}
            summary = write_results(sweep, extra, resolved.objective)
        tracking = None if options.no_mlflow else log_to_mlflow(sweep, options.tracking_uri)
        if options.select:
            plot = plot_sweep(sweep, resolved.objective)
            summary["best"] = select_and_register(
                sweep, resolved.objective, options.register_model, options.model_path, tracking, plot
            )
    finally:
        ACTIVE_SWEEPS.pop(flow_run.id, None)
    return final_state(sweep, summary)


def final_state(sweep: Sweep, summary: dict[str, Any]) -> dict[str, Any] | State:
    """Completed when every cell completed; Failed otherwise, after the results were written, so automations and
    alerts on a failed nightly fire. The summary stays the state's data either way."""
    failed = [cell_id for cell_id, result in sweep.results.items() if result.record.job_state != JobState.COMPLETED]
    if not failed:
        return summary
    shown = ", ".join(sorted(failed)[:10]) + (f" and {len(failed) - 10} more" if len(failed) > 10 else "")
    message = f"{len(failed)} of {summary['cells']} cell(s) did not complete: {shown} (see {sweep.ledger.summary_path})"
    return Failed(message=message, data=summary)


def without_running(prepared: PreparedSweep) -> dict[str, Any]:
    """--dry-run or --emit-yaml from a deployment's run form: the plan (or the YAML files) as an artifact, and
    nothing submitted."""
    options = prepared.resolved.options
    if options.emit_yaml:
        written = emit_yaml(prepared.resolved, Path(options.emit_yaml))
        get_run_logger().info("wrote %d job YAML file(s) to %s", len(written), options.emit_yaml)
        return {"run": prepared.resolved.run, "emitted": [str(path) for path in written]}
    plan = make_plan(prepared)
    create_markdown_artifact(
        markdown=f"```\n{plan.text()}\n```",
        key=artifact_key(prepared.resolved.run, "plan"),
        description=f"Dry run of sweep {prepared.resolved.run}: nothing was submitted",
    )
    get_run_logger().info("dry run: %s; nothing submitted", plan.header)
    return {"run": prepared.resolved.run, "dry_run": True, "cells": len(prepared.resolved.cells)}
