"""The environment smoke job: Azure ML offers no way to wait for an image build, so before the fan-out one tiny job
loads the R packages the code uses on the cells' environment and compute. A broken image costs one job, not N.

The job is named after (environment, packages): Completed earlier is reused, one in flight is attached to, a failed
one is retried under a new name up to `attempts` times. Its polls and requests ride out transient control-plane
errors through the injected RetryPolicy; the clock and sleep are injected so tests never wait for real.
"""

from __future__ import annotations

import logging
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from rjobs.backends.azureml.assets import VERSION_LENGTH
from rjobs.backends.azureml.calls import ServiceCalls
from rjobs.backends.azureml.collect import JobCollector
from rjobs.backends.azureml.jobs import R_PACKAGE, build_smoke_job
from rjobs.backends.azureml.status import JobStatuses, job_handle, service_state
from rjobs.backends.azureml.submit import JobSubmitter
from rjobs.backends.base import JobHandle, JobStatus
from rjobs.core.errors import EnvironmentCheckError
from rjobs.core.files import tail_text
from rjobs.core.hashing import content_hash
from rjobs.core.retry import RetryPolicy
from rjobs.core.states import JobState
from rjobs.inputs.spec import JobSpec

log = logging.getLogger(__name__)

PackageScanner = Callable[[Path], Mapping[str, Sequence[str]]]
"""code folder -> {R package: files that load it}."""

LOG_TAIL_LINES = 30


class SmokeCheck:
    """Proves an environment with one job per (environment, packages), polled with the injected clock and sleep."""

    def __init__(
        self,
        calls: ServiceCalls,
        submitter: JobSubmitter,
        statuses: JobStatuses,
        collector: JobCollector,
        retry: RetryPolicy,
        *,
        backend: str,
        r_packages: PackageScanner | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        timeout: float = 3600.0,
        poll_interval: float = 15.0,
        max_poll_interval: float = 60.0,
        attempts: int = 2,
    ) -> None:
        self.calls = calls
        self.submitter = submitter
        self.statuses = statuses
        self.collector = collector
        self.retry = retry
        self.backend = backend
        self.r_packages = r_packages
        self.clock = clock
        self.sleep = sleep
        self.timeout = timeout
        self.poll_interval = poll_interval
        self.max_poll_interval = max_poll_interval
        self.attempts = attempts

    def packages(self, spec: JobSpec) -> list[str]:
        """The R packages the code loads unconditionally; names that are not R package names are skipped."""
        if spec.code is None:
            return []
        if self.r_packages is not None:
            used = self.r_packages(spec.code)
        else:
            from rjobs.environment.rscan import r_packages_used

            used = r_packages_used(spec.code, include_optional=False)
        packages = sorted(p for p in used if R_PACKAGE.match(p))
        skipped = sorted(set(used) - set(packages))
        if skipped:
            log.warning("environment check skips names that are not R packages: %s", ", ".join(skipped))
        return packages

    def prove(self, spec: JobSpec, reference: str) -> None:
        """Return once a smoke job on `reference` has Completed; raise EnvironmentCheckError naming the last log lines
        otherwise."""
        packages = self.packages(spec)
        base = f"rjobs-envcheck-{content_hash([reference, *packages], VERSION_LENGTH)}"
        last_failed: Any = None
        for attempt in range(1, self.attempts + 1):
            job_name = base if attempt == 1 else f"{base}-r{attempt}"
            existing = self.retry.call("jobs.get", lambda name=job_name: self.calls.get_job(name))
            if existing is None:
                entity = build_smoke_job(job_name, spec, reference, packages)
                existing = self.retry.call("jobs.create_or_update", lambda e=entity: self.submitter.create(e))
                log.info("environment check %s started for %s", job_name, reference)
            state = service_state(existing.status) or JobState.NOT_STARTED
            if state == JobState.COMPLETED:
                return
            if state.terminal:
                last_failed = existing
                continue
            status = self._wait(job_handle(existing, self.backend))
            if status.state == JobState.COMPLETED:
                return
            self._fail(job_name, status.state.value, status.url)
        assert last_failed is not None
        self._fail(last_failed.name, str(last_failed.status), last_failed.studio_url)

    def _fail(self, job_name: str, state: str, url: str | None) -> None:
        handle = JobHandle(job_name=job_name, backend=self.backend)
        with tempfile.TemporaryDirectory(prefix="rjobs-envcheck-") as folder:
            path = self.retry.call("jobs.download", lambda: self.collector.logs(handle, Path(folder)))
            what = "last log lines"
            if path is None:  # no user code ran: the image itself did not build
                path = self.retry.call("jobs.download", lambda: self.collector.image_build_log(handle, Path(folder)))
                what = "the environment's image failed to build; last lines of its build log"
            tail = tail_text(path, max_lines=LOG_TAIL_LINES) if path is not None else ""
        detail = f"environment check job ended {state}" + (f"; {what}:\n{tail}" if tail else "")
        raise EnvironmentCheckError(job_name, detail, look_at=url)

    def _wait(self, handle: JobHandle) -> JobStatus:
        """Poll one job until terminal, the interval growing to max_poll_interval; past the deadline cancel it."""
        deadline = self.clock() + self.timeout
        interval = self.poll_interval
        while True:
            status = self.retry.call("jobs.get", lambda: self.statuses.status([handle])[handle.job_name])
            if status.state.terminal:
                return status
            now = self.clock()
            if now >= deadline:
                self.retry.call("jobs.begin_cancel", lambda: self.submitter.cancel(handle))
                raise EnvironmentCheckError(
                    handle.job_name, f"not finished after {self.timeout:g} s, cancelled", look_at=status.url
                )
            self.sleep(min(interval, max(deadline - now, 0.0)))
            interval = min(interval * 1.5, self.max_poll_interval)
