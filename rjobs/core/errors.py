"""Exceptions with one type per terminal outcome, each carrying the job name and where to look."""

from __future__ import annotations

from pathlib import Path


class RJobsError(Exception):
    """The root of every error this project raises on purpose; anything else is a bug."""


class InputError(RJobsError):
    """Bad user input found before anything ran: names the file, the key and the fix (exit code 2)."""

    exit_code = 2

    def __init__(self, file: str | Path | None, key: str | None, problem: str, fix: str) -> None:
        self.file, self.key, self.problem, self.fix = file, key, problem, fix
        where = ": ".join(str(part) for part in (file, key) if part)
        super().__init__(f"{where}: {problem}; {fix}" if where else f"{problem}; {fix}")


class JobOutcomeError(RJobsError):
    """Base of the terminal outcomes a job can end in other than Completed."""

    outcome = "failed"

    def __init__(self, job_name: str, detail: str, look_at: str | Path | None = None) -> None:
        self.job_name, self.detail, self.look_at = job_name, detail, look_at
        hint = f" (see {look_at})" if look_at else ""
        super().__init__(f"job {job_name} {self.outcome}: {detail}{hint}")


class JobFailedError(JobOutcomeError):
    """The job ran and failed (non-zero exit, service failure, NotResponding, Paused, lost process)."""

    outcome = "failed"


class JobCanceledError(JobOutcomeError):
    """The job was cancelled, by us or by someone in the studio."""

    outcome = "was cancelled"


class JobTimedOutError(JobOutcomeError):
    """The job outlived its deadline and was cancelled."""

    outcome = "timed out"


class EnvironmentCheckError(JobOutcomeError):
    """The environment smoke job failed, so no cell was submitted."""

    outcome = "could not prove the environment"


class TransientBackendError(RJobsError):
    """A control-plane call failed in a way worth retrying (429, 5xx, connection reset)."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class ServingError(RJobsError):
    """A model server did not come up, answer or stop as it should: names the endpoint and where to look."""

    def __init__(self, endpoint: str, detail: str, look_at: str | Path | None = None) -> None:
        self.endpoint, self.detail, self.look_at = endpoint, detail, look_at
        hint = f" (see {look_at})" if look_at else ""
        super().__init__(f"endpoint {endpoint}: {detail}{hint}")


class SmokeTestError(ServingError):
    """A new deployment failed its smoke request, so traffic stayed where it was."""
