"""AzureMLBackend: each cell an Azure ML command job, driven through an injected azure-ai-ml MLClient."""

from __future__ import annotations

import email.utils
import io
import logging
import os
import shutil
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path, PurePosixPath, PureWindowsPath
from typing import Any

import yaml

from rjobs.backends.azureml.jobs import (
    R_PACKAGE,
    RUN_PROPERTY,
    build_command_job,
    build_smoke_job,
)
from rjobs.backends.base import CellJob, EnvironmentInfo, JobHandle, JobStatus
from rjobs.core.errors import EnvironmentCheckError, InputError, TransientBackendError
from rjobs.core.files import tail_text
from rjobs.core.naming import content_hash, hash_tree, slug
from rjobs.core.states import JobState, parse_state
from rjobs.inputs.spec import InputSpec, JobSpec, check_local_files

log = logging.getLogger(__name__)

LOG_FILE = "std_log.txt"
OUTPUTS_DIR = "outputs"
ARTIFACTS_DIR = "artifacts"
NAMED_OUTPUTS_DIR = "named-outputs"
USER_LOGS = ("user_logs/std_log.txt", "azureml-logs/70_driver_log.txt")
TRANSIENT_STATUS = frozenset({408, 429, 500, 502, 503, 504})
DATA_ASSET_TYPES = frozenset({"uri_file", "uri_folder", "mltable"})
VERSION_LENGTH = 12

CodeUploader = Callable[[Path, str, str], str]
PackageScanner = Callable[[Path], Mapping[str, Sequence[str]]]


def retry_after_seconds(headers: Mapping[str, str] | None, now: float | None = None) -> float | None:
    """Seconds the service asked us to wait: Retry-After (seconds or HTTP date) or the *-ms variants."""
    if not headers:
        return None
    lower = {str(k).lower(): str(v) for k, v in headers.items()}
    for key in ("retry-after-ms", "x-ms-retry-after-ms"):
        if key in lower:
            try:
                return max(0.0, float(lower[key]) / 1000.0)
            except ValueError:
                pass
    value = lower.get("retry-after")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


def transient_error(operation: str, exc: BaseException) -> TransientBackendError | None:
    """The poller's retryable error for a throttled, failing or unreachable control plane; None otherwise."""
    from azure.core.exceptions import HttpResponseError, ServiceRequestError, ServiceResponseError

    if isinstance(exc, ServiceRequestError | ServiceResponseError):
        return TransientBackendError(f"{operation}: connection problem ({type(exc).__name__})")
    if isinstance(exc, HttpResponseError) and exc.status_code in TRANSIENT_STATUS:
        headers = getattr(exc.response, "headers", None)
        reason = exc.reason or ""
        return TransientBackendError(
            f"{operation}: HTTP {exc.status_code} {reason}".rstrip(), retry_after=retry_after_seconds(headers)
        )
    return None


def service_state(status: str | None) -> JobState | None:
    """JobState for a service status string; None for the SDK's 'Unknown', which says nothing new."""
    if status is not None and status.strip().lower() == "unknown":
        return None
    return parse_state(status)


def safe_target(root: Path, name: str) -> Path | None:
    """root/name if that stays inside root; None for '..', absolute or drive names, or a symlinked parent."""
    if not name or "\0" in name:
        return None
    posix, windows = PurePosixPath(name.replace("\\", "/")), PureWindowsPath(name)
    if posix.is_absolute() or windows.is_absolute() or windows.drive or ".." in posix.parts:
        return None
    target = root / posix
    try:
        target.resolve().relative_to(root.resolve())
    except ValueError:
        return None
    return target


def _clear(path: Path) -> None:
    """Remove a file, a symlink (never its target) or a folder tree."""
    if path.is_symlink() or path.is_file():
        path.unlink()
    elif path.is_dir():
        shutil.rmtree(path)


