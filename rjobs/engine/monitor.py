"""Batched status polling shared by every waiting cell: one status call per poll for all jobs in flight.

On a backend where a poll is a paid request (Azure ML), the pause grows while polls find no job ended
(`quiet_growth`, up to `max_interval`) and drops back to `interval` when one ends: jobs end in bursts, and a
sweep spends most polls on jobs that are minutes from their end.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from rjobs.backends.base import Backend, JobHandle, JobStatus
from rjobs.core.errors import JobTimedOutError, TransientBackendError
from rjobs.core.states import JobState

Transition = Callable[[JobHandle, JobState | None, JobStatus], None]


@dataclass
class PollStats:
    """Counts for the benchmark and the run summary: how much we asked the control plane."""

    status_calls: int = 0
    transient_errors: int = 0


class JobMonitor:
    """Waiters take turns as the poller (no extra thread), so tests drive it with a fake clock and sleep."""

    def __init__(
        self,
        backend: Backend,
        *,
        interval: float = 2.0,
        max_interval: float = 60.0,
        quiet_growth: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        rng: random.Random | None = None,
        on_transition: Transition | None = None,
    ) -> None:
        self.backend = backend
        self.interval = interval
        self.max_interval = max_interval
        if quiet_growth < 1.0:
            raise ValueError(f"quiet_growth must be at least 1 (got {quiet_growth})")
        self.quiet_growth = quiet_growth
        self._pause = interval
        self.clock = clock
        self.sleep = sleep
        self.rng = rng or random.Random()
        self.on_transition = on_transition
        self.stats = PollStats()
        self._cv = threading.Condition()
        self._poller = threading.Lock()
        self._waiting: dict[str, JobHandle] = {}
        self._latest: dict[str, JobStatus] = {}
        self._next_poll = float("-inf")
        self._failures = 0
        self._reported: dict[str, JobState] = {}

    def wait(
        self, handle: JobHandle, timeout: float | None = None, settled: Callable[[JobState], bool] | None = None
    ) -> JobStatus:
        """Block until the job is terminal (or `settled` says it is done); past the timeout, one final check, then
        JobTimedOutError."""
        done = settled or (lambda state: state.terminal)
        deadline = None if timeout is None else self.clock() + timeout
        with self._cv:
            self._waiting[handle.job_name] = handle
            self._latest.pop(handle.job_name, None)
            self._next_poll = min(self._next_poll, self.clock())
        try:
            while True:
                with self._cv:
                    latest = self._latest.get(handle.job_name)
                if latest is not None and done(latest.state):
                    return latest
                if latest is not None and latest.state == JobState.ABSENT:
                    return JobStatus(handle.job_name, JobState.LOST, "the backend no longer knows this job")
                if deadline is not None and self.clock() >= deadline:
                    final = self._poll({handle.job_name: handle}).get(handle.job_name)
                    if final is not None and done(final.state):
                        return final
                    raise JobTimedOutError(handle.job_name, f"not finished after {timeout:g} s", final and final.url)
                if self._poller.acquire(blocking=False):
                    try:
                        self._lead(deadline)
                    finally:
                        self._poller.release()
                    with self._cv:
                        self._cv.notify_all()
                else:
                    with self._cv:
                        self._cv.wait(timeout=max(self.interval, 0.05))
        finally:
            with self._cv:
                self._waiting.pop(handle.job_name, None)
                self._latest.pop(handle.job_name, None)

    def _lead(self, deadline: float | None) -> None:
        now = self.clock()
        if now < self._next_poll:
            pause = self._next_poll - now
            if deadline is not None:
                pause = min(pause, max(deadline - now, 0.0))
            self.sleep(pause)
            return
        with self._cv:
            batch = dict(self._waiting)
        self._poll(batch)

    def _poll(self, batch: dict[str, JobHandle]) -> dict[str, JobStatus]:
        """One batched status call; transitions reported once each; transient errors back off with jitter."""
        if not batch:
            return {}
        self.stats.status_calls += 1
        try:
            found = self.backend.status(list(batch.values()))
        except TransientBackendError as exc:
            self.stats.transient_errors += 1
            self._failures += 1
            backoff = min(self.max_interval, self.interval * 2**self._failures) * self.rng.uniform(0.5, 1.0)
            self._next_poll = self.clock() + max(backoff, exc.retry_after or 0.0)
            return {}
        self._failures = 0
        ended = any(status.state.terminal or status.state == JobState.ABSENT for status in found.values())
        self._pause = (
            self.interval if ended else min(self._pause * self.quiet_growth, max(self.max_interval, self.interval))
        )
        self._next_poll = self.clock() + self._pause * self.rng.uniform(0.9, 1.1)
        with self._cv:
            for name, status in found.items():
                self._latest[name] = status
                previous = self._reported.get(name)
                if previous != status.state:
                    self._reported[name] = status.state
                    if self.on_transition:
                        self.on_transition(batch[name], previous, status)
        return found
