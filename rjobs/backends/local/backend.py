"""LocalBackend: each cell's R command as a subprocess in a per-cell copy of the code folder."""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from rjobs.backends.base import CellJob, EnvironmentInfo, JobHandle, JobStatus, PackLaunch
from rjobs.backends.local import runner as local_runner
from rjobs.backends.local.collect import collect_outputs, copy_log
from rjobs.backends.local.environment import check_pass_env, job_environment
from rjobs.core.errors import InputError
from rjobs.core.files import LOG_FILE, OUTPUTS_DIR, atomic_write_text
from rjobs.core.hashing import hash_tree
from rjobs.core.snapshot import code_snapshot, copy_snapshot, snapshot_hash
from rjobs.core.states import JobState
from rjobs.core.step_metrics import STEP_METRICS_FILE, read_step_metrics
from rjobs.core.values import value_text
from rjobs.environment import check as envcheck
from rjobs.inputs.command import render_argv
from rjobs.inputs.spec import InputSpec, JobSpec, check_local_files
from rjobs.packing.items import runner_command

log = logging.getLogger(__name__)
JOBS_DIR = ".jobs"
EXIT_FILE = "exit.json"
HANDLE_FILE = "handle.json"
LOCK_FILE = "supervisor.lock"
ADOPT_WAIT_S = 10.0
REAP_WAIT_S = 5.0


def _proc_start_ticks(pid: int) -> int | None:
    """Process start time from /proc, so a recycled pid is never mistaken for our job; None once it has ended,
    zombies included (an orphan's zombie lingers where PID 1 does not reap, as in many containers)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat.rsplit(")", 1)[1].split()
    if fields[0] in ("Z", "X"):
        return None
    return int(fields[19])


def _held(lock_file: Path) -> bool:
    """True while a supervisor holds the job's lock: it inherits it at launch and keeps it until it exits."""
    try:
        fd = os.open(lock_file, os.O_RDONLY)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)
    return False


