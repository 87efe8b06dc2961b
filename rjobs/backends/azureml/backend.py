"""AzureMLBackend: each cell an Azure ML command job, driven through an injected azure-ai-ml MLClient.

The class only composes collaborators, one job each: calls (counted requests, transient errors translated),
assets and environments (versioned by content), smoke (the environment check job), submit (create, find, cancel),
status (batched states, a run's jobs), collect (downloads sandboxed into the cell folder) over storage (job files
streamed from the datastores, looked up once), models (registration). `storage_options` reach every storage client.

Retry budget, one layer per kind of failure, never stacked:
- HTTP: azure-core inside the SDK retries each request up to workspace.HTTP_RETRIES (3) times, so one SDK call is
  at most 4 requests.
- Per-cell operations (find, submit, cancel, collect, logs; status is polled again by the monitor) are not retried
  here: TransientBackendError reaches the engine, which retries the operation through its RetryPolicy, at most
  rjobs.engine.sweep.CONTROL_PLANE_ATTEMPTS x 4 requests (a create that meets "exists" adds one get per attempt).
- Setup before the fan-out (data, environment, code, the smoke job's requests and polls) has no engine retry around
  it, so it goes through this backend's injected RetryPolicy: at most ATTEMPTS (4) x 4 = 16 requests per call.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rjobs.backends.azureml.assets import VERSION_LENGTH, CodeAssets, CodeUploader, DataAssets
from rjobs.backends.azureml.calls import ServiceCalls
from rjobs.backends.azureml.collect import JobCollector
from rjobs.backends.azureml.environments import Environments
from rjobs.backends.azureml.models import register_job_output
from rjobs.backends.azureml.pack_mirror import PackMirror
from rjobs.backends.azureml.packs import build_pack_job, item_files, pack_item_argv
from rjobs.backends.azureml.smoke import PackageScanner, SmokeCheck
from rjobs.backends.azureml.status import JobStatuses, job_handle
from rjobs.backends.azureml.storage import JobStorage
from rjobs.backends.azureml.submit import JobSubmitter
from rjobs.backends.azureml.workspace import workspace_tracking_uri
from rjobs.backends.base import CellJob, EnvironmentInfo, JobHandle, JobStatus, PackLaunch, RegisteredModelRef
from rjobs.core.errors import InputError
from rjobs.core.files import atomic_write_text
from rjobs.core.naming import slug
from rjobs.core.retry import RetryPolicy
from rjobs.core.snapshot import code_snapshot, snapshot_hash
from rjobs.inputs.spec import InputSpec, JobSpec

if TYPE_CHECKING:
    from rjobs.engine.ledger import CellRecord

PACK_HANDLE_FILE = "handle.json"
"""As the local backend's: a pack folder holding it was started, and the engine does not write it again."""


