"""A minimal sweep driver for backend tests: bounded fan-out, one batched poll per interval, collect on finish."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from rjobs.backends.base import Backend, CellJob, JobHandle
from rjobs.core.errors import TransientBackendError
from rjobs.core.states import JobState


@dataclass
class SweepRun:
    states: dict[str, JobState] = field(default_factory=dict)
    polls: int = 0
    transient: int = 0


def _patiently(action: Callable[[], object], sleep: Callable[[float], None], interval: float, run: SweepRun) -> object:
    while True:
        try:
            return action()
        except TransientBackendError as exc:
            run.transient += 1
            sleep(max(exc.retry_after or 0.0, interval))


def drive(
    backend: Backend,
    jobs: Sequence[CellJob],
    sleep: Callable[[float], None],
    *,
    max_concurrent: int = 10,
    interval: float = 10.0,
    max_polls: int = 10_000,
) -> SweepRun:
    """Submit up to max_concurrent, poll all in flight with one status call, collect or fetch logs at the end."""
    run = SweepRun()
    pending = list(jobs)
    in_flight: dict[str, tuple[CellJob, JobHandle]] = {}
    while pending or in_flight:
        while pending and len(in_flight) < max_concurrent:
            job = pending.pop(0)
            handle = _patiently(lambda j=job: backend.submit(j), sleep, interval, run)
            assert isinstance(handle, JobHandle)
            in_flight[job.job_name] = (job, handle)
        run.polls += 1
        assert run.polls <= max_polls, "the sweep did not finish"
        try:
            statuses = backend.status([handle for _, handle in in_flight.values()])
        except TransientBackendError as exc:
            run.transient += 1
            sleep(max(exc.retry_after or 0.0, interval))
            continue
        for name, status in statuses.items():
            if not status.state.terminal:
                continue
            job, handle = in_flight.pop(name)
            run.states[name] = status.state
            if status.state == JobState.COMPLETED:
                _patiently(lambda j=job, h=handle: backend.collect(h, j.cell_dir), sleep, interval, run)
            _patiently(lambda j=job, h=handle: backend.logs(h, j.cell_dir), sleep, interval, run)
        if in_flight:
            sleep(interval)
    return run
