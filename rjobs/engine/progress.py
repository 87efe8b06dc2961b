"""A sweep's progress as counts of cells per state, fed by the job monitor's transitions and by finished cells, read
by whatever shows it (a terminal bar, a Prefect progress artifact) from another thread."""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

from rjobs.core.states import JobState

WAITING = "Waiting"
REUSED = "Reused"


@dataclass(frozen=True)
class ProgressSnapshot:
    """Counts at one moment: cells per state, how many are done, of how many, and an estimate of the time left."""

    counts: dict[str, int]
    done: int
    total: int
    elapsed_s: float
    remaining_s: float | None

    def line(self) -> str:
        """`7/12 done: 5 Completed, 2 Reused, 2 Running, 3 Waiting`, for logs and artifacts."""
        counts = ", ".join(f"{n} {state}" for state, n in sorted(self.counts.items(), key=_state_order) if n)
        return f"{self.done}/{self.total} done: {counts}"


def _state_order(item: tuple[str, int]) -> tuple[int, str]:
    order = [JobState.COMPLETED.value, REUSED, JobState.FAILED.value, JobState.CANCELED.value, JobState.RUNNING.value]
    return (order.index(item[0]) if item[0] in order else len(order), item[0])


class SweepProgress:
    """Thread-safe: the monitor's threads write, a display reads. Time left is estimated from the cells that ran
    (reused ones cost nothing), so a resumed sweep is not predicted to finish at once."""

    def __init__(self, cell_ids: list[str], clock: Callable[[], float] = time.monotonic) -> None:
        self._state = dict.fromkeys(cell_ids, WAITING)
        self._done: set[str] = set()
        self._ran = 0
        self._clock = clock
        self._started = clock()
        self._lock = threading.Lock()

    def transition(self, cell_id: str, state: JobState) -> None:
        """A job of the cell changed state (Queued, Running, ...); its final state comes from finished()."""
        with self._lock:
            if cell_id in self._state and cell_id not in self._done:
                self._state[cell_id] = state.value

    def finished(self, cell_id: str, state: JobState, reused: bool) -> None:
        with self._lock:
            if cell_id not in self._state or cell_id in self._done:
                return
            self._state[cell_id] = REUSED if reused and state == JobState.COMPLETED else state.value
            self._done.add(cell_id)
            self._ran += 0 if reused else 1

    def snapshot(self) -> ProgressSnapshot:
        with self._lock:
            counts = dict(Counter(self._state.values()))
            done, total, ran = len(self._done), len(self._state), self._ran
        elapsed = self._clock() - self._started
        left = total - done
        remaining = 0.0 if left == 0 else (elapsed / ran * left if ran else None)
        return ProgressSnapshot(counts, done, total, elapsed, remaining)
