"""The train flow: fan an R job out over a parameter grid, with bounded concurrency, into one results table.

Ad hoc: `python -m flows.train [--grid grid.yml] [--param seed=1,2] ...`; `--help` lists every option.
"""

from __future__ import annotations

import json
import signal
import sys
from collections import deque
from pathlib import Path
from typing import Any
from uuid import UUID

from prefect import flow, get_run_logger
from prefect.futures import PrefectFuture, as_completed

from flows.cli import build_parser, options_from_args
from rjobs.backends import DEFAULT_POLL_INTERVAL, make_backend
from rjobs.errors import InputError
from rjobs.ledger import RunLedger
from rjobs.monitor import JobMonitor
from rjobs.options import ResolvedSweep, SweepOptions, resolve
from rjobs.sweep import CellResult, Sweep, SweepSettings
from tasks.data import upload_data
from tasks.environment import check_environment, stage_data, upload_code
from tasks.jobs import run_cell
from tasks.results import write_results

EXIT_OK, EXIT_FAILED_CELLS, EXIT_BAD_INPUT, EXIT_CANCELLED = 0, 1, 2, 130
ACTIVE_SWEEPS: dict[UUID, Sweep] = {}


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
    return Sweep(
        resolved.spec, resolved.cells, backend, RunLedger(resolved.results_root, resolved.run), settings, monitor
    )


def fan_out(sweep: Sweep, limit: int) -> None:
    """At most `limit` cells in flight; on any interruption every in-flight job is cancelled first."""
    logger = get_run_logger()
    pending = deque(sweep.cells)
    running: dict[PrefectFuture[CellResult], str] = {}
    done = 0
    try:
        while pending or running:
            while pending and len(running) < limit:
                cell_id = pending.popleft()
                running[run_cell.submit(sweep, cell_id)] = cell_id
            finished = next(as_completed(list(running)))
            cell_id = running.pop(finished)
            done += 1
            result = sweep.results.get(cell_id)
            state = result.record.state if result else finished.state.name
            logger.info("[%d/%d] cell %s: %s", done, len(sweep.cells), cell_id, state)
    except BaseException:
        cancelled = sweep.cancel_all()
        logger.warning("interrupted: cancelled %d job(s) in flight", len(cancelled))
        for future in running:
            future.wait(timeout=60)
        raise


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
            summary = write_results(sweep, {"max_concurrent": options.max_concurrent})
    finally:
        ACTIVE_SWEEPS.pop(flow_run.id, None)
    return summary


def print_plan(resolved: ResolvedSweep) -> None:
    """--dry-run: every cell, what would happen to it and the exact command, without running anything."""
    from rjobs.backends.local import LocalBackend

    backend = make_backend(resolved)
    settings = SweepSettings(run=resolved.run, retries=resolved.options.retries)
    sweep = Sweep(
        resolved.spec,
        resolved.cells,
        backend,
        RunLedger(resolved.results_root, resolved.run),
        settings,
        JobMonitor(backend),
    )
    if isinstance(backend, LocalBackend):
        sweep.stage_data()
        for warning in backend.ensure_environment(resolved.spec).warnings:
            print(f"warning: {warning}")
    actions = sweep.plan()
    print(f"run {resolved.run}: {len(resolved.cells)} cell(s) on {backend.name}, results in {sweep.ledger.run_dir}")
    for cell_id, action in actions.items():
        job = sweep.cell_job(sweep.cells[cell_id], 1)
        print(f"  {cell_id} [{action}] {json.dumps(dict(job.params), ensure_ascii=False)}")
        print(f"    {plan_command(sweep, job)}")


def plan_command(sweep: Sweep, job: Any) -> str:
    """The command as the backend would run it: argv joined with shell quoting for display."""
    import shlex

    from rjobs.command import format_value, render_argv

    values = {
        name: format_value(spec.value) if spec.is_literal else str(spec.path)
        for name, spec in job.inputs.items()
        if spec.is_literal or spec.path is not None
    }
    for name, spec in job.inputs.items():
        if spec.is_local:
            values[name] = str(sweep.spec.local_path(spec))
    outputs = {name: f"outputs/{name}" for name in sweep.spec.outputs}
    return shlex.join(render_argv(sweep.spec, values, outputs))


