"""`python -m flows.cancel` stops a run's jobs from its results folder alone, as when the flow was killed."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from flows.cancel import main
from rjobs.backends.local.backend import LocalBackend
from rjobs.core.states import JobState
from rjobs.engine.ledger import RunLedger
from rjobs.engine.monitor import JobMonitor
from rjobs.engine.sweep import Sweep, SweepSettings
from rjobs.inputs.grid import build_cells
from rjobs.inputs.spec import load_job_spec
from tests.reliability.support import OUTCOME_S, live_group_members, wait_until

pytestmark = pytest.mark.r


def test_cancel_command_stops_orphaned_jobs_and_marks_cells(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "main.R").write_text("Sys.sleep(120)\n")
    (tmp_path / "job.yml").write_text(
        "command: Rscript main.R --seed ${{inputs.seed}}\ncode: src\ninputs:\n  seed: 1\n"
    )
    spec = load_job_spec(tmp_path / "job.yml")
    ledger = RunLedger(tmp_path / "results", "orphans")
    submitter = LocalBackend(check_packages=False)
    sweep = Sweep(
        spec,
        build_cells(spec, grid={"seed": [1, 2]}),
        submitter,
        ledger,
        SweepSettings(run="orphans"),
        JobMonitor(submitter),
    )
    pids, handles = [], []
    for cell_id, cell in sweep.cells.items():
        job = sweep.cell_job(cell, 1)
        handle = submitter.submit(job)
        sweep.submission.record(ledger.load(cell_id) or _record(cell_id, cell.params), job, handle, sweep.wall_clock())
        pids.append(int(handle.data["pid"]))
        handles.append(handle)
    for pid in pids:  # supervisor and R both running: the cancel has a real job to stop
        assert wait_until(lambda pid=pid: len(live_group_members(pid)) >= 2, OUTCOME_S)

    code = main(["--run", "orphans", "--results", str(tmp_path / "results"), "--timeout", "20"])

    assert code == 0
    assert "cancel requested for 2 job(s)" in capsys.readouterr().out
    assert {s.state for s in submitter.status(handles).values()} == {JobState.CANCELED}
    for pid in pids:  # the supervisor writes its exit record just before it exits: wait for the exit, not a zombie
        assert wait_until(lambda pid=pid: live_group_members(pid) == [], OUTCOME_S)
    states = {json.loads(p.read_text())["state"] for p in (tmp_path / "results" / "orphans").glob("*/status.json")}
    assert states == {JobState.CANCELED.value}
    assert main(["--run", "orphans", "--results", str(tmp_path / "results")]) == 0


def test_cancel_command_unknown_run_lists_known_runs(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "results" / "real-run" / "c1").mkdir(parents=True)
    (tmp_path / "results" / "real-run" / "c1" / "status.json").write_text('{"cell": "c1", "params": {}}')
    assert main(["--run", "nope", "--results", str(tmp_path / "results")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "no such run" in err and "real-run" in err


def _record(cell_id: str, params: object) -> object:
    from rjobs.engine.ledger import CellRecord

    return CellRecord(cell=cell_id, params=dict(params))  # type: ignore[call-overload]
