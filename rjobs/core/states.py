"""One vocabulary of job states for every backend, so the orchestrator never compares service strings."""

from __future__ import annotations

from enum import StrEnum


class JobState(StrEnum):
    """A job's lifecycle state; values are azure-ai-ml's status strings, plus our own Absent and Lost."""

    NOT_STARTED = "NotStarted"
    STARTING = "Starting"
    PROVISIONING = "Provisioning"
    PREPARING = "Preparing"
    QUEUED = "Queued"
    RUNNING = "Running"
    FINALIZING = "Finalizing"
    CANCEL_REQUESTED = "CancelRequested"
    COMPLETED = "Completed"
    FAILED = "Failed"
    CANCELED = "Canceled"
    NOT_RESPONDING = "NotResponding"
    PAUSED = "Paused"
    ABSENT = "Absent"
    LOST = "Lost"

    @property
    def terminal(self) -> bool:
        """True once the job will not change state without our intervention."""
        return self in TERMINAL

    @property
    def failed(self) -> bool:
        """True for terminal states that did not complete and were not cancelled by us."""
        return self in FAILED


TERMINAL: frozenset[JobState] = frozenset(
    {
        JobState.COMPLETED,
        JobState.FAILED,
        JobState.CANCELED,
        JobState.NOT_RESPONDING,
        JobState.PAUSED,
        JobState.LOST,
    }
)
"""NotResponding and Paused end a job for us: nobody resumes it, so waiting on it would hang the sweep."""

FAILED: frozenset[JobState] = frozenset({JobState.FAILED, JobState.NOT_RESPONDING, JobState.PAUSED, JobState.LOST})

STALLED: frozenset[JobState] = frozenset({JobState.NOT_RESPONDING, JobState.PAUSED})
"""Terminal for waiting, not for the service: such a job can return to Running, and a cancel still stops it."""

_BY_LOWER = {s.value.lower(): s for s in JobState}


def parse_state(value: str | None) -> JobState:
    """Map a service status string to a JobState; unknown strings raise, so a new service state is noticed."""
    if value is None:
        return JobState.NOT_STARTED
    try:
        return _BY_LOWER[value.strip().lower()]
    except KeyError:
        raise ValueError(f"unknown job status {value!r}: add it to rjobs/core/states.py") from None
