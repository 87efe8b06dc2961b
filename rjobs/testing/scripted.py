"""ScriptedBackend: a Backend whose jobs live scripted lives on a fake clock, for unit tests of the engine.

A job's life is scripted by its name (an exact job name, or an fnmatch pattern such as `run-*-r2`):

    ScriptedJob(
        phases=[("Queued", 10), ("Running", 30)],  # (state, seconds) from the moment it is submitted
        outcome="Completed",                         # the terminal state after the phases; None: it never ends
        outputs={"metrics.json": '{"rmse": 1.5}'},   # written into <cell_dir>/outputs by collect
        log="Error: boom",                           # its std_log.txt (logs and collect write it); None: no log
        cancel_s=0.0,                                # seconds from a cancel to Canceled; None: it ignores cancels
    )

The format (ScriptedJob, Fault, Call) lives in rjobs.testing.scripted_jobs and is re-exported here. Faults make calls
raise: `Fault("submit", calls=(1,))` fails the first submit with a TransientBackendError,
`Fault("collect", calls=None, job="run-c1*")` fails every collect of those jobs, `Fault("submit", lost=True)` creates
the job and then raises, as a response lost on its way back would. Every call is recorded in `calls` (operation, job
names, time, error raised), so tests assert on what the engine asked as well as on what it concluded.
"""

from __future__ import annotations

import fnmatch
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from rjobs.backends.base import CellJob, EnvironmentInfo, JobHandle, JobStatus
from rjobs.core.files import LOG_FILE, OUTPUTS_DIR
from rjobs.core.states import STALLED, JobState
from rjobs.inputs.spec import InputSpec, JobSpec
from rjobs.testing.scripted_jobs import OPERATIONS, Call, Fault, ScriptedJob

T = TypeVar("T")


@dataclass
class _Job:
    name: str
    script: ScriptedJob
    started: float
    cancel_at: float | None = None


