"""Intermediate metrics a job appends while it runs: `outputs/metrics.jsonl`, one `{"step": n, "<metric>": v}` a
line. Read by backends (while the job runs) and by the search's early termination (after it ran)."""

from __future__ import annotations

import json
import math
from pathlib import Path

from rjobs.core.safe_files import open_regular

STEP_METRICS_FILE = "metrics.jsonl"
MAX_STEP_BYTES = 8 * 1024 * 1024
"""More intermediate metrics than any policy needs; past it the rest of the file is ignored."""


def parse_step_lines(text: str) -> list[dict[str, float]]:
    """Whole lines that are JSON objects with an integer `step` and numeric metrics, in file order; a line being
    written (no newline yet) or not of that shape is skipped, never a crash: the job writes while we read."""
    steps: list[dict[str, float]] = []
    for line in text.split("\n")[:-1]:
        try:
            raw = json.loads(line)
        except ValueError:
            continue
        if not isinstance(raw, dict) or isinstance(raw.get("step"), bool) or not isinstance(raw.get("step"), int):
            continue
        entry = {"step": float(raw["step"])}
        for name, value in raw.items():
            numeric = isinstance(value, int | float) and not isinstance(value, bool)
            if name != "step" and numeric and math.isfinite(float(value)):
                entry[str(name)] = float(value)
        steps.append(entry)
    return steps


def read_step_metrics(path: Path) -> list[dict[str, float]]:
    """The step metrics of a metrics.jsonl, or none when it is absent, special or not readable yet."""
    try:
        with open_regular(path) as handle:
            data = handle.read(MAX_STEP_BYTES)
    except OSError:
        return []
    return parse_step_lines(data.decode("utf-8", errors="replace"))
