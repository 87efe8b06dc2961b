"""Pick the best cell of a sweep by one metric, from the ledger's records, the same way every time."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

from rjobs.core.states import JobState
from rjobs.engine.ledger import CellRecord
from rjobs.inputs.result_options import Objective, parse_objective


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
