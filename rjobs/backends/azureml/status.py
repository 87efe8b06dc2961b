"""What the service says about jobs: their states (one listing per run when many are in flight) and a run's jobs."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator, Sequence
from typing import Any

from rjobs.backends.azureml.calls import ServiceCalls
from rjobs.backends.azureml.jobs import RUN_PROPERTY
from rjobs.backends.base import JobHandle, JobStatus
from rjobs.core.states import JobState, parse_state

log = logging.getLogger(__name__)


_warned: set[str] = set()


def service_state(status: str | None) -> JobState | None:
    """JobState for a service status string; None for 'Unknown' and for a status this code does not know (the REST
    API's JobStatus enum grows, e.g. 'Scheduled'): the job is polled on, with one warning per new string."""
    if status is not None and status.strip().lower() == "unknown":
        return None
    try:
        return parse_state(status)
    except ValueError:
        if status not in _warned:
            _warned.add(str(status))
            log.warning("the service reports job status %r, unknown here: treating it as not finished", status)
        return None


def job_handle(
    job: Any, backend: str, run: str | None = None, cell: str | None = None, attempt: int | None = None
) -> JobHandle:
    """A handle for a job entity; the run comes from the job's own property when the caller does not know it."""
    data: dict[str, Any] = {"experiment": getattr(job, "experiment_name", None), "url": job.studio_url}
    properties = getattr(job, "properties", None) or {}
    run = run or properties.get(RUN_PROPERTY)
    if run:
        data["run"] = run
    if cell:
        data["cell"] = cell
    if attempt:
        data["attempt"] = attempt
    return JobHandle(job_name=job.name, backend=backend, data=data)


class JobStatuses:
    """Batched status reads: a run with at least list_threshold jobs in flight is one listing, not a get per job."""

    def __init__(self, calls: ServiceCalls, backend: str, *, list_threshold: int = 5, max_list_pages: int = 10) -> None:
        self.calls = calls
        self.backend = backend
        self.list_threshold = list_threshold
        self.max_list_pages = max_list_pages
        self._last: dict[str, JobState] = {}
        self._lock = threading.Lock()

    def status(self, handles: Sequence[JobHandle]) -> dict[str, JobStatus]:
        """One listing per run when many jobs are in flight, a get each otherwise; unknown names are Absent."""
        results: dict[str, JobStatus] = {}
        by_run: dict[str, list[JobHandle]] = {}
        singles: list[JobHandle] = []
        for handle in handles:
            run = handle.data.get("run")
            (by_run.setdefault(str(run), []) if run else singles).append(handle)
        for run, group in by_run.items():
            if len(group) < self.list_threshold:
                singles.extend(group)
                continue
            wanted = {h.job_name for h in group}
            for job in self._list_run(run, wanted):
                results[job.name] = self.job_status(job)
            singles.extend(h for h in group if h.job_name not in results)
        for handle in singles:
            job = self.calls.get_job(handle.job_name)
            results[handle.job_name] = (
                JobStatus(handle.job_name, JobState.ABSENT, "no such job in the workspace")
                if job is None
                else self.job_status(job)
            )
        return results

    def jobs_of_run(self, run: str) -> list[JobHandle]:
        """Every job carrying the run's property, up to max_list_pages pages."""
        pages = self.calls.ml_client.jobs.list(properties=f"{RUN_PROPERTY}={run}").by_page()
        handles: list[JobHandle] = []
        for _ in range(self.max_list_pages):
            page = self.calls.next_page("jobs.list", pages)
            if page is None:
                break
            handles.extend(job_handle(job, self.backend) for job in page if job is not None)
        return handles

    def _list_run(self, run: str, wanted: set[str]) -> Iterator[Any]:
        """Jobs of one run from jobs.list filtered by our run property; stops once every wanted job is seen."""
        pages = self.calls.ml_client.jobs.list(properties=f"{RUN_PROPERTY}={run}").by_page()
        remaining = set(wanted)
        for _ in range(self.max_list_pages):
            page = self.calls.next_page("jobs.list", pages)
            if page is None:
                return
            for job in page:
                if job is not None and job.name in remaining:
                    remaining.discard(job.name)
                    yield job
            if not remaining:
                return

    def job_status(self, job: Any) -> JobStatus:
        """The job entity's state; 'Unknown' shows the last state seen instead of going backwards."""
        state = service_state(job.status)
        detail = ""
        if state is None:
            state = self._last.get(job.name, JobState.NOT_STARTED)
            detail = f"the service reports {getattr(job.status, 'value', job.status)}; showing the last known state"
        elif state == JobState.NOT_RESPONDING:
            detail = "the job stopped sending heartbeats"
        with self._lock:
            self._last[job.name] = state
        return JobStatus(job.name, state, detail, url=job.studio_url)
