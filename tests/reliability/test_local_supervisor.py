"""The local job's supervisor across orchestrator deaths: a submit cut short at any point is adopted or redone,
never run twice; a dead supervisor is Lost even when nobody reaps it."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import threading
from collections import Counter
from pathlib import Path

import pytest

import rjobs.backends.local.backend as local_module
from rjobs.backends.local.backend import LocalBackend
from rjobs.core.states import JobState
from rjobs.engine.ledger import RunLedger
from rjobs.engine.monitor import JobMonitor
from rjobs.engine.sweep import Sweep, SweepSettings
from rjobs.inputs.grid import build_cells
from rjobs.inputs.spec import load_job_spec
from tests.reliability.support import (
    OUTCOME_S,
    live_group_members,
    proc_state,
    read_launches,
    wait_until,
    write_project,
)

pytestmark = pytest.mark.r
needs_r = pytest.mark.r


class Killed(BaseException):
    """Stands in for SIGKILL of the orchestrator: nothing after the raise point runs, no handler cleans up."""


def make_sweep(job: Path, results: Path) -> Sweep:
    spec = load_job_spec(job)
    backend = LocalBackend(check_packages=False)
    settings = SweepSettings(run="w", retries=0)
    monitor = JobMonitor(backend, interval=0.05)
    return Sweep(spec, build_cells(spec, grid={"seed": [1]}), backend, RunLedger(results, "w"), settings, monitor)


def die_before_launch(monkeypatch: pytest.MonkeyPatch) -> None:
    def popen(*args: object, **kwargs: object) -> object:
        raise Killed

    monkeypatch.setattr(local_module.subprocess, "Popen", popen)


def die_before_handle(monkeypatch: pytest.MonkeyPatch) -> None:
    real = local_module.atomic_write_text

    def write(path: Path, text: str) -> None:
        if path.name == local_module.HANDLE_FILE:
            raise Killed
        real(path, text)

    monkeypatch.setattr(local_module, "atomic_write_text", write)


CUT_POINTS = [
    # (id, where the orchestrator dies, let the orphan finish before the re-run)
    ("before-launch", die_before_launch, False),
    ("after-launch-running", die_before_handle, False),
    ("after-launch-finished", die_before_handle, True),
]


@needs_r
@pytest.mark.parametrize(("cut", "finish_first"), [c[1:] for c in CUT_POINTS], ids=[c[0] for c in CUT_POINTS])
def test_submit_cut_short_is_adopted_or_redone_never_run_twice(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, cut: object, finish_first: bool
) -> None:
    marker = tmp_path / "launches.txt"
    monkeypatch.setenv("RJOBS_MARKER", str(marker))
    job = write_project(tmp_path / "project", inputs={"seed": 1, "pause": 0.5, "fail": 0})
    first = make_sweep(job, tmp_path / "results")
    first.prepare()
    (cell_id,) = first.cells
    with monkeypatch.context() as patch:
        cut(patch)  # type: ignore[operator]
        with pytest.raises(Killed):
            first.run_cell(cell_id)
    if finish_first:
        work = first.ledger.cell_dir(cell_id) / ".jobs" / f"w-{cell_id}"
        assert wait_until(lambda: (work / "exit.json").is_file(), OUTCOME_S), "the orphan never finished"

    rerun = make_sweep(job, tmp_path / "results")
    rerun.prepare()
    result = rerun.run_cell(cell_id)

    assert result.record.job_state == JobState.COMPLETED, result.record.error
    assert (result.record.attempt, result.record.job_name) == (1, f"w-{cell_id}")
    assert json.loads((rerun.ledger.outputs_dir(cell_id) / "metrics.json").read_text())["seed"] == 1
    assert Counter(launch.job_name for launch in read_launches(marker)) == {f"w-{cell_id}": 1}


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
        assert wait_until(lambda: (proc_state(pid) or ("?",))[0] == "Z", OUTCOME_S)

        later = LocalBackend(check_packages=False)  # another process: knows the job only by its handle
        status = later.status([handle])[handle.job_name]
        assert status.state == JobState.LOST, status
    finally:
        submitter._procs[handle.job_name].wait(timeout=OUTCOME_S)  # type: ignore[attr-defined]


def test_a_finished_job_leaves_no_zombie_behind(tmp_path: Path) -> None:
    """The supervisor writes exit.json just before it exits; the backend must still reap it once it reports the
    job terminal, or a long sweep piles up zombies (and killpg keeps 'finding' finished jobs)."""
    (tmp_path / "src").mkdir()
    (tmp_path / "job.yml").write_text("command: true --seed ${{inputs.seed}}\ncode: src\ninputs:\n  seed: 1\n")
    spec = load_job_spec(tmp_path / "job.yml")
    backend = LocalBackend(check_packages=False)
    sweep = Sweep(
        spec,
        build_cells(spec, grid={"seed": list(range(8))}),
        backend,
        RunLedger(tmp_path / "results", "r"),
        SweepSettings(run="r"),
        JobMonitor(backend),
    )
    for cell in sweep.cells.values():
        handle = backend.submit(sweep.cell_job(cell, 1))
        while not backend.status([handle])[handle.job_name].state.terminal:
            pass  # poll as fast as possible: see exit.json the instant it appears, before the supervisor is gone
        assert proc_state(int(handle.data["pid"])) is None, "the finished supervisor was not reaped"


def test_a_job_that_ignores_sigterm_is_killed_after_the_grace_period(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Cancel is SIGTERM to the job's process group; a job that traps it (here bash, and the sleep that inherits
    the ignored signal) must still be gone a grace period later, or the cancelled sweep waits on it forever."""
    monkeypatch.setenv("RJOBS_CANCEL_GRACE_S", "1")
    (tmp_path / "src").mkdir()
    command = "bash -c \"trap '' TERM; sleep 300; echo ${{inputs.seed}}\""
    (tmp_path / "job.yml").write_text(f"command: {json.dumps(command)}\ncode: src\ninputs:\n  seed: 1\n")
    spec = load_job_spec(tmp_path / "job.yml")
    backend = LocalBackend(check_packages=False)
    sweep = Sweep(
        spec,
        build_cells(spec),
        backend,
        RunLedger(tmp_path / "results", "g"),
        SweepSettings(run="g"),
        JobMonitor(backend, interval=0.05),
    )
    (cell_id,) = sweep.cells
    results: list[object] = []
    worker = threading.Thread(target=lambda: results.append(sweep.run_cell(cell_id)), daemon=True)
    worker.start()
    handle_file = sweep.ledger.cell_dir(cell_id) / ".jobs" / f"g-{cell_id}" / "handle.json"
    assert wait_until(handle_file.is_file, OUTCOME_S)
    pgid = int(json.loads(handle_file.read_text())["data"]["pid"])
    try:
        assert wait_until(lambda: len(live_group_members(pgid)) >= 3, OUTCOME_S)  # supervisor, bash, sleep

        sweep.cancel_all()
        worker.join(timeout=OUTCOME_S)  # sleep 300 ignores SIGTERM: only the kill ends it sooner

        assert not worker.is_alive(), "the cancelled cell still waits on a job that ignores SIGTERM"
        assert live_group_members(pgid) == []
        (result,) = results
        assert result.record.job_state == JobState.CANCELED  # type: ignore[attr-defined]
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pgid, signal.SIGKILL)


