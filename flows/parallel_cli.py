"""`python -m flows.train --job parallel-job.yml`: a `type: parallel` job validated and split before Prefect starts
(bad input exits 2), then the parallel flow, the batch table and the exit code (0 within the thresholds, 1 past
them, 130 when interrupted)."""

from __future__ import annotations

import csv
import json
import sys
from pathlib import Path
from typing import Any

from flows.launch import EXIT_CANCELLED, EXIT_FAILED_CELLS, EXIT_OK, bad_input, run_handed_over
from flows.temporary_server import TemporaryServer
from rjobs.core.errors import InputError
from rjobs.inputs.options import SweepOptions
from rjobs.parallel.summary import exit_code, failed_list_path
from rjobs.parallel.wiring import PreparedParallel, prepare_parallel

SHOWN_ROWS = 30


def print_plan(prepared: PreparedParallel) -> None:
    """--dry-run: the batches and the command each runs, nothing started."""
    job = prepared.job
    items = sum(batch.items for batch in prepared.batches)
    print(f"run {prepared.run}: {len(prepared.batches)} batch(es) of {items} item(s), {job.concurrency} at once")
    print(f"each batch runs: {job.batch_spec.command}")
    for batch in prepared.batches[:SHOWN_ROWS]:
        print(f"  {batch.batch_id}  {batch.items:>8} item(s)  {' '.join(batch.partition_args)}  {batch.path}")
    if len(prepared.batches) > SHOWN_ROWS:
        print(f"  ... and {len(prepared.batches) - SHOWN_ROWS} more")


def print_table(run_dir: Path) -> None:
    """The first rows of summary.csv (one per batch) and where the rest is."""
    with (run_dir / "summary.csv").open(newline="", encoding="utf-8") as handle:
        rows = list(csv.reader(handle))
    widths = [max(len(row[i]) for row in rows[: SHOWN_ROWS + 1]) for i in range(len(rows[0]) - 1)]
    for row in rows[: SHOWN_ROWS + 1]:
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=False)), row[-1][:80])
    if len(rows) > SHOWN_ROWS + 1:
        print(f"... {len(rows) - SHOWN_ROWS - 1} more batch(es) in {run_dir / 'summary.csv'}")


def main(options: SweepOptions) -> int:
    """Validate and split (exit 2 on bad input), run the flow, print the batch table, exit 0/1/130."""
    try:
        prepared = prepare_parallel(options)
        if options.dry_run:
            print_plan(prepared)
            return EXIT_OK
        server = TemporaryServer.start_unless_configured()
        if not prepared.backend.remote:
            prepared.backend.ensure_data(prepared.resolved.spec)
            prepared.backend.ensure_environment(prepared.resolved.spec)
    except InputError as exc:
        return bad_input(exc)
    return run_flow(prepared, server)


def run_flow(prepared: PreparedParallel, server: TemporaryServer | None) -> int:
    """The parallel flow with the prepared split handed over, then the table and the exit code."""
    from flows.parallel_flow import HANDED_OVER, parallel

    state = run_handed_over(
        lambda: parallel(prepared.resolved.options, return_state=True), HANDED_OVER, prepared, server, "batches"
    )
    return state if isinstance(state, int) else report(prepared, state)


def report(prepared: PreparedParallel, state: Any) -> int:
    """The batch table and the run's counts; 0 within the thresholds, 1 past them, 130 when cancelled."""
    run_dir = Path(prepared.resolved.options.results).resolve() / prepared.run
    if not (run_dir / "run.json").is_file():
        print(f"error: the flow failed: {state.result(raise_on_failure=False)}", file=sys.stderr)
        return EXIT_FAILED_CELLS
    summary = json.loads((run_dir / "run.json").read_text())
    print_table(run_dir)
    print(
        f"\nrun {summary['run']}: {summary['completed']}/{summary['batches']} batches completed, "
        f"{len(summary['failed_batches'])} failed, {summary['failed_items']} failed item(s); "
        f"submitted {summary['submitted']}, reused {summary['reused']}"
    )
    if summary["failed_items"]:
        print(f"failed items: {failed_list_path(run_dir)}")
    if summary["output"]:
        print(f"rows: {summary['output']} ({summary['rows']} rows)")
    if summary["stopped"]:
        print(f"error: stopped: {summary['stopped']}; failed batches: {', '.join(summary['failed_batches'])}")
    if summary["cancelled"] and not summary["stopped"]:
        return EXIT_CANCELLED
    return exit_code(summary)
