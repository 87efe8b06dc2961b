"""The ONE way a parameter value becomes text: R's argv, Azure tags, summary.csv, plots and MLflow params agree."""

from __future__ import annotations

from typing import Any


def value_text(value: Any) -> str:
    """What R receives for a value: booleans as R's optparse reads them (true/false), numbers as written, None as
    empty. Every other place that shows a value uses this too, so a cell reads the same everywhere."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
