"""Prefect tasks that turn a finished sweep into its results table and UI artifacts."""

from __future__ import annotations

import csv
import re
from typing import Any

from prefect import task
from prefect.artifacts import create_link_artifact, create_markdown_artifact, create_table_artifact
from prefect.cache_policies import NO_CACHE

from rjobs.engine.sweep import Sweep
from rjobs.inputs.result_options import Objective
from rjobs.results.presentation import display_rows
from rjobs.results.selection import select_best


def artifact_key(run: str, kind: str) -> str:
    """Prefect artifact keys allow lowercase letters, digits and dashes only."""
    return re.sub(r"[^a-z0-9-]+", "-", f"{run}-{kind}".lower()).strip("-")


MAX_LINK_ARTIFACTS = 50
"""Link artifacts to jobs' pages, one per cell up to this many (the summary links every job anyway)."""


@task(name="write-results", cache_policy=NO_CACHE)
def write_results(sweep: Sweep, extra: dict[str, Any], objective: Objective | None = None) -> dict[str, Any]:
    """summary.csv and run.json from the ledger, then in the Prefect UI: the table best first (metrics first and
    rounded, the best cell marked), a summary linking each job's page, and a link artifact per job page."""
    summary = sweep.finish(extra)
    with sweep.ledger.summary_path.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    records = sweep.ledger.records()
    best = select_best(records, objective, required=False) if objective is not None else None
    run = sweep.settings.run
    create_table_artifact(
        table=display_rows(rows, objective, best.cell if best else None),
        key=artifact_key(run, "table"),
        description=f"Sweep {run}: one row per cell" + (f", best by {objective} first (★)" if objective else ""),
    )
    urls = {r.cell: r.url for r in records if r.url}
    create_markdown_artifact(
        markdown=summary_markdown(summary, rows, str(sweep.ledger.run_dir), urls),
        key=artifact_key(run, "summary"),
        description=f"Sweep {run}",
    )
    for cell, url in sorted(urls.items())[:MAX_LINK_ARTIFACTS]:
        create_link_artifact(link=url, link_text=f"job of cell {cell}", key=artifact_key(run, f"job-{cell}"))
    return summary


def summary_markdown(
    summary: dict[str, Any], rows: list[dict[str, str]], run_dir: str, urls: dict[str, str] | None = None
) -> str:
    """Counts, where the files are, each job's page, cells reused from other sweeps, and the failed cells with the
    tail of their logs."""
    urls = urls or {}
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
    if urls:
        lines += ["", "## Jobs", ""]
        lines += [
            f"- `{r['cell']}` {r['status']}: [{r['job_name']}]({urls[r['cell']]})" for r in rows if r["cell"] in urls
        ]
    reused = [r for r in rows if r.get("reused_from")]
    if reused:
        lines += ["", f"## Reused from earlier sweeps ({len(reused)}): same code, data, environment and parameters", ""]
        lines += [f"- `{r['cell']}` from sweep `{r['reused_from']}`" for r in reused]
    failed = [r for r in rows if r["status"] not in ("Completed",)]
    if failed:
        lines += ["", "## Cells that did not complete", ""]
        lines += [f"- `{r['cell']}` {r['status']} (attempt {r['attempt']}): {r['error'] or '-'}" for r in failed]
    return "\n".join(lines) + "\n"
