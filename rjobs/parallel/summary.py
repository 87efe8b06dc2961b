"""A parallel run's results: summary.csv with one row per batch, the appended output, the failed items, run.json."""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

from rjobs.core.files import atomic_write_text
from rjobs.core.states import JobState
from rjobs.parallel.appending import FAILED_ITEMS_FILE, ROWS_FILE, append_rows, read_lines
from rjobs.parallel.engine import ParallelRun

HEADER = ["batch", "status", "attempt", "job_name", "items", "failed_items", "rows", "seconds", "partition", "error"]
FAILED_LIST = "failed_items.txt"


def finish(run: ParallelRun) -> dict[str, Any]:
    """Write every result of the run (resumed batches included) and return run.json's content."""
    sweep, ledger = run.sweep, run.sweep.ledger
    summary = sweep.finish()
    records = {batch_id: ledger.load(batch_id) for batch_id in run.batches}
    completed = [b for b, r in records.items() if r is not None and r.job_state == JobState.COMPLETED and r.collected]
    appended: dict[str, int] = {}
    output = None
    if run.job.append_row_to:
        output = ledger.run_dir / f"{run.job.append_row_to}.csv"
        appended = append_rows([(b, ledger.outputs_dir(b) / ROWS_FILE) for b in completed], output)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(HEADER)
    failed_lines: list[str] = []
    failed_batches, failed_items = [], 0
    for batch_id, batch in run.batches.items():
        record = records[batch_id]
        state = record.state if record is not None else JobState.ABSENT.value
        failed = run.failed_items(batch_id, record) if record is not None else 0
        failed_items += failed
        if record is not None and record.job_state.failed:
            failed_batches.append(batch_id)
            failed_lines.append(f"{batch_id}\t(all {batch.items} items: the batch failed)")
        elif failed:
            failed_lines += [
                f"{batch_id}\t{line}" for line in read_lines(ledger.outputs_dir(batch_id) / FAILED_ITEMS_FILE)
            ]
        rows = appended.get(batch_id, run.rows(batch_id) if batch_id in completed else 0)
        seconds = "" if record is None or record.duration_s is None else f"{record.duration_s:.3f}"
        error = " | ".join(record.error.strip().splitlines()[-3:]) if record is not None and record.error else ""
        writer.writerow(
            [
                batch_id,
                state,
                record.attempt if record else 0,
                record.job_name if record else "",
                batch.items,
                failed,
                rows,
                seconds,
                ";".join(batch.partition_args),
                error,
            ]
        )
    atomic_write_text(ledger.summary_path, buffer.getvalue())
    atomic_write_text(ledger.run_dir / FAILED_LIST, "".join(f"{line}\n" for line in failed_lines))
    summary.update(
        {
            "batches": len(run.batches),
            "items": sum(batch.items for batch in run.batches.values()),
            "failed_batches": failed_batches,
            "failed_items": failed_items,
            "rows": sum(appended.values()),
            "output": str(output) if output else None,
            "stopped": run.stopped,
        }
    )
    ledger.write_run(summary)
    return summary


def exit_code(summary: dict[str, Any]) -> int:
    """0 within the thresholds (failed items listed, not fatal); 1 when they were crossed or batches never ran."""
    if summary["stopped"]:
        return 1
    unfinished = summary["cells"] - summary["completed"] - len(summary["failed_batches"])
    return 1 if unfinished else 0


def failed_list_path(run_dir: Path) -> Path:
    return run_dir / FAILED_LIST
