"""Creating, finding and cancelling jobs. Names are immutable in Azure ML, so a deterministic name is the idempotency
key: a name that already exists is attached to, never duplicated, and a retried create is safe.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from rjobs.backends.azureml.calls import ServiceCalls
from rjobs.backends.azureml.jobs import RUN_PROPERTY, build_command_job
from rjobs.backends.azureml.status import job_handle
from rjobs.backends.base import CellJob, JobHandle
from rjobs.core.errors import InputError

log = logging.getLogger(__name__)


def job_shape(entity: Any) -> tuple[str, ...]:
    """What the SDK's local validation depends on; a sweep's cells differ only in values, which the service checks."""
    return (
        type(entity).__name__,
        str(entity.experiment_name),
        str(entity.environment),
        str(entity.code),
        str(entity.compute),
        ",".join(sorted(entity.inputs or {})),
        ",".join(sorted(entity.outputs or {})),
    )


def foreign(existing: Any, run: str | None, experiment: str | None) -> str | None:
    """Why an existing job of the wanted name is not ours to attach to (job names are unique across the workspace,
    so an old job of another run or experiment can hold it); None when it is ours."""
    properties = getattr(existing, "properties", None) or {}
    theirs_run, theirs_experiment = properties.get(RUN_PROPERTY), getattr(existing, "experiment_name", None)
    if theirs_run != run:
        return f"it belongs to run {theirs_run!r}" if theirs_run else "it was not made by rjobs"
    if experiment and theirs_experiment and theirs_experiment != experiment:
        return f"it is in experiment {theirs_experiment!r}"
    return None


def refuse_foreign(existing: Any, run: str | None, experiment: str | None, source: Any) -> None:
    """InputError (exit 2) when the existing job of our name is someone else's."""
    reason = foreign(existing, run, experiment)
    if reason is not None:
        raise InputError(
            source,
            "run name",
            f"job {existing.name} already exists in the workspace and {reason}",
            "choose another --run-name",
        )


class JobSubmitter:
    """Submits jobs once each. The SDK's local schema validation (CPU-heavy at scale) runs for the first job of
    each shape only; until a job of that shape was created, every attempt is validated."""

    def __init__(self, calls: ServiceCalls, backend: str) -> None:
        self.calls = calls
        self.backend = backend
        self._created: set[str] = set()
        self._validated: set[tuple[str, ...]] = set()
        self._lock = threading.Lock()

    def find(self, job: CellJob) -> JobHandle | None:
        """The existing job of this name, if any: one get."""
        found = self.calls.get_job(job.job_name)
        if found is None:
            return None
        refuse_foreign(found, job.run, job.spec.experiment, job.spec.source)
        return job_handle(found, self.backend, job.run, job.cell_id, job.attempt)

    def create(self, entity: Any) -> Any:
        """One create_or_update; a name created here before, or one the service refuses because it exists, is
        attached to with a get instead. Transient errors propagate: the caller decides whether to try again."""
        from azure.core.exceptions import HttpResponseError

        if entity.name in self._created:
            existing = self.calls.get_job(entity.name)
            if existing is not None:
                return existing
        shape = job_shape(entity)
        try:
            create = self.calls.ml_client.jobs.create_or_update
            created = self.calls("jobs.create_or_update", create, entity, skip_validation=shape in self._validated)
        except HttpResponseError:
            existing = self.calls.get_job(entity.name)
            if existing is None:
                raise
            refuse_foreign(existing, (entity.properties or {}).get(RUN_PROPERTY), entity.experiment_name, None)
            log.info("job %s already exists: attaching", entity.name)
            return existing
        with self._lock:
            self._created.add(entity.name)
            self._validated.add(shape)
        return created

    def submit(self, job: CellJob, environment: str, code: str | None) -> JobHandle:
        """Create the cell's job on the registered environment and code; an existing name is attached to."""
        from azure.ai.ml.exceptions import ValidationException

        try:
            created = self.create(build_command_job(job, environment, code))
        except ValidationException as exc:
            raise InputError(
                job.spec.source, job.job_name, f"azure-ai-ml rejects the job ({exc})", "fix job.yml"
            ) from None
        return job_handle(created, self.backend, job.run, job.cell_id, job.attempt)

    def cancel(self, handle: JobHandle) -> None:
        """Ask for cancellation without waiting on the service's poller; a vanished or finished job is fine."""
        from azure.core.exceptions import HttpResponseError, ResourceNotFoundError

        try:
            self.calls("jobs.begin_cancel", self.calls.ml_client.jobs.begin_cancel, handle.job_name)
        except ResourceNotFoundError:
            log.info("cancel %s: no such job", handle.job_name)
        except HttpResponseError as exc:
            log.warning("cancel %s refused: %s", handle.job_name, str(exc).splitlines()[0] if str(exc) else exc)
