"""Ctrl-C as a terminal sends it: `python -m flows.train` runs under a pseudo-terminal in a session of its own and
"\\x03" is typed at the terminal, so the line discipline signals the whole foreground process group (the CLI and
anything it started in that group), not just the CLI's pid. With Prefect's temporary server and with a running
one: exit 130, R gone, results written, no traceback, nothing left running. After kill -9 of the CLI run as a shell
runs a job (its own process group, not a session leader whose death would hang up the terminal) the temporary
server goes too."""

from __future__ import annotations

import contextlib
import fcntl
import os
import signal
import subprocess
import sys
import termios
import threading
import uuid
from pathlib import Path

import pytest

from tests.reliability.support import (
    OUTCOME_S,
    job_groups,
    live_group_members,
    read_launches,
    read_summary,
    wait_until,
    write_project,
)

REPO = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.r

SLEEPY_R = r"""
args <- commandArgs(trailingOnly = TRUE)
cat(sprintf("start %s %.6f %d\n", Sys.getenv("RJOBS_JOB_NAME"), as.numeric(Sys.time()), Sys.getpid()),
    file = Sys.getenv("RJOBS_MARKER"), append = TRUE)
Sys.sleep(300)
"""


class Terminal:
    """A program on the slave side of a new pty, as its session's controlling terminal; the master side is ours."""

    def __init__(self, argv: list[str], env: dict[str, str], *, as_shell_job: bool = False) -> None:
        master, slave = os.openpty()

        def controlling_terminal() -> None:  # runs in the child after setsid (start_new_session)
            fcntl.ioctl(0, termios.TIOCSCTTY, 0)
            signal.signal(signal.SIGINT, signal.SIG_DFL)

        self.process = subprocess.Popen(
            argv,
            stdin=slave,
            stdout=slave,
            stderr=slave,
            cwd=REPO,
            env=env,
            start_new_session=not as_shell_job,
            process_group=0 if as_shell_job else None,
            preexec_fn=None if as_shell_job else controlling_terminal,
        )
        os.close(slave)
        self.master = master
        self._chunks: list[bytes] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        with contextlib.suppress(OSError):  # EIO once every holder of the slave side is gone
            while chunk := os.read(self.master, 65536):
                self._chunks.append(chunk)

    @property
    def screen(self) -> str:
        return b"".join(self._chunks).decode("utf-8", errors="replace")

    def type_ctrl_c(self) -> None:
        os.write(self.master, b"\x03")

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait(timeout=OUTCOME_S)
        self._reader.join(timeout=OUTCOME_S)
        os.close(self.master)


