"""Cancel every job of a run from its ledger, without the flow that started them (hooks aren't guaranteed)."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from rjobs.backends.base import Backend, JobHandle, ListsRunJobs
from rjobs.core.states import JobState
from rjobs.engine.ledger import RunLedger


@dataclass
class CancelReport:
    """What a cancel found and did: jobs asked to stop, and those still not terminal at the deadline."""

    requested: list[str] = field(default_factory=list)
    already_done: list[str] = field(default_factory=list)
    still_running: list[str] = field(default_factory=list)


def run_handles(ledger: RunLedger, backend: Backend) -> dict[str, JobHandle]:
    """Every job the run may have: the cell records, and what the backend itself can find of the run."""
    handles: dict[str, JobHandle] = {}
    for record in ledger.records():
        if record.handle:
            handle = JobHandle.from_json(record.handle)
            handles[handle.job_name] = handle
    if isinstance(backend, ListsRunJobs):  # jobs started by a process that died before recording them
        for handle in backend.jobs_of_run(ledger.run, ledger.run_dir):
            handles.setdefault(handle.job_name, handle)
    return handles


def cancel_run(
    ledger: RunLedger,
    backend: Backend,
    *,
    timeout: float = 120.0,
    interval: float = 1.0,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> CancelReport:
    """Cancel the run's non-terminal jobs, wait until they are terminal or the deadline, mark their cells."""
    report = CancelReport()
    handles = run_handles(ledger, backend)
    states = backend.status(list(handles.values())) if handles else {}
    live = {name: h for name, h in handles.items() if name in states and not states[name].state.terminal}
    live = {name: h for name, h in live.items() if states[name].state != JobState.ABSENT}
    report.already_done = sorted(set(handles) - set(live))
    for handle in live.values():
        backend.cancel(handle)
        report.requested.append(handle.job_name)
    deadline = clock() + timeout
    waiting = dict(live)
    while waiting and clock() < deadline:
        sleep(interval)
        for name, status in backend.status(list(waiting.values())).items():
            if status.state.terminal or status.state == JobState.ABSENT:
                waiting.pop(name, None)
    report.still_running = sorted(waiting)
    stopped = set(live) - set(waiting)
    for record in ledger.records():
        if record.job_name in stopped:
            record.state, record.error = JobState.CANCELED.value, "cancelled by flows.cancel"
            ledger.save(record)
    return report


def known_runs(results_root: Path) -> list[str]:
    """Run folders under the results root, for an error message that lists what exists."""
    if not results_root.is_dir():
        return []
    return sorted(p.name for p in results_root.iterdir() if p.is_dir() and any(p.glob("*/status.json")))
