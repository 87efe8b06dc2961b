"""Pick the best cell of a sweep by one metric, from the ledger's records, the same way every time."""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal

from rjobs.core.errors import InputError
from rjobs.core.states import JobState
from rjobs.engine.ledger import CellRecord

GOALS = ("min", "max")
SPEC = re.compile(r"^\s*(?P<metric>[^:\s][^:]*?)\s*:\s*(?P<goal>[A-Za-z]+)\s*$")
SPEC_FIX = "write METRIC:min or METRIC:max with a metric of metrics.json, e.g. rmse:min or r2:max"


class NoEligibleCellError(Exception):
    """No completed cell has the metric to select by (the CLIs exit 1: the sweep gave nothing to pick)."""

    exit_code = 1

    def __init__(self, metric: str, completed: int, lacking: int, known: Sequence[str] = ()) -> None:
        self.metric, self.completed, self.lacking, self.known = metric, completed, lacking, tuple(known)
        if completed == 0:
            detail = "no cell completed"
        else:
            detail = f"{lacking} of {completed} completed cell(s) had no value for it"  # NaN counts as none
        seen = f"; metrics seen: {', '.join(known)}" if known else ""
        super().__init__(f"no cell to select by metric {metric!r}: {detail}{seen}")


@dataclass(frozen=True)
class Objective:
    """A parsed `metric:min|max`; str() gives the canonical spelling back."""

    metric: str
    goal: Literal["min", "max"]

    def __str__(self) -> str:
        return f"{self.metric}:{self.goal}"

    def better(self, a: float, b: float) -> bool:
        return a < b if self.goal == "min" else a > b


def parse_objective(spec: str | Objective, option: str = "--select") -> Objective:
    """`rmse:min` -> Objective; anything else is an InputError that says how to write it."""
    if isinstance(spec, Objective):
        return spec
    match = SPEC.match(spec) if isinstance(spec, str) else None
    if match is None:
        raise InputError(option, repr(spec), "is not METRIC:min or METRIC:max", SPEC_FIX)
    goal = match["goal"].lower()
    if goal not in GOALS:
        raise InputError(option, repr(spec), f"has goal {match['goal']!r}, not min or max", SPEC_FIX)
    return Objective(match["metric"], goal)  # type: ignore[arg-type]


def metric_value(record: CellRecord, metric: str) -> float | None:
    """The cell's finite value of the metric, or None (NaN and infinities cannot be ranked)."""
    value = record.metrics.get(metric)
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        return None
    return float(value)


def eligible(records: Iterable[CellRecord], objective: str | Objective) -> list[tuple[CellRecord, float]]:
    """Completed cells with a finite value of the metric, with that value (failed cells never count)."""
    metric = parse_objective(objective).metric
    found = []
    for record in records:
        if record.job_state != JobState.COMPLETED:
            continue
        value = metric_value(record, metric)
        if value is not None:
            found.append((record, value))
    return found


def select_best(
    records: Iterable[CellRecord], objective: str | Objective, *, required: bool = True
) -> CellRecord | None:
    """The best eligible cell, ties to the smallest cell id; none eligible raises (or is None if not required)."""
    chosen = parse_objective(objective)
    records = list(records)
    candidates = eligible(records, chosen)
    if not candidates:
        if not required:
            return None
        completed = [r for r in records if r.job_state == JobState.COMPLETED]
        known = sorted({name for r in completed for name in r.metrics})
        raise NoEligibleCellError(chosen.metric, len(completed), len(completed), known)
    sign = 1.0 if chosen.goal == "min" else -1.0
    return min(candidates, key=lambda pair: (sign * pair[1], pair[0].cell))[0]