def relocate(source: Path, target: Path, refused: list[str]) -> int:
    """Move regular files from source into target; symlinks and escaping names are refused and listed."""
    moved = 0
    if source.is_symlink():
        refused.append(str(source))
        return 0
    if not source.is_dir():
        return 0
    for folder, dirs, files in os.walk(source, followlinks=False):
        here = Path(folder)
        for name in list(dirs):
            if (here / name).is_symlink():
                refused.append((here / name).relative_to(source).as_posix())
                dirs.remove(name)
        for name in files:
            path = here / name
            relative = path.relative_to(source).as_posix()
            destination = safe_target(target, relative)
            if path.is_symlink() or not path.is_file() or destination is None:
                refused.append(relative)
                continue
            destination.parent.mkdir(parents=True, exist_ok=True)
            if destination.is_symlink() or destination.is_dir():
                _clear(destination)
            os.replace(path, destination)
            moved += 1
    return moved


def _load(loader: Callable[..., Any], source: Any, where: Path, **options: Any) -> Any:
    """An azure-ai-ml loader whose validation errors become an InputError naming the file."""
    try:
        return loader(source, **options)
    except Exception as exc:
        lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
        raise InputError(
            where, "environment", f"azure-ai-ml cannot load it ({' '.join(lines[:6])})", "fix it"
        ) from None


def _log_tail(path: Path | None, lines: int = 30) -> str:
    """The smoke job's last log lines, read from the end: a huge log is never loaded whole."""
    return tail_text(path, max_lines=lines) if path is not None else ""


