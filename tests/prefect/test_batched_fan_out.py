"""Past PER_CELL_TASK_RUNS cells the flow runs BATCHES task runs of many cells (a task run per cell costs Prefect
~21 ms: bench/RESULTS.md): every cell still runs once, jobs in flight stay within --max-concurrent, and a failed
cell fails its batch's task run only."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from flows import train_flow as train_module
from flows.parameters import flow_parameters
from rjobs.inputs.options import SweepOptions

pytestmark = [pytest.mark.r, pytest.mark.usefixtures("prefect_server")]

R_SCRIPT = """
args <- commandArgs(trailingOnly = TRUE)
seed <- as.integer(args[2])
marks <- Sys.getenv("RJOBS_TEST_MARKS")
file.create(file.path(marks, paste0(seed, ".start")))
waited <- 0  # the first two cells wait for each other (60 s at most): both slots are used on any machine
while (length(list.files(marks, pattern = "[.]start$")) < 2 && waited < 60) { Sys.sleep(0.02); waited <- waited + 0.02 }
Sys.sleep(0.3)
file.create(file.path(marks, paste0(seed, ".end")))
if (seed == 5) stop("seed 5 fails on purpose")
dir.create("outputs", showWarnings = FALSE)
writeLines(sprintf('{"score": %d}', seed), "outputs/metrics.json")
"""


def test_large_sweep_runs_in_batches(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId

    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "main.R").write_text(R_SCRIPT)
    job = "command: Rscript main.R --seed ${{inputs.seed}}\ncode: src\ninputs:\n  seed: 1\n"
    (tmp_path / "job.yml").write_text(job)
    marks = tmp_path / "marks"
    marks.mkdir()
    monkeypatch.setenv("RJOBS_TEST_MARKS", str(marks))
    monkeypatch.setattr(train_module, "PER_CELL_TASK_RUNS", 4)
    monkeypatch.setattr(train_module, "BATCHES", 3)
    options = SweepOptions(
        job=str(tmp_path / "job.yml"),
        results=str(tmp_path / "results"),
        param=["seed=1,2,3,4,5,6,7,8,9"],
        run_name="batched",
        max_concurrent=2,
        retries=0,
        poll_interval=0.05,
        no_mlflow=True,
    )
    state = train_module.train(**flow_parameters(options), return_state=True)
    # the results are written, then the flow run ends Failed naming the cell, so alerts on failed runs fire
    from rjobs.inputs.grid import cell_id

    assert state.is_failed()
    assert state.message.startswith(f"1 of 9 cell(s) did not complete: {cell_id({'seed': 5})} (see ")
    assert state.result(raise_on_failure=False)["failed"] == 1

    with get_client(sync_client=True) as client:
        flow_run_filter = FlowRunFilter(id=FlowRunFilterId(any_=[state.state_details.flow_run_id]))
        task_runs = client.read_task_runs(flow_run_filter=flow_run_filter)
    batches = sorted((t for t in task_runs if t.name.startswith("cells-")), key=lambda t: t.name)
    assert [t for t in task_runs if t.name.startswith("cell-")] == []
    assert len(batches) == 3 and all(t.name.endswith("-x3") for t in batches)
    assert sorted(t.state.type.value for t in batches) == ["COMPLETED", "COMPLETED", "FAILED"]

    progress = [r.getMessage() for r in caplog.records if " done: " in r.getMessage()]
    assert len(progress) == 3, "one progress line per finished batch, not per cell"
    assert progress[-1] == "9/9 done: 8 Completed, 1 Failed"
    failed_lines = [r.getMessage() for r in caplog.records if r.levelname == "WARNING" and "failed" in r.getMessage()]
    assert len(failed_lines) == 1
    assert "job batched-" in failed_lines[0] and failed_lines[0].endswith("std_log.txt)")

    run = json.loads((tmp_path / "results" / "batched" / "run.json").read_text())
    assert (run["cells"], run["submitted"], run["completed"], run["failed"]) == (9, 9, 8, 1)
    events = sorted((path.stat().st_mtime_ns, 1 if path.suffix == ".start" else -1) for path in marks.iterdir())
    assert len(events) == 18
    in_flight, peak = 0, 0
    for _, step in events:
        in_flight += step
        peak = max(peak, in_flight)
    assert peak == 2


def test_a_cell_that_raises_fails_its_batch_after_the_others_end(tmp_path: Path) -> None:
    """An unexpected error in one cell neither hides the other cells' results nor leaves them running."""
    from concurrent.futures import ThreadPoolExecutor

    from prefect import flow

    from rjobs.engine.ledger import CellRecord, RunLedger
    from rjobs.engine.sweep import CellResult, Outcome
    from tasks.jobs import run_cells

    ended: list[str] = []

    class Sweep:
        ledger = RunLedger(tmp_path, "stub")

        def run_cell(self, cell_id: str) -> CellResult:
            if cell_id == "b":
                raise RuntimeError("backend refused the job\nsecond line")
            ended.append(cell_id)
            return CellResult(CellRecord(cell_id, {}, state="Completed"), Outcome.SUBMITTED)

    @flow
    def batch() -> tuple[bool, str]:
        with ThreadPoolExecutor(2) as pool:
            state = run_cells(Sweep(), ["a", "b", "c"], pool, "a", 3, return_state=True)
        return state.is_failed(), str(state.result(raise_on_failure=False))

    failed, message = batch()
    assert failed
    assert sorted(ended) == ["a", "c"]
    assert "1 of 3 cell(s) did not complete; the first: RuntimeError: backend refused the job" in message
