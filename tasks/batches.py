"""Prefect tasks of the parallel step, thin: the engine (rjobs.parallel) runs the batches and writes the results."""

from __future__ import annotations

from typing import Any

from prefect import get_run_logger, task
from prefect.artifacts import create_table_artifact
from prefect.cache_policies import NO_CACHE

from rjobs.engine.sweep import CellResult
from rjobs.parallel.engine import ParallelRun
from rjobs.parallel.summary import finish
from tasks.results import artifact_key

SHOWN_ROWS = 200


@task(name="run-batches", cache_policy=NO_CACHE)
def run_batches(run: ParallelRun) -> str:
    """Every batch with the job's concurrency, one log line per batch; returns why it stopped early ('' if not)."""
    logger = get_run_logger()
    total, done = len(run.batches), [0]

    def on_done(result: CellResult) -> None:
        done[0] += 1
        record = result.record
        logger.info("[%d/%d] batch %s: %s (%s)", done[0], total, record.cell, record.state, result.outcome.value)

    run.run(on_done)
    if run.stopped:
        logger.error("stopped: %s", run.stopped)
    return run.stopped


@task(name="write-batch-results", cache_policy=NO_CACHE)
def write_batch_results(run: ParallelRun) -> dict[str, Any]:
    """summary.csv (one row per batch), the appended output and run.json; the batch table as an artifact."""
    import csv

    summary = finish(run)
    with run.sweep.ledger.summary_path.open(newline="", encoding="utf-8") as handle:
        rows = [row for _, row in zip(range(SHOWN_ROWS), csv.DictReader(handle), strict=False)]
    create_table_artifact(
        table=rows,
        key=artifact_key(summary["run"], "batches"),
        description=f"Batches of parallel run {summary['run']} (first {SHOWN_ROWS})",
    )
    return summary
