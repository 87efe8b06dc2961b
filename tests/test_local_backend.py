"""LocalBackend with real R: exact argument values, cancellation of a running cell, resume after it."""

from __future__ import annotations

import json
import os
import threading
import time
from pathlib import Path

import pytest

from rjobs.backends.local.backend import LocalBackend
from rjobs.core.states import JobState
from rjobs.engine.ledger import RunLedger
from rjobs.engine.monitor import JobMonitor
from rjobs.engine.sweep import Outcome, Sweep, SweepSettings
from rjobs.inputs.grid import build_cells
from rjobs.inputs.spec import load_job_spec
from tests.reliability.support import OUTCOME_S

pytestmark = pytest.mark.r

ECHO_R = """
args <- commandArgs(trailingOnly = TRUE)
dir.create("outputs", showWarnings = FALSE)
jsonlite::write_json(args, "outputs/args.json")
writeLines(Sys.getenv("TZ"), "outputs/tz.txt")
writeLines(Sys.getenv("AZURE_STORAGE_CONNECTION_STRING", "unset"), "outputs/secret.txt")
"""
SLEEP_R = """
dir.create("outputs", showWarnings = FALSE)
writeLines("started", "outputs/started.txt")
Sys.sleep(120)
"""


def make_project(root: Path, script: str, command: str, inputs: str) -> Path:
    (root / "src").mkdir(parents=True)
    (root / "src" / "main.R").write_text(script)
    (root / "job.yml").write_text(f"command: {command}\ncode: src\ninputs:\n{inputs}")
    return root / "job.yml"


def make_sweep(job: Path, results: Path, grid: object, run: str = "t") -> Sweep:
    spec = load_job_spec(job)
    backend = LocalBackend(check_packages=False)
    cells = build_cells(spec, grid=grid)
    return Sweep(
        spec, cells, backend, RunLedger(results, run), SweepSettings(run=run), JobMonitor(backend, interval=0.05)
    )


HOSTILE = ["two words", 'it\'s "quoted"', "a;b && c", "$(touch /tmp/rjobs-pwned)", "`id`", "é 你好", "--evil", "*"]


def test_hostile_values_reach_r_exactly_and_never_a_shell(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AZURE_STORAGE_CONNECTION_STRING", "AccountKey=not-for-r")
    job = make_project(tmp_path, ECHO_R, "Rscript main.R --value ${{inputs.value}} --n 1", "  value: x\n")
    sweep = make_sweep(job, tmp_path / "results", [{"value": v} for v in HOSTILE])
    sweep.prepare()
    for cell_id in sweep.cells:
        result = sweep.run_cell(cell_id)
        assert result.record.job_state == JobState.COMPLETED, result.record.error
        outputs = sweep.ledger.outputs_dir(cell_id)
        args = json.loads((outputs / "args.json").read_text())
        assert args == ["--value", sweep.cells[cell_id].params["value"], "--n", "1"]
        assert (outputs / "tz.txt").read_text().strip() == "UTC"
        assert (outputs / "secret.txt").read_text().strip() == "unset"
    assert not Path("/tmp/rjobs-pwned").exists()


def test_cancel_stops_the_running_process_group_and_rerun_continues(tmp_path: Path) -> None:
    job = make_project(tmp_path, SLEEP_R, "Rscript main.R --seed ${{inputs.seed}}", "  seed: 1\n")
    sweep = make_sweep(job, tmp_path / "results", {"seed": [1]})
    sweep.prepare()
    (cell_id,) = sweep.cells
    results: list[object] = []
    worker = threading.Thread(target=lambda: results.append(sweep.run_cell(cell_id)))
    worker.start()
    started = sweep.ledger.cell_dir(cell_id) / ".jobs" / f"t-{cell_id}" / "code" / "outputs" / "started.txt"
    deadline = time.monotonic() + OUTCOME_S
    while not started.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert started.exists(), "R never started"
    pid = int(json.loads(sweep.ledger.status_path(cell_id).read_text())["handle"]["data"]["pid"])

    assert sweep.cancel_all() == [f"t-{cell_id}"]
    worker.join(timeout=OUTCOME_S)  # R sleeps 120 s: only the cancel ends it within the bound
    assert not worker.is_alive()
    (result,) = results
    assert result.outcome == Outcome.CANCELLED  # type: ignore[attr-defined]
    assert result.record.job_state == JobState.CANCELED  # type: ignore[attr-defined]
    with pytest.raises(ProcessLookupError):
        os.killpg(pid, 0)

    rerun = make_sweep(job, tmp_path / "results", {"seed": [1]})
    rerun.prepare()
    rerun_thread = threading.Thread(target=lambda: results.append(rerun.run_cell(cell_id)))
    rerun_thread.start()
    deadline = time.monotonic() + OUTCOME_S
    while rerun.ledger.load(cell_id).attempt != 2 and time.monotonic() < deadline:  # type: ignore[union-attr]
        time.sleep(0.05)
    assert rerun.ledger.load(cell_id).job_name == f"t-{cell_id}-r2"  # type: ignore[union-attr]
    rerun.cancel_all()
    rerun_thread.join(timeout=OUTCOME_S)
    assert not rerun_thread.is_alive()