class AzureMLBackend:
    """Jobs named `<run>-<cell>[-rN]` in one workspace; a name that exists is attached to, never duplicated."""

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
        smoke_timeout: float = 3600.0,
        poll_interval: float = 15.0,
        max_poll_interval: float = 60.0,
        submit_retries: int = 3,
        smoke_attempts: int = 2,
        list_threshold: int = 5,
        max_list_pages: int = 10,
    ) -> None:
        self.ml_client = ml_client
        self.name = name
        self.environment_file = Path(environment_file) if environment_file else None
        self.code_uploader = code_uploader or self._upload_code
        self.env_smoke = env_smoke
        self.r_packages = r_packages
        self.clock = clock
        self.sleep = sleep
        self.smoke_timeout = smoke_timeout
        self.poll_interval = poll_interval
        self.max_poll_interval = max_poll_interval
        self.submit_retries = submit_retries
        self.smoke_attempts = smoke_attempts
        self.list_threshold = list_threshold
        self.max_list_pages = max_list_pages
        self.calls: Counter[str] = Counter()
        self._lock = threading.Lock()
        self._code: dict[Path, str] = {}
        self._environment: str | None = None
        self._last: dict[str, JobState] = {}
        self._logs_for: set[str] = set()
        self._created: set[str] = set()
        self._validated: set[tuple[str, ...]] = set()

    # -- control-plane calls -------------------------------------------------------------------------

    def _call(self, operation: str, function: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """Every service call goes through here: counted, and transient failures made TransientBackendError."""
        with self._lock:
            self.calls[operation] += 1
        try:
            return function(*args, **kwargs)
        except Exception as exc:
            transient = transient_error(operation, exc)
            if transient is not None:
                raise transient from exc
            raise

    def _get_job(self, job_name: str) -> Any | None:
        from azure.core.exceptions import ResourceNotFoundError

        try:
            return self._call("jobs.get", self.ml_client.jobs.get, job_name)
        except ResourceNotFoundError:
            return None

    def _retrying(self, operation: str, function: Callable[[], Any]) -> Any:
        """A bounded retry for calls that must not be lost (submit, cancel), honouring Retry-After."""
        delay = 2.0
        for attempt in range(self.submit_retries + 1):
            try:
                return function()
            except TransientBackendError as exc:
                if attempt >= self.submit_retries:
                    raise
                wait = max(exc.retry_after or 0.0, delay)
                log.info("%s: %s; retrying in %.0f s", operation, exc, wait)
                self.sleep(wait)
                delay = min(delay * 2, self.max_poll_interval)
        raise AssertionError("unreachable")

    def _handle(
        self, job: Any, run: str | None = None, cell: str | None = None, attempt: int | None = None
    ) -> JobHandle:
        data: dict[str, Any] = {"experiment": getattr(job, "experiment_name", None), "url": job.studio_url}
        properties = getattr(job, "properties", None) or {}
        run = run or properties.get(RUN_PROPERTY)
        if run:
            data["run"] = run
        if cell:
            data["cell"] = cell
        if attempt:
            data["attempt"] = attempt
        return JobHandle(job_name=job.name, backend=self.name, data=data)

    # -- data, environment, code ---------------------------------------------------------------------

    def ensure_data(self, spec: JobSpec) -> dict[str, InputSpec]:
        """Local data becomes a Data asset versioned by content, created only when that version is new."""
        from azure.core.exceptions import ResourceNotFoundError

        check_local_files(spec)
        bound: dict[str, InputSpec] = {}
        for name, spec_input in spec.inputs.items():
            if not spec_input.is_local:
                bound[name] = spec_input
                continue
            if spec_input.type not in DATA_ASSET_TYPES:
                raise InputError(
                    spec.source,
                    f"inputs.{name}",
                    f"is a local {spec_input.type}",
                    "register the model first and reference it as azureml:<name>:<version>",
                )
            local = spec.local_path(spec_input)
            asset = slug(f"{spec.experiment_name}-{name}" if spec.experiment_name else name, limit=120)
            version = hash_tree(local)[:VERSION_LENGTH]
            try:
                self._retrying(
                    "data.get",
                    lambda a=asset, v=version: self._call("data.get", self.ml_client.data.get, name=a, version=v),
                )
            except ResourceNotFoundError:
                from azure.ai.ml.entities import Data

                entity = Data(
                    name=asset,
                    version=version,
                    path=str(local),
                    type=spec_input.type,
                    description=f"{local.name} for {spec.source.name} (rjobs, content {version})",
                )
                self._retrying("data.create_or_update", lambda e=entity: self._create_data(e))
                log.info("registered data %s:%s from %s", asset, version, local)
            bound[name] = InputSpec(
                name=name, type=spec_input.type, path=f"azureml:{asset}:{version}", mode=spec_input.mode
            )
        return bound

    def _create_data(self, entity: Any) -> Any:
        return self._call("data.create_or_update", self.ml_client.data.create_or_update, entity)

    def ensure_environment(self, spec: JobSpec) -> EnvironmentInfo:
        """Register the environment when its content is new, then prove it with one smoke job."""
        reference, created = self._environment_reference(spec)
        self._environment = reference
        if self.env_smoke:
            self._smoke(spec, reference)
        return EnvironmentInfo(reference=reference, created=created)

    def _environment_reference(self, spec: JobSpec) -> tuple[str, bool]:
        from azure.ai.ml import load_environment

        if self.environment_file is not None:
            if not self.environment_file.is_file():
                raise InputError(self.environment_file, None, "file not found", "pass an existing environment YAML")
            return self._register_environment(
                _load(load_environment, self.environment_file, self.environment_file), self.environment_file
            )
        raw = spec.environment
        if isinstance(raw, Mapping):
            inline = {"name": slug(f"{spec.experiment}-env", limit=120), **raw}
            stream = io.StringIO(yaml.safe_dump(inline))
            environment = _load(load_environment, stream, spec.source, relative_origin=str(spec.source))
            return self._register_environment(environment, spec.source)
        if isinstance(raw, str) and raw.startswith("azureml://"):
            return raw, False
        if isinstance(raw, str) and raw.startswith("azureml:"):
            body = raw[len("azureml:") :]
            if "@" in body:
                return self._pin_label(spec, *body.split("@", 1)), False
            return raw, False
        if raw is None:
            raise InputError(
                spec.source,
                "environment",
                "is missing",
                "set environment: azureml:<name>@latest or an environment YAML",
            )
        raise InputError(
            spec.source,
            "environment",
            f"{raw!r} is not an Azure ML environment",
            "use azureml:<name>:<version>, azureml:<name>@latest or an environment YAML (build: path: docker-context)",
        )

    def _pin_label(self, spec: JobSpec, name: str, label: str) -> str:
        """`name@latest` pinned to its version now, so every cell (and the smoke job) uses the same image."""
        from azure.core.exceptions import ResourceNotFoundError

        try:
            found = self._retrying(
                "environments.get",
                lambda: self._call("environments.get", self.ml_client.environments.get, name=name, label=label),
            )
        except ResourceNotFoundError:
            raise InputError(
                spec.source,
                "environment",
                f"azureml:{name}@{label} does not exist in the workspace",
                "create it (az ml environment create -f environment-job.yml) or fix the name",
            ) from None
        return f"azureml:{found.name}:{found.version}"

    def _register_environment(self, environment: Any, source: Path) -> tuple[str, bool]:
        from azure.core.exceptions import ResourceNotFoundError

        if not environment.name:
            raise InputError(source, "name", "is missing", "give the environment a name")
        version = environment_version(environment)
        reference = f"azureml:{environment.name}:{version}"
        try:
            self._retrying(
                "environments.get",
                lambda: self._call(
                    "environments.get", self.ml_client.environments.get, name=environment.name, version=version
                ),
            )
            return reference, False
        except ResourceNotFoundError:
            pass
        environment.version = version
        self._retrying(
            "environments.create_or_update",
            lambda: self._call(
                "environments.create_or_update", self.ml_client.environments.create_or_update, environment
            ),
        )
        log.info("registered environment %s", reference)
        return reference, True

    def _packages(self, spec: JobSpec) -> list[str]:
        if spec.code is None:
            return []
        if self.r_packages is not None:
            used = self.r_packages(spec.code)
        else:
            from rjobs.environment.check import r_packages_used

            used = r_packages_used(spec.code, include_optional=False)
        packages = sorted(p for p in used if R_PACKAGE.match(p))
        skipped = sorted(set(used) - set(packages))
        if skipped:
            log.warning("environment check skips names that are not R packages: %s", ", ".join(skipped))
        return packages

    def _smoke(self, spec: JobSpec, reference: str) -> None:
        """One job per (environment, packages): Completed earlier is reused, running is attached, failed retried."""
        packages = self._packages(spec)
        base = f"rjobs-envcheck-{content_hash([reference, *packages], VERSION_LENGTH)}"
        last_failed: Any = None
        for attempt in range(1, self.smoke_attempts + 1):
            job_name = base if attempt == 1 else f"{base}-r{attempt}"
            existing = self._retrying("jobs.get", lambda name=job_name: self._get_job(name))
            if existing is None:
                entity = build_smoke_job(job_name, spec, reference, packages)
                existing = self._create(entity)
                log.info("environment check %s started for %s", job_name, reference)
            state = service_state(existing.status) or JobState.NOT_STARTED
            if state == JobState.COMPLETED:
                return
            if state.terminal:
                last_failed = existing
                continue
            status = self._wait(self._handle(existing))
            if status.state == JobState.COMPLETED:
                return
            self._fail_smoke(job_name, status.state.value, status.url)
        assert last_failed is not None
        self._fail_smoke(last_failed.name, str(last_failed.status), last_failed.studio_url)

    def _fail_smoke(self, job_name: str, state: str, url: str | None) -> None:
        handle = JobHandle(job_name=job_name, backend=self.name)
        with tempfile.TemporaryDirectory(prefix="rjobs-envcheck-") as folder:
            tail = _log_tail(self.logs(handle, Path(folder)))
        detail = f"environment check job ended {state}" + (f"; last log lines:\n{tail}" if tail else "")
        raise EnvironmentCheckError(job_name, detail, look_at=url)

    def _wait(self, handle: JobHandle) -> JobStatus:
        """Poll one job with the injected clock until terminal; past the deadline cancel it and fail."""
        deadline = self.clock() + self.smoke_timeout
        interval = self.poll_interval
        while True:
            try:
                status = self.status([handle])[handle.job_name]
            except TransientBackendError as exc:
                self.sleep(max(exc.retry_after or 0.0, interval))
                continue
            if status.state.terminal:
                return status
            now = self.clock()
            if now >= deadline:
                self.cancel(handle)
                raise EnvironmentCheckError(
                    handle.job_name, f"not finished after {self.smoke_timeout:g} s, cancelled", look_at=status.url
                )
            self.sleep(min(interval, max(deadline - now, 0.0)))
            interval = min(interval * 1.5, self.max_poll_interval)

    def ensure_code(self, spec: JobSpec) -> None:
        """Register the code folder once as a Code asset versioned by content; jobs then reference its id."""
        if spec.code is None:
            return
        with self._lock:
            if spec.code in self._code:
                return
        name = slug(f"{spec.experiment}-{spec.code.name}", limit=120)
        version = hash_tree(spec.code)[:VERSION_LENGTH]
        reference = self.code_uploader(spec.code, name, version)
        with self._lock:
            self._code[spec.code] = reference

    def _upload_code(self, path: Path, name: str, version: str) -> str:
        """azure-ai-ml 1.35 has no public code operations; MLClient._code is what jobs.create_or_update uses."""
        from azure.ai.ml.entities._assets import Code
        from azure.core.exceptions import ResourceNotFoundError

        operations = self.ml_client._code
        try:
            found = self._retrying(
                "code.get", lambda: self._call("code.get", operations.get, name=name, version=version)
            )
        except ResourceNotFoundError:
            entity = Code(name=name, version=version, path=str(path))
            found = self._retrying(
                "code.create_or_update",
                lambda: self._call("code.create_or_update", operations.create_or_update, entity),
            )
            log.info("registered code %s:%s from %s", name, version, path)
        return str(found.id or f"azureml:{name}:{version}")

    # -- jobs ----------------------------------------------------------------------------------------

    def find(self, job: CellJob) -> JobHandle | None:
        """The existing job of this name, if any: one get."""
        found = self._get_job(job.job_name)
        return None if found is None else self._handle(found, job.run, job.cell_id, job.attempt)

    def _create(self, entity: Any) -> Any:
        """create_or_update with bounded retries; a name we created, or one the service refuses because it
        exists, is attached to with a get instead. The SDK's local schema validation (about 18 ms of CPU a job)
        runs for the first job of each shape: a sweep's cells differ in values, which the service still checks."""
        from azure.core.exceptions import HttpResponseError

        shape = (
            type(entity).__name__,
            str(entity.experiment_name),
            str(entity.environment),
            str(entity.code),
            str(entity.compute),
            ",".join(sorted(entity.inputs or {})),
            ",".join(sorted(entity.outputs or {})),
        )

        def attempt() -> Any:
            if entity.name in self._created:
                existing = self._get_job(entity.name)
                if existing is not None:
                    return existing
            try:
                create = self.ml_client.jobs.create_or_update
                created = self._call("jobs.create_or_update", create, entity, skip_validation=shape in self._validated)
                with self._lock:
                    self._created.add(entity.name)
                    self._validated.add(shape)
                return created
            except HttpResponseError:
                existing = self._get_job(entity.name)
                if existing is None:
                    raise
                log.info("job %s already exists: attaching", entity.name)
                return existing

        return self._retrying("jobs.create_or_update", attempt)

    def submit(self, job: CellJob) -> JobHandle:
        """Create the cell's job against the registered code and environment; an existing name is attached."""
        from azure.ai.ml.exceptions import ValidationException

        if job.spec.code is not None and job.spec.code not in self._code:
            self.ensure_code(job.spec)
        if self._environment is None:
            self._environment, _ = self._environment_reference(job.spec)
        code = self._code.get(job.spec.code) if job.spec.code is not None else None
        try:
            entity = build_command_job(job, self._environment, code)
            created = self._create(entity)
        except ValidationException as exc:
            raise InputError(
                job.spec.source, job.job_name, f"azure-ai-ml rejects the job ({exc})", "fix job.yml"
            ) from None
        return self._handle(created, job.run, job.cell_id, job.attempt)

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
                results[job.name] = self._job_status(job)
            singles.extend(h for h in group if h.job_name not in results)
        for handle in singles:
            job = self._get_job(handle.job_name)
            results[handle.job_name] = (
                JobStatus(handle.job_name, JobState.ABSENT, "no such job in the workspace")
                if job is None
                else self._job_status(job)
            )
        return results

    def jobs_of_run(self, run: str) -> list[JobHandle]:
        """Every job carrying the run's property: flows.cancel finds jobs the ledger missed (crash after create)."""
        pages = self.ml_client.jobs.list(properties=f"{RUN_PROPERTY}={run}").by_page()
        handles: list[JobHandle] = []
        for _ in range(self.max_list_pages):
            page = self._next_page(pages)
            if page is None:
                break
            handles.extend(self._handle(job) for job in page if job is not None)
        return handles

    def _list_run(self, run: str, wanted: set[str]) -> Iterator[Any]:
        """Jobs of one run from jobs.list filtered by our run property; stops once every wanted job is seen."""
        pager = self.ml_client.jobs.list(properties=f"{RUN_PROPERTY}={run}")
        pages = pager.by_page()
        remaining = set(wanted)
        for _ in range(self.max_list_pages):
            page = self._next_page(pages)
            if page is None:
                return
            for job in page:
                if job is not None and job.name in remaining:
                    remaining.discard(job.name)
                    yield job
            if not remaining:
                return

    def _next_page(self, pages: Iterator[Any]) -> list[Any] | None:
        """One page of a listing is one request; the end of the listing costs none."""
        try:
            page = list(next(pages))
        except StopIteration:
            return None
        except Exception as exc:
            with self._lock:
                self.calls["jobs.list"] += 1
            transient = transient_error("jobs.list", exc)
            if transient is not None:
                raise transient from exc
            raise
        with self._lock:
            self.calls["jobs.list"] += 1
        return page

    def _job_status(self, job: Any) -> JobStatus:
        state = service_state(job.status)
        detail = ""
        if state is None:
            state = self._last.get(job.name, JobState.NOT_STARTED)
            detail = "the service reports Unknown; showing the last known state"
        elif state == JobState.NOT_RESPONDING:
            detail = "the job stopped sending heartbeats"
        with self._lock:
            self._last[job.name] = state
        return JobStatus(job.name, state, detail, url=job.studio_url)

    def cancel(self, handle: JobHandle) -> None:
        """Ask for cancellation without waiting on the service's poller; a vanished or finished job is fine."""
        from azure.core.exceptions import HttpResponseError, ResourceNotFoundError

        try:
            self._retrying(
                "jobs.begin_cancel",
                lambda: self._call("jobs.begin_cancel", self.ml_client.jobs.begin_cancel, handle.job_name),
            )
        except ResourceNotFoundError:
            log.info("cancel %s: no such job", handle.job_name)
        except HttpResponseError as exc:
            log.warning("cancel %s refused: %s", handle.job_name, str(exc).splitlines()[0] if str(exc) else exc)

    # -- results -------------------------------------------------------------------------------------

    def _download(self, handle: JobHandle, cell_dir: Path, **options: Any) -> Path:
        """Download into a fresh folder inside cell_dir, so nothing the service names lands elsewhere."""
        cell_dir.mkdir(parents=True, exist_ok=True)
        folder = Path(tempfile.mkdtemp(prefix=".download-", dir=cell_dir))
        try:
            self._call(
                "jobs.download", self.ml_client.jobs.download, handle.job_name, download_path=str(folder), **options
            )
        except BaseException:
            shutil.rmtree(folder, ignore_errors=True)
            raise
        return folder

    def _place_log(self, artifacts: Path, cell_dir: Path, refused: list[str]) -> Path | None:
        candidates = [artifacts / name for name in USER_LOGS]
        candidates += (
            sorted((artifacts / "user_logs").glob("std_log*.txt")) if (artifacts / "user_logs").is_dir() else []
        )
        for source in candidates:
            if source.is_symlink():
                refused.append(source.relative_to(artifacts).as_posix())
                continue
            if source.is_file() and safe_target(artifacts, source.relative_to(artifacts).as_posix()) is not None:
                target = cell_dir / LOG_FILE
                if target.is_symlink() or target.is_dir():
                    _clear(target)
                os.replace(source, target)
                return target
        return None

    def collect(self, handle: JobHandle, cell_dir: Path) -> Path:
        """Download logs and outputs, then move ./outputs and named outputs into cell_dir/outputs, checked."""
        folder = self._download(handle, cell_dir, all=True)
        refused: list[str] = []
        outputs = cell_dir / OUTPUTS_DIR
        try:
            if outputs.exists() or outputs.is_symlink():
                _clear(outputs)
            outputs.mkdir(parents=True)
            relocate(folder / ARTIFACTS_DIR / OUTPUTS_DIR, outputs, refused)
            named = folder / NAMED_OUTPUTS_DIR
            if named.is_dir() and not named.is_symlink():
                for child in sorted(named.iterdir()):
                    target = safe_target(outputs, child.name)
                    if target is None or child.is_symlink():
                        refused.append(f"{NAMED_OUTPUTS_DIR}/{child.name}")
                        continue
                    relocate(child, target, refused)
            if self._place_log(folder / ARTIFACTS_DIR, cell_dir, refused) is not None:
                self._logs_for.add(handle.job_name)
        finally:
            shutil.rmtree(folder, ignore_errors=True)
        for name in refused:
            log.warning("job %s: refused to collect %r (symlink or outside the cell folder)", handle.job_name, name)
        return outputs

    def logs(self, handle: JobHandle, cell_dir: Path) -> Path | None:
        """The user log (std_log.txt), downloaded once; None while the job is not terminal or has none."""
        from azure.ai.ml.exceptions import JobException

        target = cell_dir / LOG_FILE
        if handle.job_name in self._logs_for and target.is_file():
            return target
        try:
            folder = self._download(handle, cell_dir)
        except JobException:
            return None
        refused: list[str] = []
        try:
            placed = self._place_log(folder / ARTIFACTS_DIR, cell_dir, refused)
        finally:
            shutil.rmtree(folder, ignore_errors=True)
        for name in refused:
            log.warning("job %s: refused log %r", handle.job_name, name)
        if placed is not None:
            self._logs_for.add(handle.job_name)
        return placed


def environment_version(environment: Any) -> str:
    """Content hash of what the image is built from: the build context's files, or image and conda file."""
    parts: list[str] = []
    build = getattr(environment, "build", None)
    if build is not None and build.path:
        context = Path(build.path)
        if not context.is_absolute():
            context = Path(environment.base_path or ".") / context
        if context.exists():
            parts += [hash_tree(context), build.dockerfile_path or "Dockerfile"]
        else:
            parts.append(str(build.path))
    if getattr(environment, "image", None):
        parts.append(str(environment.image))
    conda = getattr(environment, "conda_file", None)
    if conda:
        parts.append(yaml.safe_dump(conda, sort_keys=True))
    if not parts:
        raise InputError(None, f"environment {environment.name}", "has no build context or image", "add build: path:")
    return content_hash(parts, VERSION_LENGTH)
