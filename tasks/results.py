"""Prefect tasks that turn a finished sweep into its results table and UI artifacts."""

from __future__ import annotations

import csv
import re
from typing import Any

from prefect import task
from prefect.artifacts import create_markdown_artifact, create_table_artifact
from prefect.cache_policies import NO_CACHE

from rjobs.engine.sweep import Sweep


def artifact_key(run: str, kind: str) -> str:
    """Prefect artifact keys allow lowercase letters, digits and dashes only."""
    return re.sub(r"[^a-z0-9-]+", "-", f"{run}-{kind}".lower()).strip("-")


@task(name="write-results", cache_policy=NO_CACHE)
def write_results(sweep: Sweep, extra: dict[str, Any]) -> dict[str, Any]:
    """summary.csv and run.json from the ledger, then the same table and a summary in the Prefect UI."""
    summary = sweep.finish(extra)
    with sweep.ledger.summary_path.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    create_table_artifact(
        table=rows,
        key=artifact_key(sweep.settings.run, "table"),
        description=f"Sweep {sweep.settings.run}: one row per cell",
    )
    create_markdown_artifact(
        markdown=summary_markdown(summary, rows, str(sweep.ledger.run_dir)),
        key=artifact_key(sweep.settings.run, "summary"),
        description=f"Sweep {sweep.settings.run}",
    )
    return summary


def ui_row(row: dict[str, str]) -> dict[str, str]:
    """Metrics right after the status in the UI table, where a reader looks first; ids and errors last."""
    first = ["cell", "status"]
    metrics = [k for k in row if k.startswith("metric.")]
    params = [k for k in row if k.startswith("param.")]
    rest = [k for k in row if k not in first and k not in metrics and k not in params]
    return {k: row[k] for k in first + metrics + params + rest}


def summary_markdown(summary: dict[str, Any], rows: list[dict[str, str]], run_dir: str) -> str:
    """Counts, where the files are, and the failed cells with the tail of their logs."""
    lines = [
        f"# Sweep `{summary['run']}` on `{summary['backend']}`",
        "",
        "| cells | completed | failed | cancelled | submitted | reused |",
        "|---|---|---|---|---|---|",
        f"| {summary['cells']} | {summary['completed']} | {summary['failed']} | {summary['cancelled']} "
        f"| {summary['submitted']} | {summary['reused']} |",
        "",
        f"Results: `{run_dir}/summary.csv`, per cell `{run_dir}/<cell>/outputs/`.",
    ]
    failed = [r for r in rows if r["status"] not in ("Completed",)]
    if failed:
        lines += ["", "## Cells that did not complete", ""]
        lines += [f"- `{r['cell']}` {r['status']} (attempt {r['attempt']}): {r['error'] or '-'}" for r in failed]
    return "\n".join(lines) + "\n"