@needs_r
def test_cancel_run_reaches_a_job_whose_submitter_died_before_its_handle(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """python -m flows.cancel finds local jobs by their handle files; a supervisor left without one (its submitter
    was killed right after starting it) must be cancelled too."""
    from rjobs.engine.cancel import cancel_run

    monkeypatch.setenv("RJOBS_MARKER", str(tmp_path / "launches.txt"))
    job = write_project(tmp_path / "project", inputs={"seed": 1, "pause": 120, "fail": 0})
    first = make_sweep(job, tmp_path / "results")
    first.prepare()
    (cell_id,) = first.cells
    with monkeypatch.context() as patch:
        die_before_handle(patch)
        with pytest.raises(Killed):
            first.run_cell(cell_id)
    runner = first.ledger.cell_dir(cell_id) / ".jobs" / f"w-{cell_id}" / "runner.json"
    assert wait_until(runner.is_file, OUTCOME_S)
    pgid = int(json.loads(runner.read_text())["pid"])
    try:
        assert live_group_members(pgid)

        report = cancel_run(first.ledger, LocalBackend(check_packages=False), timeout=OUTCOME_S, interval=0.05)

        assert report.requested == [f"w-{cell_id}"]
        assert wait_until(lambda: live_group_members(pgid) == [], OUTCOME_S)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pgid, signal.SIGKILL)
