"""Jobs that stopped answering (NotResponding) or were paused. The service documents that such a job can return to
Running, so resubmitting at once could leave two paid jobs running one cell: wait for it to come back, and past
that, cancel it and see it stop before the cell is retried."""

from __future__ import annotations

import logging
from collections.abc import Callable

from rjobs.backends.base import JobHandle, JobStatus
from rjobs.core.errors import JobTimedOutError, TransientBackendError
from rjobs.core.states import STALLED, JobState
from rjobs.engine.monitor import JobMonitor

log = logging.getLogger(__name__)

RECOVERY_WAIT_S = 900.0
"""How long a stalled job is given to come back on its own before it is cancelled."""
CANCEL_WAIT_S = 300.0
"""How long a cancelled job is given to stop; the service may take its time."""


def settled(state: JobState) -> bool:
    """Ended for good: terminal and not stalled (a stalled job may still run or be cancelled)."""
    return state.terminal and state not in STALLED


def until_stopped(monitor: JobMonitor, handle: JobHandle, timeout: float = CANCEL_WAIT_S) -> JobStatus | None:
    """Wait for a cancelled job to end for good; None (logged) when it has not within timeout."""
    try:
        return monitor.wait(handle, timeout, settled=settled)
    except (JobTimedOutError, TransientBackendError) as exc:
        log.warning("job %s: still stopping after its cancel (%s); moving on", handle.job_name, exc)
        return None


def settle_stalled(
    monitor: JobMonitor,
    handle: JobHandle,
    status: JobStatus,
    cancel: Callable[[JobHandle], object],
    recovery_s: float = RECOVERY_WAIT_S,
) -> tuple[JobStatus, bool]:
    """(status, stopped): the job's own end if it recovers within recovery_s; else it is cancelled and the stalled
    status returned, stopped False when the cancel was not seen to take (the cell must then not be retried)."""
    try:
        return monitor.wait(handle, recovery_s, settled=settled), True
    except JobTimedOutError:
        name, state = handle.job_name, status.state
        log.warning("job %s is %s after %g s: cancelling it before any retry", name, state, recovery_s)
    cancel(handle)
    stopped = until_stopped(monitor, handle)
    if stopped is not None and stopped.state != JobState.CANCELED:
        return stopped, True  # it ended by itself while the cancel was on its way
    return status, stopped is not None
