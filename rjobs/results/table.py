"""A sweep's summary as a terminal table, shared by the train and results commands."""

from __future__ import annotations

import math
from typing import Any

from rjobs.engine.ledger import RunLedger
from rjobs.inputs.result_options import Objective

HIDDEN_COLUMNS = ("job_name", "error", "reused_from")


def format_table(ledger: RunLedger, best: str | None = None, objective: Objective | None = None) -> str:
    """summary.csv for a terminal: no job names or errors, short column names, metrics to 4 significant digits, best
    first by the objective's metric (cells without it last) when one is given."""
    import pandas as pd

    table = pd.read_csv(ledger.summary_path, keep_default_na=False, na_values=[""], converters={"error": str})
    if objective is not None and f"metric.{objective.metric}" in table.columns:
        ascending = objective.goal == "min"
        table = table.sort_values(f"metric.{objective.metric}", ascending=ascending, na_position="last", kind="stable")
    shown = table.drop(columns=[c for c in HIDDEN_COLUMNS if c in table.columns])
    shown = shown.rename(columns=lambda c: c.split(".", 1)[-1])
    if best is not None:
        shown.insert(0, "best", ["*" if cell == best else "" for cell in table["cell"]])
    text = shown.to_string(index=False, max_colwidth=40, na_rep="-", float_format=lambda v: f"{v:.4g}")
    notes = failure_notes(row for _, row in table.iterrows())
    return "\n".join([text, *(["", *notes] if notes else [])])


def failure_notes(rows: Any) -> list[str]:
    """A line per cell that did not complete: its status and the end of its error."""
    return [
        f"{row['cell']} {row['status']}: {_text(row.get('error')) or '-'}"
        for row in rows
        if row["status"] != "Completed"
    ]


def _text(value: Any) -> str:
    return "" if value is None or (isinstance(value, float) and math.isnan(value)) else str(value)