def processes_with(token: str) -> list[int]:
    """Live processes whose environment carries the test's token: everything the CLI started, R jobs aside."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            environ = (entry / "environ").read_bytes()
            state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if token.encode() in environ and state not in ("Z", "X"):
            found.append(int(entry.name))
    return found


def start_sweep(
    tmp_path: Path,
    *,
    temporary_server: bool,
    prefect_api: str | None,
    as_shell_job: bool = False,
    extra: tuple[str, ...] = (),
) -> tuple[Terminal, Path, str]:
    project = tmp_path / "project"
    write_project(project, script=SLEEPY_R, command="Rscript work.R --seed ${{inputs.seed}}", inputs={"seed": 1})
    (project / "grid.yml").write_text("seed: [1, 2, 3, 4]\n")
    token = uuid.uuid4().hex
    env = {**os.environ, "RJOBS_MARKER": str(tmp_path / "launches.txt"), "RJOBS_TERMINAL_TEST": token}
    env["PREFECT_HOME"] = str(tmp_path / "prefect-home")  # the temporary server's own database
    env.pop("PREFECT_API_URL", None)
    if not temporary_server:
        assert prefect_api is not None
        env["PREFECT_API_URL"] = prefect_api
    argv = [sys.executable, "-m", "flows.train", "--job", str(project / "job.yml"), "--results"]
    argv += [str(project / "results"), "--run-name", "tty", "--max-concurrent", "2", "--no-mlflow", *extra]
    terminal = Terminal(argv, env, as_shell_job=as_shell_job)
    started = wait_until(lambda: len(read_launches(tmp_path / "launches.txt")) == 2, 3 * OUTCOME_S)
    assert started, terminal.screen[-3000:]
    run_dir = project / "results" / "tty"
    jobs = 1 if "--pack" in extra else 2
    assert wait_until(lambda: len(job_groups(run_dir)) == jobs, OUTCOME_S), terminal.screen[-3000:]
    return terminal, run_dir, token


@pytest.fixture
def prefect_api(prefect_server: None) -> str:
    from prefect.settings import PREFECT_API_URL

    return str(PREFECT_API_URL.value())


@pytest.mark.parametrize("temporary_server", [True, False], ids=["temporary-server", "running-server"])
def test_ctrl_c_at_the_terminal_cancels_writes_results_and_leaves_nothing(
    tmp_path: Path, prefect_api: str, temporary_server: bool
) -> None:
    terminal, run_dir, token = start_sweep(tmp_path, temporary_server=temporary_server, prefect_api=prefect_api)
    try:
        groups = list(job_groups(run_dir).values())

        terminal.type_ctrl_c()

        assert terminal.process.wait(timeout=2 * OUTCOME_S) == 130, terminal.screen[-3000:]
        assert wait_until(lambda: not any(live_group_members(g) for g in groups), OUTCOME_S), "R still running"
        assert wait_until(lambda: processes_with(token) == [], OUTCOME_S), "a process of the CLI was left running"
    finally:
        terminal.close()
    screen = terminal.screen
    assert "Traceback" not in screen and "ConnectError" not in screen, screen[-3000:]
    assert "cancelled" in screen
    assert {row["status"] for row in read_summary(run_dir).values()} == {"Canceled"}


def test_ctrl_c_at_the_terminal_cancels_a_packed_job_and_its_r_processes(tmp_path: Path) -> None:
    """One packed job running two of the four cells at a time: Ctrl-C cancels the pack, its R processes end, every
    cell is Canceled (two were running, two never started) and a re-run would pack all four again."""
    extra = ("--pack", "1", "--pack-processes", "2")
    terminal, run_dir, token = start_sweep(tmp_path, temporary_server=True, prefect_api=None, extra=extra)
    try:
        groups = list(job_groups(run_dir).values())
        r_pids = [launch.pid for launch in read_launches(tmp_path / "launches.txt")]

        terminal.type_ctrl_c()

        assert terminal.process.wait(timeout=2 * OUTCOME_S) == 130, terminal.screen[-3000:]
        assert wait_until(lambda: not any(live_group_members(g) for g in groups), OUTCOME_S), "the runner still runs"
        assert wait_until(lambda: not any(Path(f"/proc/{pid}").exists() for pid in r_pids), OUTCOME_S), "R still runs"
        assert wait_until(lambda: processes_with(token) == [], OUTCOME_S), "a process of the CLI was left running"
    finally:
        terminal.close()
    screen = terminal.screen
    assert "Traceback" not in screen, screen[-3000:]
    assert {row["status"] for row in read_summary(run_dir).values()} == {"Canceled"}


def test_kill_9_of_the_cli_takes_its_temporary_server_with_it(tmp_path: Path) -> None:
    terminal, run_dir, token = start_sweep(tmp_path, temporary_server=True, prefect_api=None, as_shell_job=True)
    groups = list(job_groups(run_dir).values())
    try:
        os.kill(terminal.process.pid, signal.SIGKILL)
        terminal.process.wait(timeout=OUTCOME_S)
        jobs = {pid for group in groups for pid in live_group_members(group)}  # R jobs outlive a crash, by design
        assert wait_until(lambda: set(processes_with(token)) <= jobs, OUTCOME_S), (
            "the temporary server outlived the CLI"
        )
    finally:
        for group in groups:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(group, signal.SIGKILL)
        terminal.close()
