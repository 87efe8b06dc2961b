"""A sweep's progress where people look: the Prefect progress artifact (moves as cells finish) and, for the CLI, the
SweepProgress its terminal bar reads. Per-cell log lines are marked so a terminal showing the bar can leave them to
the log file and the UI."""

from __future__ import annotations

import logging
from contextvars import ContextVar
from typing import Any
from uuid import UUID

from prefect.artifacts import create_progress_artifact, update_progress_artifact

from rjobs.core.naming import cell_of_job
from rjobs.engine.progress import ProgressSnapshot, SweepProgress
from tasks.results import artifact_key

PER_CELL = {"rjobs_per_cell": True}
"""`extra` of a log line that is about one cell: on a terminal with a progress bar it goes to the UI only."""

SHOWN: ContextVar[SweepProgress | None] = ContextVar("shown_progress", default=None)
"""Set by the CLI when a terminal shows the sweep's progress; the flow feeds that object."""


def progress_for(cell_ids: list[str]) -> SweepProgress:
    """The progress the CLI shows, or one of the flow's own (for the artifact)."""
    return SHOWN.get() or SweepProgress(cell_ids)


def transition_logger(run: str, progress: SweepProgress, logger: Any) -> Any:
    """The monitor's transition callback: one per-cell log line, and the cell's state in the progress."""

    def on_transition(handle: Any, previous: Any, status: Any) -> None:
        progress.transition(cell_of_job(run, handle.job_name), status.state)
        where = f" {status.url}" if status.url else ""
        logger.info("job %s: %s -> %s%s", handle.job_name, previous or "found", status.state, where, extra=PER_CELL)

    return on_transition


class ProgressArtifact:
    """The sweep's progress artifact in the Prefect UI, its description the counts per state; updates that fail
    (a server restarting) are logged, never fatal to the sweep."""

    def __init__(self, run: str, progress: SweepProgress) -> None:
        self.progress = progress
        self.artifact_id: UUID | None = None
        self.key = artifact_key(run, "progress")
        self.last = -1

    def start(self) -> None:
        snapshot = self.progress.snapshot()
        self.artifact_id = create_progress_artifact(percent(snapshot), key=self.key, description=snapshot.line())
        self.last = snapshot.done

    def update(self) -> None:
        snapshot = self.progress.snapshot()
        if self.artifact_id is None or snapshot.done == self.last:
            return
        try:
            update_progress_artifact(self.artifact_id, percent(snapshot), description=snapshot.line())
            self.last = snapshot.done
        except Exception as exc:  # the UI's view is not worth a sweep
            logging.getLogger(__name__).warning("progress artifact not updated: %s", exc)


def percent(snapshot: ProgressSnapshot) -> float:
    return 100.0 * snapshot.done / snapshot.total if snapshot.total else 100.0
