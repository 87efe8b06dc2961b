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
    """A handle for a job entity; the run comes from the job's own property when the caller does not know it. Its
    named outputs' paths ("" for the default place) let a collect go straight to storage."""
    data: dict[str, Any] = {"experiment": getattr(job, "experiment_name", None), "url": job.studio_url}
    data["outputs"] = {
        str(name): str(getattr(output, "path", None) or "")
        for name, output in (getattr(job, "outputs", None) or {}).items()
        if name != "default"
    }
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
    """Batched status reads. A listing by run property pages newest first through every job of the run, finished ones
    too, so each poll chooses by expected requests: a listing when the oldest job in flight sits within fewer pages
    than the gets it replaces (positions from the order this process created the run's jobs in), a get otherwise;
    a listing stops after the pages it was chosen for, and what it did not show (a new job the index has not caught
    up with, a job another process made) is a get. Polls cost what is in flight, never what has finished."""

    def __init__(self, calls: ServiceCalls, backend: str, *, list_threshold: int = 5, max_list_pages: int = 10) -> None:
        self.calls = calls
        self.backend = backend
        self.list_threshold = list_threshold
        self.max_list_pages = max_list_pages
        self.page_size = 0
        """Jobs per listing page, learned as the longest page seen (a full page shows it); 0 before any listing."""
        self._last: dict[str, JobState] = {}
        self._created: dict[str, dict[str, int]] = {}
        self._lock = threading.Lock()

    def note_created(self, handle: JobHandle) -> None:
        """Remember the creation order of a run's jobs: a job's place in the newest-first listing follows from it."""
        run = handle.data.get("run")
        if run:
            with self._lock:
                order = self._created.setdefault(str(run), {})
                order.setdefault(handle.job_name, len(order))

    def pages_for(self, run: str, names: Sequence[str]) -> int | None:
        """Listing pages that reach every named job, None when a position or the page size is unknown."""
        with self._lock:
            order = self._created.get(run, {})
            if not self.page_size or any(name not in order for name in names):
                return None
            deepest = max(len(order) - 1 - order[name] for name in names)
        return deepest // self.page_size + 1

    def status(self, handles: Sequence[JobHandle]) -> dict[str, JobStatus]:
        """A listing per run where it costs fewer requests than gets, a get each otherwise; unknown names are
        Absent."""
        results: dict[str, JobStatus] = {}
        by_run: dict[str, list[JobHandle]] = {}
        singles: list[JobHandle] = []
        for handle in handles:
            run = handle.data.get("run")
            (by_run.setdefault(str(run), []) if run else singles).append(handle)
        for run, group in by_run.items():
            pages = self._listing_pages(run, [h.job_name for h in group])
            if pages is None:
                singles.extend(group)
                continue
            wanted = {h.job_name for h in group}
            for job in self._list_run(run, wanted, pages):
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

    def _listing_pages(self, run: str, names: Sequence[str]) -> int | None:
        """Pages to list for this group, or None for gets: too few jobs, or the listing would cost as much."""
        if len(names) < self.list_threshold:
            return None
        if not self.page_size:  # the first listing teaches the page size; never more pages than the gets it saves
            return min(len(names) - 1, self.max_list_pages) if self._created.get(run) else None
        pages = self.pages_for(run, names)
        if pages is None or pages >= len(names):
            return None
        return min(pages, self.max_list_pages)

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

    def _list_run(self, run: str, wanted: set[str], max_pages: int) -> Iterator[Any]:
        """Jobs of one run from jobs.list filtered by our run property; stops once every wanted job is seen or after
        max_pages pages."""
        pages = self.calls.ml_client.jobs.list(properties=f"{RUN_PROPERTY}={run}").by_page()
        remaining = set(wanted)
        for _ in range(max_pages):
            page = self.calls.next_page("jobs.list", pages)
            if page is None:
                return
            with self._lock:  # no page is longer than the service's page size, and a full one shows it
                self.page_size = max(self.page_size, len(page))
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