def emit_yaml(resolved: ResolvedSweep, folder: Path) -> list[Path]:
    """One command-job YAML per cell for `az ml job create -f`: the n YAML files, meta-programmed."""
    from rjobs.backends.azureml_jobs import emit_job_yaml
    from rjobs.backends.local import LocalBackend

    environment = resolved.spec.environment
    if not isinstance(environment, str):
        raise InputError(resolved.spec.source, "environment", "is not a reference", "use azureml:<name>@latest")
    backend = LocalBackend(check_packages=False)
    sweep = Sweep(
        resolved.spec,
        resolved.cells,
        backend,
        RunLedger(resolved.results_root, resolved.run),
        SweepSettings(run=resolved.run),
        JobMonitor(backend),
    )
    return [
        emit_job_yaml(sweep.cell_job(cell, 1), environment, None, folder / f"{resolved.run}-{cell_id}.yml")
        for cell_id, cell in sweep.cells.items()
    ]


def print_table(run_dir: Path) -> None:
    """The summary table, short enough for a terminal: status, attempt, params and metrics."""
    import pandas as pd

    table = pd.read_csv(run_dir / "summary.csv", dtype=str, keep_default_na=False)
    shown = table.drop(columns=["job_name", "error"]).rename(columns=lambda c: c.split(".", 1)[-1])
    print(shown.to_string(index=False, max_colwidth=40))
    for _, row in table[table["status"] != "Completed"].iterrows():
        print(f"\n{row['cell']} {row['status']}: {row['error'] or '-'}")


def _raise_interrupt(signum: int, _frame: Any) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def main(argv: list[str] | None = None) -> int:
    """Validate everything first (exit 2 on bad input), run the flow, print the table, exit 0/1/130."""
    parser = build_parser("python -m flows.train", __doc__.splitlines()[0])
    try:
        options = options_from_args(parser.parse_args(argv))
        resolved = resolve(options)
        if options.dry_run:
            print_plan(resolved)
            return EXIT_OK
        if options.emit_yaml:
            written = emit_yaml(resolved, Path(options.emit_yaml))
            print(f"wrote {len(written)} job YAML file(s) to {options.emit_yaml}; submit each with az ml job create -f")
            return EXIT_OK
        if options.backend == "local":
            backend = make_backend(resolved)
            backend.ensure_data(resolved.spec)
            backend.ensure_environment(resolved.spec)
    except InputError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except ValueError as exc:
        print(f"error: {str(exc).splitlines()[0]}", file=sys.stderr)
        return EXIT_BAD_INPUT
    signal.signal(signal.SIGTERM, _raise_interrupt)
    try:
        state = train(options, return_state=True)
    except KeyboardInterrupt:
        print("cancelled: in-flight jobs were cancelled; re-run with the same --run-name to continue", file=sys.stderr)
        return EXIT_CANCELLED
    run_dir = Path(options.results).resolve() / resolved.run
    if state.is_failed() or state.is_crashed():
        error = state.result(raise_on_failure=False)
        if isinstance(error, InputError):
            print(f"error: {error}", file=sys.stderr)
            return EXIT_BAD_INPUT
        if not (run_dir / "run.json").is_file():
            print(f"error: the flow failed: {error}", file=sys.stderr)
            return EXIT_FAILED_CELLS
    if state.is_cancelled():
        return EXIT_CANCELLED
    summary = json.loads((run_dir / "run.json").read_text())
    print_table(run_dir)
    print(
        f"\nrun {summary['run']}: {summary['completed']}/{summary['cells']} completed, {summary['failed']} failed, "
        f"{summary['cancelled']} cancelled; submitted {summary['submitted']}, reused {summary['reused']}"
    )
    print(f"results: {run_dir / 'summary.csv'}")
    if summary["cancelled"]:
        return EXIT_CANCELLED
    return EXIT_OK if summary["failed"] == 0 and summary["completed"] == summary["cells"] else EXIT_FAILED_CELLS


if __name__ == "__main__":
    sys.exit(main())
