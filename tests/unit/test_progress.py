"""SweepProgress: counts per state as jobs move and cells finish; time left from the cells that ran."""

from __future__ import annotations

from rjobs.core.states import JobState
from rjobs.engine.progress import SweepProgress


def test_counts_move_with_transitions_and_finished_cells() -> None:
    now = [0.0]
    progress = SweepProgress(["a", "b", "c", "d"], clock=lambda: now[0])
    assert progress.snapshot().line() == "0/4 done: 4 Waiting"
    assert progress.snapshot().remaining_s is None

    progress.finished("a", JobState.COMPLETED, reused=True)
    progress.transition("b", JobState.RUNNING)
    assert progress.snapshot().remaining_s is None, "a reused cell says nothing about how long one takes"
    now[0] = 10.0
    progress.finished("b", JobState.COMPLETED, reused=False)
    progress.transition("b", JobState.RUNNING)  # a late transition never undoes a finished cell
    progress.finished("c", JobState.FAILED, reused=False)

    snapshot = progress.snapshot()
    assert snapshot.line() == "3/4 done: 1 Completed, 1 Reused, 1 Failed, 1 Waiting"
    assert snapshot.remaining_s == 5.0  # 10 s for the 2 cells that ran, 1 cell left
    progress.finished("d", JobState.COMPLETED, reused=False)
    assert progress.snapshot().remaining_s == 0.0


def test_unknown_cells_are_ignored() -> None:
    progress = SweepProgress(["a"])
    progress.transition("zzz", JobState.RUNNING)
    progress.finished("zzz", JobState.COMPLETED, reused=False)
    assert progress.snapshot().line() == "0/1 done: 1 Waiting"
