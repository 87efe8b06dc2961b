"""The Backend protocol: what the orchestrator asks of any place that runs a cell's job."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from rjobs.core.states import JobState
from rjobs.inputs.spec import InputSpec, JobSpec, Scalar

if TYPE_CHECKING:
    from rjobs.engine.ledger import CellRecord


@dataclass(frozen=True)
class CellJob:
    """One cell bound to one attempt: everything a backend needs to submit its job."""

    run: str
    cell_id: str
    attempt: int
    job_name: str
    spec: JobSpec
    params: Mapping[str, Scalar]
    inputs: Mapping[str, InputSpec]
    cell_dir: Path
    tags: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class JobHandle:
    """How to find a submitted job again, even from another process: JSON-serialisable by design."""

    job_name: str
    backend: str
    data: Mapping[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {"job_name": self.job_name, "backend": self.backend, "data": dict(self.data)}

    @classmethod
    def from_json(cls, raw: Mapping[str, Any]) -> JobHandle:
        return cls(job_name=str(raw["job_name"]), backend=str(raw["backend"]), data=dict(raw.get("data") or {}))


@dataclass(frozen=True)
class JobStatus:
    """A job's state as the backend reports it, with where a user can look."""

    job_name: str
    state: JobState
    detail: str = ""
    url: str | None = None
    exit_code: int | None = None


@dataclass(frozen=True)
class EnvironmentInfo:
    """What the environment step established: a reference jobs can use, and warnings to show the user."""

    reference: str | None
    warnings: tuple[str, ...] = ()
    created: bool = False


@runtime_checkable
class Backend(Protocol):
    """Where jobs run. No Prefect here: flows and tasks drive a backend, tests drive it directly."""

    name: str
    remote: bool
    """Jobs run away from this machine: they read uploaded copies of data, never local paths."""

    def ensure_data(self, spec: JobSpec) -> dict[str, InputSpec]:
        """Make the job's data inputs reachable by jobs; return the inputs jobs should be given."""
        ...

    def ensure_environment(self, spec: JobSpec) -> EnvironmentInfo:
        """Make sure the environment exists and can run the code; raise before any cell is submitted."""
        ...

    def ensure_code(self, spec: JobSpec) -> None:
        """Upload or snapshot the code once, before the fan-out, so concurrent submissions share it."""
        ...

    def find(self, job: CellJob) -> JobHandle | None:
        """The handle of an existing job with this job's name, or None: resume starts from the backend's truth."""
        ...

    def submit(self, job: CellJob) -> JobHandle:
        """Start the job; a job of the same name that already exists is attached to, not duplicated."""
        ...

    def status(self, handles: Sequence[JobHandle]) -> dict[str, JobStatus]:
        """States of many jobs, batched where the service allows; unknown names come back Absent."""
        ...

    def cancel(self, handle: JobHandle) -> None:
        """Ask the job to stop; returns without waiting for it to be terminal."""
        ...

    def collect(self, handle: JobHandle, cell_dir: Path) -> Path:
        """Bring the job's ./outputs into cell_dir/outputs and its log into cell_dir; return the outputs folder."""
        ...

    def logs(self, handle: JobHandle, cell_dir: Path) -> Path | None:
        """The job's user log (std_log.txt) on local disk, fetched if needed; None when there is none yet."""
        ...


# -- capabilities: what only some backends can do, asked with isinstance() instead of comparing names --------------


@runtime_checkable
class ListsRunJobs(Protocol):
    """Finds a run's jobs beyond the ledger (a crash between starting a job and recording it), for cancel."""

    def jobs_of_run(self, run: str, run_dir: Path) -> list[JobHandle]:
        """Every job the backend knows for the run; run_dir is the run's results folder."""
        ...


@runtime_checkable
class HasWorkspaceTracking(Protocol):
    """The backend's service has its own MLflow tracking server, the default place to log a sweep."""

    def tracking_uri(self) -> str: ...


@runtime_checkable
class JobsAreMlflowRuns(Protocol):
    """Every job already is a run in the service's own MLflow (Azure ML), so a sweep logged there nests the cells' job
    runs under its parent run instead of logging copies of them."""

    def job_run_id(self, record: CellRecord) -> str | None:
        """The MLflow run id of the cell's latest job in this sweep; None when it had none (never ran, or reused
        another sweep's job)."""
        ...


@runtime_checkable
class RegistersModels(Protocol):
    """The backend's service has a model registry of its own (the local backend uses MLflow's)."""

    def register_model(
        self, name: str, job_name: str, model_path: str, tags: Mapping[str, str], description: str
    ) -> RegisteredModelRef:
        """Register job_name's output file model_path as a version of model `name`; the same job again is the same
        version, not a new one."""
        ...


@dataclass(frozen=True)
class RegisteredModelRef:
    """A registered model version and where its file came from."""

    name: str
    version: str
    source: str
    created: bool


@runtime_checkable
class ReportsStepMetrics(Protocol):
    """Reads a running job's intermediate metrics (outputs/metrics.jsonl so far), for early termination."""

    def step_metrics(self, handle: JobHandle) -> list[dict[str, float]]:
        """The `{"step": n, ...}` lines the job has appended until now; none when it has written none yet."""
        ...


@dataclass(frozen=True)
class PackLaunch:
    """A packed job to start: its folder as rjobs.packing wrote it, the jobs of the cells it holds (their inputs and
    spec), and the runner's settings."""

    name: str
    pack_dir: Path
    jobs: Sequence[CellJob]
    processes: int
    timeout_s: float | None

    @property
    def spec(self) -> JobSpec:
        return self.jobs[0].spec


@runtime_checkable
class RunsPackedJobs(Protocol):
    """Runs many work items in one job through the packing runner (rjobs.packing, --pack), several R processes at a
    time; each item's argv is the one its own job would run."""

    def item_argv(self, job: CellJob, work_dir: Path) -> list[str]:
        """The item's argv when work_dir (its own copy of the code) is R's working directory."""
        ...

    def item_files(self, job: CellJob) -> dict[str, Path]:
        """Local files the item reads that its packed job must carry (relative name in the item's folder -> local
        path); none where the job reads this machine's files in place."""
        ...

    def submit_pack(self, launch: PackLaunch) -> JobHandle:
        """Start the runner over launch.pack_dir as one job named launch.name; an existing one is attached to."""
        ...

    def sync_pack(self, handle: JobHandle, pack_dir: Path, items: Sequence[str] | None) -> None:
        """Bring the runner's progress.log into pack_dir up to date, then the result files of `items` (of every item
        when None), so rjobs.packing reads a local folder whatever the backend; a no-op where it is local."""
        ...
