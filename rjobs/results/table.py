"""A sweep's summary as a terminal table, shared by the train and results commands."""

from __future__ import annotations

from rjobs.engine.ledger import RunLedger

HIDDEN_COLUMNS = ("job_name", "error", "reused_from")


def format_table(ledger: RunLedger, best: str | None = None) -> str:
    """summary.csv for a terminal: no job names or errors, short column names, metrics to 4 significant digits."""
    import pandas as pd

    table = pd.read_csv(ledger.summary_path, keep_default_na=False, na_values=[""], converters={"error": str})
    shown = table.drop(columns=[c for c in HIDDEN_COLUMNS if c in table.columns])
    shown = shown.rename(columns=lambda c: c.split(".", 1)[-1])
    if best is not None:
        shown.insert(0, "best", ["*" if cell == best else "" for cell in table["cell"]])
    text = shown.to_string(index=False, max_colwidth=40, na_rep="-", float_format=lambda v: f"{v:.4g}")
    notes = [
        f"{row['cell']} {row['status']}: {row.get('error') or '-'}"
        for _, row in table.iterrows()
        if row["status"] != "Completed"
    ]
    return "\n".join([text, *(["", *notes] if notes else [])])
