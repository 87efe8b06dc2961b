"""A cell's job created at most once across crashes, asking the backend only when the ledger cannot answer.

The intent to create a job is saved in the cell's status.json (atomically) before the create. A job can exist that the
ledger never recorded only if a process died between that save and recording the job, so the find that adopts such a
job (one control-plane request per cell on Azure) is made only for a job name the ledger intended or recorded. Any
other job of the name was made by someone else: the create meets it, and job names being the idempotency key, it is
attached to (or refused as foreign), never duplicated.
"""

from __future__ import annotations

from dataclasses import dataclass

from rjobs.backends.base import Backend, CellJob, JobHandle
from rjobs.core.retry import RetryPolicy
from rjobs.core.states import JobState
from rjobs.engine.ledger import CellRecord, RunLedger


def may_exist(record: CellRecord, job: CellJob) -> bool:
    """Whether this ledger intended or recorded the job, so a crash may have left it created but unrecorded."""
    return job.job_name in (record.job_name, record.intent)


@dataclass
class Submission:
    """The find-then-create of one cell's job, with the intent recorded in between."""

    backend: Backend
    ledger: RunLedger
    retry: RetryPolicy
    finds: int = 0
    """Finds made (a request each on a remote backend): the cells whose ledger could not rule a job out."""

    def find(self, record: CellRecord, job: CellJob) -> JobHandle | None:
        """The job if it may exist and does; None, without asking, when the ledger never intended it."""
        if not may_exist(record, job):
            return None
        self.finds += 1
        return self.retry.call("find", lambda: self.backend.find(job))

    def create(self, record: CellRecord, job: CellJob) -> JobHandle:
        """Record the intent, then create (an existing job of the name is attached to by the backend)."""
        record.intent = job.job_name
        self.ledger.save(record)
        return self.retry.call("submit", lambda: self.backend.submit(job))

    def record(self, record: CellRecord, job: CellJob, handle: JobHandle, now: float) -> None:
        """The job as this cell's current one, Queued from `now`: what flows.cancel and a resume read."""
        record.job_name, record.attempt, record.handle = job.job_name, job.attempt, handle.to_json()
        record.state, record.submitted_at, record.ended_at = JobState.QUEUED.value, now, None
        record.collected, record.error, record.metrics, record.metrics_error = False, "", {}, ""
        self.ledger.save(record)
