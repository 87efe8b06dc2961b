"""The local job's supervisor across orchestrator deaths: a dead supervisor is Lost even when nobody reaps it."""

from __future__ import annotations

import os
import shutil
import signal
from pathlib import Path

import pytest

from rjobs.backends.local import LocalBackend
from rjobs.grid import build_cells
from rjobs.ledger import RunLedger
from rjobs.monitor import JobMonitor
from rjobs.spec import load_job_spec
from rjobs.states import JobState
from rjobs.sweep import Sweep, SweepSettings
from tests.reliability.support import proc_state, wait_until

pytestmark = pytest.mark.slow
needs_r = pytest.mark.skipif(shutil.which("Rscript") is None, reason="needs Rscript")


def test_a_dead_supervisor_nobody_reaped_is_lost_not_running(tmp_path: Path) -> None:
    """In a container whose PID 1 never reaps, an orphaned supervisor that died stays a zombie: still in /proc,
    with its start time. The re-run must see it as ended (Lost), not wait on it forever."""
    (tmp_path / "src").mkdir()
    (tmp_path / "job.yml").write_text("command: sleep ${{inputs.seconds}}\ncode: src\ninputs:\n  seconds: 60\n")
    spec = load_job_spec(tmp_path / "job.yml")
    first = Sweep(
        spec,
        build_cells(spec),
        LocalBackend(check_packages=False),
        RunLedger(tmp_path / "results", "z"),
        SweepSettings(run="z"),
        JobMonitor(LocalBackend(check_packages=False)),
    )
    (cell,) = first.cells.values()
    submitter = first.backend
    handle = submitter.submit(first.cell_job(cell, 1))
    pid = int(handle.data["pid"])
    try:
        os.killpg(pid, signal.SIGKILL)  # supervisor and job die; the submitter (us) does not reap
        assert wait_until(lambda: (proc_state(pid) or ("?",))[0] == "Z", 10)

        later = LocalBackend(check_packages=False)  # another process: knows the job only by its handle
        status = later.status([handle])[handle.job_name]
        assert status.state == JobState.LOST, status
    finally:
        submitter._procs[handle.job_name].wait(timeout=10)  # type: ignore[attr-defined]