class AzureMLBackend:
    """Jobs named `<run>-<cell>[-rN]` in one workspace; a name that exists is attached to, never duplicated.

    Implements Backend and the capabilities ListsRunJobs, HasWorkspaceTracking, JobsAreMlflowRuns, RegistersModels
    and RunsPackedJobs."""

    remote = True

    def __init__(
        self,
        ml_client: Any,
        *,
        name: str = "azureml",
        environment_file: Path | None = None,
        code_uploader: CodeUploader | None = None,
        env_smoke: bool = True,
        r_packages: PackageScanner | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        retry: RetryPolicy | None = None,
        smoke_timeout: float = 3600.0,
        poll_interval: float = 15.0,
        max_poll_interval: float = 60.0,
        smoke_attempts: int = 2,
        list_threshold: int = 5,
        max_list_pages: int = 10,
        storage_options: Mapping[str, Any] | None = None,
    ) -> None:
        self.ml_client = ml_client
        self.name = name
        self.env_smoke = env_smoke
        self.retry = retry if retry is not None else RetryPolicy(sleep=sleep, cap_s=max(max_poll_interval, 2.0))
        self.calls = ServiceCalls(ml_client)
        self.data = DataAssets(self.calls, self.retry)
        self.code = CodeAssets(self.calls, self.retry, code_uploader)
        self.environments = Environments(self.calls, self.retry, Path(environment_file) if environment_file else None)
        self.submitter = JobSubmitter(self.calls, name)
        self.statuses = JobStatuses(self.calls, name, list_threshold=list_threshold, max_list_pages=max_list_pages)
        storage = JobStorage(self.calls, storage_options)
        self.collector = JobCollector(self.calls, storage)
        self.mirror = PackMirror(self.calls, storage)
        self.smoke = SmokeCheck(
            self.calls,
            self.submitter,
            self.statuses,
            self.collector,
            self.retry,
            backend=name,
            r_packages=r_packages,
            clock=clock,
            sleep=sleep,
            timeout=smoke_timeout,
            poll_interval=poll_interval,
            max_poll_interval=max_poll_interval,
            attempts=smoke_attempts,
        )
        self.environment: str | None = None
        """The pinned environment reference cells run on, set by ensure_environment (or the first submit)."""

    # -- Backend ------------------------------------------------------------------------------------------------

    def ensure_data(self, spec: JobSpec) -> dict[str, InputSpec]:
        """Local data becomes a Data asset versioned by content, created only when that version is new."""
        return self.data.ensure(spec)

    def ensure_environment(self, spec: JobSpec) -> EnvironmentInfo:
        """Register the environment when its content is new, then prove it with one smoke job."""
        reference, created = self.environments.reference(spec)
        self.environment = reference
        if self.env_smoke:
            self.smoke.prove(spec, reference)
        return EnvironmentInfo(reference=reference, created=created)

    def ensure_code(self, spec: JobSpec) -> None:
        """Register the code folder once as a Code asset versioned by content; jobs then reference its id."""
        self.code.ensure(spec)

    def code_id(self, spec: JobSpec) -> str | None:
        """The registered code asset's id jobs of this spec reference, uploading the code the first time."""
        return self.code.ensure(spec)

    def find(self, job: CellJob) -> JobHandle | None:
        """The existing job of this name, if any: one get."""
        return self.submitter.find(job)

    def submit(self, job: CellJob) -> JobHandle:
        """Create the cell's job against the registered code and environment; an existing name is attached."""
        code = self.code.ensure(job.spec)
        if self.environment is None:
            self.environment, _ = self.environments.reference(job.spec)
        handle = self.submitter.submit(job, self.environment, code)
        self.statuses.note_created(handle)
        return handle

    def status(self, handles: Sequence[JobHandle]) -> dict[str, JobStatus]:
        """One listing per run when many jobs are in flight, a get each otherwise; unknown names are Absent."""
        return self.statuses.status(handles)

    def cancel(self, handle: JobHandle) -> None:
        """Ask for cancellation without waiting; a vanished or finished job is fine."""
        self.submitter.cancel(handle)

    def collect(self, handle: JobHandle, cell_dir: Path) -> Path:
        """Download logs and outputs, then move ./outputs and named outputs into cell_dir/outputs, checked."""
        return self.collector.collect(handle, cell_dir)

    def logs(self, handle: JobHandle, cell_dir: Path) -> Path | None:
        """The user log (std_log.txt), downloaded once; None while the job is not terminal or has none."""
        return self.collector.logs(handle, cell_dir)

    # -- capabilities ---------------------------------------------------------------------------------------------

    def item_argv(self, job: CellJob, work_dir: Path) -> list[str]:
        """A packed item's argv as the cell's own job would run it, relative to its code copy on the node."""
        return pack_item_argv(job)

    def item_files(self, job: CellJob) -> dict[str, Path]:
        """An item's own local files (a batch), shipped in the pack's code: one upload for the pack, not one asset
        per batch."""
        return item_files(job)

    def submit_pack(self, launch: PackLaunch) -> JobHandle:
        """The pack folder uploaded as the job's code (versioned by content) and one command job running the
        runner over it (packs.py); an existing job of the pack's name is attached to."""
        from azure.ai.ml.exceptions import ValidationException

        handle_file = launch.pack_dir / PACK_HANDLE_FILE
        if handle_file.is_file():
            return JobHandle.from_json(json.loads(handle_file.read_text()))
        if self.environment is None:
            self.environment, _ = self.environments.reference(launch.spec)
        snapshot = code_snapshot(launch.pack_dir)
        code = self.code.uploader(
            launch.pack_dir, slug(f"{launch.spec.experiment}-pack", limit=120), snapshot_hash(snapshot)[:VERSION_LENGTH]
        )
        try:
            created = self.submitter.create(build_pack_job(launch, self.environment, code))
        except ValidationException as exc:
            raise InputError(
                launch.spec.source, launch.name, f"azure-ai-ml rejects the packed job ({exc})", "fix job.yml"
            ) from None
        handle = job_handle(created, self.name, launch.jobs[0].run)
        self.statuses.note_created(handle)
        atomic_write_text(handle_file, json.dumps(handle.to_json()))
        return handle

    def sync_pack(self, handle: JobHandle, pack_dir: Path, items: Sequence[str] | None) -> None:
        """The pack's progress and the named items' files mirrored from its output's blobs (pack_mirror)."""
        self.mirror.sync(handle, pack_dir, items)

    def jobs_of_run(self, run: str, run_dir: Path) -> list[JobHandle]:
        """Every job carrying the run's property, so cancel finds jobs the ledger missed; the service needs no
        run_dir."""
        return self.statuses.jobs_of_run(run)

    def tracking_uri(self) -> str:
        """The workspace's MLflow; an azureml:// one is reached through the azureml-mlflow plugin, checked in one line
        (the flow checks it before any job runs, rjobs.engine.wiring)."""
        from rjobs.results.tracking import require_azureml_mlflow

        uri = workspace_tracking_uri(self.ml_client)
        if uri.startswith("azureml:"):
            require_azureml_mlflow()
        return uri

    def job_run_id(self, record: CellRecord) -> str | None:
        """Every Azure ML job is a run in the workspace's MLflow whose run id is the job's name; a cell reused from
        another sweep has none of its own here (its job run stays that sweep's), nor has a cell run in a packed job
        (the pack is the job: the cell is logged as a run of its own, as locally)."""
        packed = "pack_dir" in ((record.handle or {}).get("data") or {})
        return None if record.reused_from or packed else record.job_name or None

    def register_model(
        self, name: str, job_name: str, model_path: str, tags: Mapping[str, str], description: str
    ) -> RegisteredModelRef:
        """A custom_model version from the job's output file; the same source again is the same version."""
        return register_job_output(self.calls, name, job_name, model_path, tags, description)