class ScriptedBackend:
    """Implements the Backend protocol (and ListsRunJobs) on scripted jobs; thread-safe, never sleeps. Past
    `max_calls` calls every call raises RuntimeError, so an engine that loops fails its test instead of hanging it."""

    def __init__(
        self,
        clock: Callable[[], float],
        scripts: Mapping[str, ScriptedJob] | None = None,
        *,
        default: ScriptedJob | None = None,
        faults: Sequence[Fault] = (),
        remote: bool = False,
        name: str = "scripted",
        max_calls: int = 100_000,
    ) -> None:
        if not callable(clock):
            raise ValueError(f"clock: expected a callable returning seconds, got {clock!r}")
        scripts = dict(scripts or {})
        for key, script in scripts.items():
            if not isinstance(key, str) or not key:
                raise ValueError(f"scripts: {key!r} is not a job name or pattern")
            if not isinstance(script, ScriptedJob):
                raise ValueError(f"scripts[{key!r}]: expected a ScriptedJob, got {type(script).__name__}")
        if default is not None and not isinstance(default, ScriptedJob):
            raise ValueError(f"default: expected a ScriptedJob or None, got {type(default).__name__}")
        for fault in faults:
            if not isinstance(fault, Fault):
                raise ValueError(f"faults: expected Fault instances, got {fault!r}")
        self.clock = clock
        self.scripts = scripts
        self.default = default
        self.faults = list(faults)
        if isinstance(max_calls, bool) or not isinstance(max_calls, int) or max_calls < 1:
            raise ValueError(f"max_calls: expected a positive number of calls, got {max_calls!r}")
        self.remote = remote
        self.name = name
        self.max_calls = max_calls
        self.calls: list[Call] = []
        self._counts = [0] * len(self.faults)
        self._jobs: dict[str, _Job] = {}
        self._hooks: list[tuple[str, Callable[[Call], bool], Callable[[], object]]] = []
        self._lock = threading.RLock()

    # -- test controls ---------------------------------------------------------------------------------------------

    def script_for(self, job_name: str) -> ScriptedJob:
        """The script of a job name: its exact entry, else the first matching pattern, else the default."""
        if job_name in self.scripts:
            return self.scripts[job_name]
        for pattern, script in self.scripts.items():
            if fnmatch.fnmatchcase(job_name, pattern):
                return script
        if self.default is None:
            raise ValueError(f"no script for job {job_name!r} (scripts: {sorted(self.scripts)}) and no default")
        return self.default

    def add_existing(self, job_name: str, started_at: float | None = None) -> JobHandle:
        """A job another process submitted (no call is recorded): the backend's truth a resume starts from."""
        with self._lock:
            if job_name in self._jobs:
                raise ValueError(f"job {job_name!r} exists already")
            started = self.clock() if started_at is None else started_at
            self._jobs[job_name] = _Job(job_name, self.script_for(job_name), started)
            return self._handle(job_name)

    def on(self, operation: str, action: Callable[[], object], when: Callable[[Call], bool] | None = None) -> None:
        """Run `action` once, right after the first call of `operation` for which `when(call)` holds (default: the
        next one), outside the backend's lock: e.g. cancel a sweep at a point defined by progress."""
        if operation not in OPERATIONS:
            raise ValueError(f"on: unknown operation {operation!r}; known: {OPERATIONS}")
        with self._lock:
            self._hooks.append((operation, when or (lambda call: True), action))

    def count(self, operation: str | None = None, job: str | None = None) -> int:
        """Calls made, of one operation or all, about one job (exact name) or any."""
        with self._lock:
            return sum(
                1
                for c in self.calls
                if (operation is None or c.operation == operation) and (job is None or job in c.jobs)
            )

    def ops(self, job: str | None = None) -> list[str]:
        """The operations called, in order, about one job (exact name) or any."""
        with self._lock:
            return [c.operation for c in self.calls if job is None or job in c.jobs]

    def created(self) -> list[str]:
        """Names of the jobs this backend holds, in the order they started to exist."""
        with self._lock:
            return list(self._jobs)

    def state_of(self, job_name: str) -> JobState:
        with self._lock:
            job = self._jobs.get(job_name)
            return JobState.ABSENT if job is None else self._state(job)

    # -- the Backend protocol --------------------------------------------------------------------------------------

    def ensure_data(self, spec: JobSpec) -> dict[str, InputSpec]:
        return self._call("ensure_data", (), lambda: dict(spec.inputs))

    def ensure_environment(self, spec: JobSpec) -> EnvironmentInfo:
        return self._call("ensure_environment", (), lambda: EnvironmentInfo(reference=f"{self.name}:environment"))

    def ensure_code(self, spec: JobSpec) -> None:
        self._call("ensure_code", ())

    def find(self, job: CellJob) -> JobHandle | None:
        return self._call(
            "find", (job.job_name,), lambda: self._handle(job.job_name) if job.job_name in self._jobs else None
        )

    def submit(self, job: CellJob) -> JobHandle:
        """A new job starts its script now; a job of the same name is attached to, as the protocol asks."""

        def create() -> JobHandle:
            if job.job_name not in self._jobs:
                self._jobs[job.job_name] = _Job(job.job_name, self.script_for(job.job_name), self.clock())
            return self._handle(job.job_name)

        return self._call("submit", (job.job_name,), create)

    def status(self, handles: Sequence[JobHandle]) -> dict[str, JobStatus]:
        names = tuple(h.job_name for h in handles)
        return self._call("status", names, lambda: {name: self._status(name) for name in names})

    def cancel(self, handle: JobHandle) -> None:
        """Asks the job to stop: Canceled `cancel_s` later unless it ends first; unknown or ended jobs: a no-op."""

        def request() -> None:
            job = self._jobs.get(handle.job_name)
            stoppable = job is not None and (not self._state(job).terminal or self._state(job) in STALLED)
            if job is not None and job.cancel_at is None and stoppable:
                job.cancel_at = self.clock()

        self._call("cancel", (handle.job_name,), request)

    def collect(self, handle: JobHandle, cell_dir: Path) -> Path:
        """The script's outputs into cell_dir/outputs and its log beside them; only a finished job has outputs."""

        def download() -> Path:
            job = self._jobs.get(handle.job_name)
            state = JobState.ABSENT if job is None else self._state(job)
            if job is None or not state.terminal:
                raise RuntimeError(f"collect of job {handle.job_name!r} in state {state.value}: it has not finished")
            target = cell_dir / OUTPUTS_DIR
            target.mkdir(parents=True, exist_ok=True)
            for name, content in job.script.outputs.items():
                path = target / name
                path.parent.mkdir(parents=True, exist_ok=True)
                if isinstance(content, bytes):
                    path.write_bytes(content)
                else:
                    path.write_text(content, encoding="utf-8")
            self._write_log(job, cell_dir)
            return target

        return self._call("collect", (handle.job_name,), download)

    def logs(self, handle: JobHandle, cell_dir: Path) -> Path | None:
        def fetch() -> Path | None:
            job = self._jobs.get(handle.job_name)
            return None if job is None else self._write_log(job, cell_dir)

        return self._call("logs", (handle.job_name,), fetch)

    def jobs_of_run(self, run: str, run_dir: Path) -> list[JobHandle]:
        """Every job whose name is `<run>-...`, as a service listing jobs by the run's tag would find them."""
        return self._call(
            "jobs_of_run", (), lambda: [self._handle(name) for name in self._jobs if name.startswith(f"{run}-")]
        )

    # -- internals -------------------------------------------------------------------------------------------------

    def _call(self, operation: str, jobs: tuple[str, ...], effect: Callable[[], T] | None = None) -> T:
        """Count the call against the faults, take effect (unless a fault stops it first; a `lost` one after), record
        it with what it raised, run the hooks it triggers (outside the lock), then raise or return."""
        with self._lock:
            if len(self.calls) >= self.max_calls:
                raise RuntimeError(f"more than {self.max_calls} backend calls: the engine under test is looping")
            failing: tuple[Fault, int] | None = None
            for index, fault in enumerate(self.faults):
                if fault.operation != operation or not self._concerns(fault, jobs):
                    continue
                self._counts[index] += 1
                if failing is None and (fault.calls is None or self._counts[index] in fault.calls):
                    failing = (fault, self._counts[index])
            result: Any = None
            error: BaseException | None = None
            if effect is not None and (failing is None or failing[0].lost):
                try:
                    result = effect()
                except Exception as exc:
                    error = exc
            if error is None and failing is not None:
                error = failing[0].raised(failing[1])
            call = Call(operation, jobs, self.clock(), type(error).__name__ if error else "")
            self.calls.append(call)
            due = [hook for hook in self._hooks if hook[0] == operation and hook[1](call)]
            self._hooks = [hook for hook in self._hooks if hook not in due]
        for _, _, action in due:
            action()
        if error is not None:
            raise error
        return result  # type: ignore[no-any-return]

    @staticmethod
    def _concerns(fault: Fault, jobs: tuple[str, ...]) -> bool:
        if fault.job == "*":
            return True
        return any(fnmatch.fnmatchcase(name, fault.job) for name in jobs)

    def _state(self, job: _Job) -> JobState:
        """The scripted state now; after a cancel, CancelRequested until the job stops (Canceled) or ends by itself."""
        now = self.clock()
        natural = job.script.state_at(now - job.started)
        if job.cancel_at is None or job.script.cancel_s is None:
            return natural
        stops = job.cancel_at + job.script.cancel_s
        ends = job.started + job.script.duration
        if now >= stops and (stops < ends or natural in STALLED):  # a stalled job still stops when cancelled
            return JobState.CANCELED
        return natural if now >= ends and natural not in STALLED else JobState.CANCEL_REQUESTED

    def _status(self, name: str) -> JobStatus:
        job = self._jobs.get(name)
        if job is None:
            return JobStatus(name, JobState.ABSENT)
        state = self._state(job)
        exit_code = {JobState.COMPLETED: 0, JobState.FAILED: 1}.get(state)
        detail = job.script.detail if state.failed else ""
        return JobStatus(name, state, detail, url=f"{self.name}://jobs/{name}", exit_code=exit_code)

    def _handle(self, name: str) -> JobHandle:
        return JobHandle(job_name=name, backend=self.name, data={"started": self._jobs[name].started})

    @staticmethod
    def _write_log(job: _Job, cell_dir: Path) -> Path | None:
        if job.script.log is None:
            return None
        cell_dir.mkdir(parents=True, exist_ok=True)
        path = cell_dir / LOG_FILE
        path.write_text(job.script.log, encoding="utf-8")
        return path


__all__ = ["OPERATIONS", "Call", "Fault", "ScriptedBackend", "ScriptedJob"]
