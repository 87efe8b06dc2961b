"""A sweep's rows as a person reads them, in the terminal and the Prefect UI alike: best first by the selected
metric, metrics right after the status and rounded, the best cell marked, ids and errors last."""

from __future__ import annotations

import math

from rjobs.inputs.result_options import Objective


def sorted_rows(rows: list[dict[str, str]], objective: Objective | None) -> list[dict[str, str]]:
    """Best first by the selected metric (cells without it last, in their order), else as summary.csv lists them."""
    if objective is None:
        return rows
    column = f"metric.{objective.metric}"

    def key(row: dict[str, str]) -> tuple[int, float]:
        value = number(row.get(column, ""))
        if value is None:
            return (1, 0.0)
        return (0, value if objective.goal == "min" else -value)

    return sorted(rows, key=key)


def number(text: str) -> float | None:
    try:
        value = float(text)
    except ValueError:
        return None
    return None if math.isnan(value) else value


def short_number(text: str) -> str:
    """4 significant digits: enough to rank cells, short enough to keep every column on screen."""
    value = number(text)
    return f"{value:.4g}" if value is not None else (text or "-")


def metric_columns(row: dict[str, str], objective: Objective | None) -> list[str]:
    """The metric columns, the selected one first."""
    metrics = [c for c in row if c.startswith("metric.")]
    if objective is not None and f"metric.{objective.metric}" in metrics:
        metrics.remove(f"metric.{objective.metric}")
        metrics.insert(0, f"metric.{objective.metric}")
    return metrics


def display_rows(rows: list[dict[str, str]], objective: Objective | None, best: str | None) -> list[dict[str, str]]:
    """Rows for a UI table: best mark, cell, status, rounded metrics, parameters, then the rest."""
    shown = []
    for row in sorted_rows(rows, objective):
        metrics = metric_columns(row, objective)
        params = [c for c in row if c.startswith("param.")]
        first = {"best": "★" if row["cell"] == best else "", "cell": row["cell"], "status": row["status"]}
        first.update({c.split(".", 1)[1]: short_number(row[c]) for c in metrics})
        first.update({c.split(".", 1)[1]: row[c] for c in params})
        rest = {k: v for k, v in row.items() if k not in first and k not in metrics and k not in params}
        shown.append({**first, **rest})
    return shown