class LocalBackend:
    """Runs jobs on this machine with the same argv Azure would run; the results folder holds the jobs."""

    name = "local"
    remote = False

    def __init__(
        self,
        *,
        rscript: str = "Rscript",
        dockerfile: Path | None = None,
        check_packages: bool = True,
        pass_env: Sequence[str] = (),
        results_root: Path | None = None,
    ) -> None:
        self.rscript = rscript
        self.dockerfile = dockerfile
        self.check_packages = check_packages
        self.pass_env = check_pass_env(pass_env, os.environ)
        self.results_root = results_root
        self._checked: dict[tuple[str | None, ...], EnvironmentInfo] = {}  # passed checks, by R, code, Dockerfile
        self._procs: dict[str, subprocess.Popen[bytes]] = {}

    def ensure_data(self, spec: JobSpec) -> dict[str, InputSpec]:
        """Local data stays where it is; remote URIs can't be read by a local R process."""
        check_local_files(spec)
        for spec_input in spec.inputs.values():
            if not spec_input.is_literal and not spec_input.is_local:
                raise InputError(
                    spec.source,
                    f"inputs.{spec_input.name}.path",
                    f"{spec_input.path} is not a local path",
                    "the local backend reads local files only: give a local path or use --backend azureml",
                )
        return dict(spec.inputs)

    def ensure_environment(self, spec: JobSpec) -> EnvironmentInfo:
        """Local R must have every package the code loads; the Dockerfile is compared for warnings."""
        rscript = envcheck.find_rscript(self.rscript)
        if rscript is None:
            raise InputError(
                None,
                "Rscript",
                f"{self.rscript} was not found on PATH",
                "install R (make setup, or apt-get install r-base-core) or pass --rscript",
            )
        if spec.code is None or not self.check_packages:
            return EnvironmentInfo(reference=rscript)
        dockerfile = self.dockerfile if self.dockerfile and self.dockerfile.is_file() else None
        code_hash = snapshot_hash(code_snapshot(spec.code, exclude=self._results_roots()))
        key = (rscript, str(spec.code), code_hash, str(dockerfile), dockerfile and hash_tree(dockerfile))
        if key in self._checked:  # the CLI checked before handing this backend to the flow: R is asked once
            return self._checked[key]
        report = envcheck.check_environment(spec.code, dockerfile, rscript=rscript, project_dir=spec.base_dir)
        if report.missing:
            raise InputError(
                spec.code,
                "R packages",
                f"local R lacks {', '.join(report.missing)}",
                envcheck.install_hint(report.missing),
            )
        warnings = report.warnings()
        self._checked[key] = EnvironmentInfo(reference=rscript, warnings=tuple(warnings))
        return self._checked[key]

    def ensure_code(self, spec: JobSpec) -> None:
        """Nothing to upload: each submission copies the code folder, as Azure mounts a snapshot."""

    def _results_roots(self, job: CellJob | None = None) -> list[Path]:
        """The results folders a code snapshot leaves out: the one given, and the job's (results/<run>/<cell>)."""
        roots = [self.results_root] if self.results_root is not None else []
        return roots + ([job.cell_dir.parent.parent, job.cell_dir.parent] if job is not None else [])

    def _work_dir(self, job: CellJob) -> Path:
        return job.cell_dir / JOBS_DIR / job.job_name

    def _argv(self, job: CellJob, code_dir: Path) -> list[str]:
        values = {}
        for name, spec_input in job.inputs.items():
            if spec_input.is_literal:
                assert spec_input.value is not None
                values[name] = value_text(spec_input.value)
            else:
                values[name] = str(job.spec.local_path(spec_input))
        outputs = {name: str(code_dir / OUTPUTS_DIR / name) for name in job.spec.outputs}
        argv = render_argv(job.spec, values, outputs)
        if argv[0] == "Rscript":
            argv[0] = self.rscript
        return argv

    def find(self, job: CellJob) -> JobHandle | None:
        """The job's handle file (the last step of a submit), or the supervisor's own record when the submitting
        process died between starting it and writing the handle."""
        handle_file = self._work_dir(job) / HANDLE_FILE
        if handle_file.is_file():
            return JobHandle.from_json(json.loads(handle_file.read_text()))
        return self._adopt(job)

    def _adopt(self, job: CellJob) -> JobHandle | None:
        return self.adopt(self._work_dir(job))

    def adopt(self, work: Path) -> JobHandle | None:
        """A supervisor that started (runner.json) or is starting (its lock is held) in this job folder is the
        job: adopt it. With neither, no process ever ran the job and submit may start it afresh."""
        runner = work / local_runner.RUNNER_FILE
        deadline = time.monotonic() + ADOPT_WAIT_S
        while not runner.is_file() and _held(work / LOCK_FILE) and time.monotonic() < deadline:
            time.sleep(0.01)
        if not runner.is_file():
            if _held(work / LOCK_FILE):
                raise OSError(f"{work}: a supervisor holds the job's lock but wrote no {runner.name}")
            return None
        record = json.loads(runner.read_text())
        data = {"pid": record["pid"], "start_ticks": record["start_ticks"], "argv": record["argv"]}
        handle = JobHandle(job_name=work.name, backend=self.name, data={**data, "work_dir": str(work)})
        atomic_write_text(work / HANDLE_FILE, json.dumps(handle.to_json()))
        log.info("job %s: adopted the supervisor (pid %s) its submitter left behind", work.name, record["pid"])
        return handle

    def jobs_of_run(self, run: str, run_dir: Path) -> list[JobHandle]:
        """Every job folder of the run: its handle, or the supervisor adopted when its submitter died first."""
        handles: dict[str, JobHandle] = {}
        for handle_file in sorted(run_dir.glob(f"*/{JOBS_DIR}/*/{HANDLE_FILE}")):
            handle = JobHandle.from_json(json.loads(handle_file.read_text()))
            handles.setdefault(handle.job_name, handle)
        for runner_file in sorted(run_dir.glob(f"*/{JOBS_DIR}/*/{local_runner.RUNNER_FILE}")):
            if runner_file.parent.name not in handles and (adopted := self.adopt(runner_file.parent)) is not None:
                handles[adopted.job_name] = adopted
        return list(handles.values())

    def submit(self, job: CellJob) -> JobHandle:
        """Copy the code, start the supervised process in its own session; an existing job attaches."""
        existing = self.find(job)
        if existing is not None:
            return existing
        work = self._work_dir(job)
        code_dir = work / "code"
        if work.exists():
            shutil.rmtree(work)
        code_dir.mkdir(parents=True)
        if job.spec.code is not None:
            snapshot = code_snapshot(job.spec.code, exclude=self._results_roots(job))
            snapshot.warn()
            copy_snapshot(snapshot, code_dir)
        argv = self._argv(job, code_dir)
        for name in job.spec.outputs:
            (code_dir / OUTPUTS_DIR / name).mkdir(parents=True, exist_ok=True)
        return self._launch(job.job_name, work, code_dir, argv, job.spec)

    def item_argv(self, job: CellJob, work_dir: Path) -> list[str]:
        """A packed item's argv, as its own job would run it with work_dir as R's working directory."""
        return self._argv(job, work_dir)

    def item_files(self, job: CellJob) -> dict[str, Path]:
        """Local R reads every input where it is."""
        return {}

    def submit_pack(self, launch: PackLaunch) -> JobHandle:
        """Run a packed job's runner (rjobs.packing) under the same supervisor as a cell's job, so status, cancel,
        kill and flows.cancel treat it as any job; a pack already started in pack_dir is attached to."""
        pack_dir = launch.pack_dir
        if (pack_dir / HANDLE_FILE).is_file():
            return JobHandle.from_json(json.loads((pack_dir / HANDLE_FILE).read_text()))
        command = runner_command(pack_dir, launch.processes, launch.timeout_s)
        return self.adopt(pack_dir) or self._launch(launch.name, pack_dir, pack_dir, command, launch.spec)

    def sync_pack(self, handle: JobHandle, pack_dir: Path, items: Sequence[str] | None) -> None:
        """The runner writes into pack_dir itself: nothing to bring."""

    def _launch(self, name: str, work: Path, cwd: Path, argv: list[str], spec: JobSpec) -> JobHandle:
        """Start argv under the supervisor in its own session, holding the job's lock; write the handle last."""
        handle_file = work / HANDLE_FILE
        env = job_environment(os.environ, spec.environment_variables, self.pass_env, name)
        runner = [sys.executable, "-I", "-S", local_runner.__file__, str(work / EXIT_FILE), str(work / LOG_FILE), "--"]
        lock = os.open(work / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(lock, fcntl.LOCK_EX)  # the supervisor inherits the lock: held from here until it exits
            proc = subprocess.Popen(
                runner + argv,
                cwd=cwd,
                env=env,
                start_new_session=True,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                pass_fds=(lock,),
            )
        finally:
            os.close(lock)
        self._procs[name] = proc
        data = {"pid": proc.pid, "start_ticks": _proc_start_ticks(proc.pid), "work_dir": str(work), "argv": argv}
        handle = JobHandle(job_name=name, backend=self.name, data=data)
        atomic_write_text(handle_file, json.dumps(handle.to_json()))
        return handle

    def status(self, handles: Sequence[JobHandle]) -> dict[str, JobStatus]:
        return {h.job_name: self._status(h) for h in handles}

    def _status(self, handle: JobHandle) -> JobStatus:
        work = Path(handle.data.get("work_dir", ""))
        if not handle.data or not work.is_dir():
            return JobStatus(handle.job_name, JobState.ABSENT)
        proc = self._procs.get(handle.job_name)
        if proc is not None:
            proc.poll()
        exit_file = work / EXIT_FILE
        if exit_file.is_file():
            proc = self._procs.pop(handle.job_name, None)
            if proc is not None:  # exit.json is the supervisor's last act: reap it, or it lingers as a zombie
                with contextlib.suppress(subprocess.TimeoutExpired):
                    proc.wait(timeout=REAP_WAIT_S)
            record = json.loads(exit_file.read_text())
            code = int(record["returncode"])
            if record.get("cancelled"):
                return JobStatus(handle.job_name, JobState.CANCELED, "cancelled", exit_code=code)
            if code == 0:
                return JobStatus(handle.job_name, JobState.COMPLETED, exit_code=0)
            return JobStatus(handle.job_name, JobState.FAILED, f"exit code {code}", exit_code=code)
        if self._alive(handle, proc):
            return JobStatus(handle.job_name, JobState.RUNNING)
        return JobStatus(handle.job_name, JobState.LOST, "the job's process ended without an exit record")

    def _alive(self, handle: JobHandle, proc: subprocess.Popen[bytes] | None) -> bool:
        if proc is not None:
            return proc.returncode is None
        pid = int(handle.data["pid"])
        return _proc_start_ticks(pid) == handle.data.get("start_ticks") and _proc_start_ticks(pid) is not None

    def cancel(self, handle: JobHandle) -> None:
        """SIGTERM the job's whole process group (supervisor and R), as Ctrl-C on a terminal would."""
        pid = int(handle.data.get("pid", 0))
        if pid and self._alive(handle, self._procs.get(handle.job_name)):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pid, signal.SIGTERM)

    def kill(self, handle: JobHandle) -> None:
        """SIGKILL what is left of the process group after a cancel's grace period."""
        pid = int(handle.data.get("pid", 0))
        if pid and self._alive(handle, self._procs.get(handle.job_name)):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pid, signal.SIGKILL)

    def collect(self, handle: JobHandle, cell_dir: Path) -> Path:
        """Link the job's ./outputs into the cell folder (see local.collect: nothing outside the job's folder and no
        special file is read) and drop the code copy, in one step. A code copy already gone means a collection of
        this job was cut short after it, before its record was saved: the cell folder's outputs are that job's."""
        work = Path(handle.data["work_dir"])
        code, target = work / "code", cell_dir / OUTPUTS_DIR
        if code.is_dir():
            collect_outputs(handle.job_name, code / OUTPUTS_DIR, code, target)
        else:
            target.mkdir(parents=True, exist_ok=True)
        self.logs(handle, cell_dir)
        if code.is_dir():
            dropped = work / "code.dropped"
            shutil.rmtree(dropped, ignore_errors=True)
            code.rename(dropped)  # whole or gone, never half removed: a half-removed copy would be collected again
            shutil.rmtree(dropped, ignore_errors=True)
        return target

    def step_metrics(self, handle: JobHandle) -> list[dict[str, float]]:
        """The job's outputs/metrics.jsonl as R has appended it so far, read in place while it runs."""
        work = handle.data.get("work_dir")
        return read_step_metrics(Path(work) / "code" / OUTPUTS_DIR / STEP_METRICS_FILE) if work else []

    def logs(self, handle: JobHandle, cell_dir: Path) -> Path | None:
        """The supervisor's log as cell_dir/std_log.txt, copied only while it is a regular file."""
        if not handle.data.get("work_dir"):
            return None
        return copy_log(handle.job_name, Path(handle.data.get("work_dir", "")) / LOG_FILE, cell_dir / LOG_FILE)
