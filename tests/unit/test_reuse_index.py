"""ContentIndex: a collected cell is found by content from another run and copied whole (no job handles); a
missing, unfinished or different-content source reuses nothing."""

from __future__ import annotations

from pathlib import Path

from rjobs.core.states import JobState
from rjobs.engine.ledger import CellRecord, RunLedger
from rjobs.engine.reuse import ContentIndex


def finished(root: Path, run: str, cell: str, *, collected: bool = True) -> RunLedger:
    ledger = RunLedger(root, run)
    state = JobState.COMPLETED.value
    ledger.save(CellRecord(cell, {"seed": "1"}, state=state, job_name=f"{run}-{cell}", collected=collected))
    (ledger.outputs_dir(cell)).mkdir(parents=True)
    (ledger.outputs_dir(cell) / "metrics.json").write_text('{"rmse": 1}')
    (ledger.cell_dir(cell) / ".jobs" / "handle").mkdir(parents=True)
    return ledger


def test_a_finished_cell_is_adopted_by_another_run_with_its_outputs_and_origin(tmp_path: Path) -> None:
    finished(tmp_path, "first", "c1")
    index = ContentIndex(tmp_path, "content")
    index.remember("first", "c1")
    second = RunLedger(tmp_path, "second")

    record = index.adopt(second, "c1")

    assert record is not None and record.reused_from == "first" and record.job_name == "first-c1"
    assert second.load("c1") == record
    assert (second.outputs_dir("c1") / "metrics.json").read_text() == '{"rmse": 1}'
    assert not (second.cell_dir("c1") / ".jobs").exists()
    assert [p.name for p in second.run_dir.iterdir()] == ["c1"], "no staging folder left behind"
    again = RunLedger(tmp_path, "third")
    assert index.adopt(again, "c1").reused_from == "first", "a copy of a copy names the sweep that ran it"


def test_nothing_is_reused_without_a_finished_source_of_the_same_content(tmp_path: Path) -> None:
    finished(tmp_path, "first", "c1", collected=False)
    index = ContentIndex(tmp_path, "content")
    index.remember("first", "c1")
    assert index.adopt(RunLedger(tmp_path, "second"), "c1") is None, "not collected"
    assert ContentIndex(tmp_path, "other content").adopt(RunLedger(tmp_path, "second"), "c1") is None
    assert index.adopt(RunLedger(tmp_path, "second"), "c2") is None, "never finished anywhere"
    assert index.adopt(RunLedger(tmp_path, "first"), "c1") is None, "its own run resumes, it does not adopt"


def test_a_cell_folder_that_exists_already_is_left_alone(tmp_path: Path) -> None:
    finished(tmp_path, "first", "c1")
    index = ContentIndex(tmp_path, "content")
    index.remember("first", "c1")
    second = RunLedger(tmp_path, "second")
    (second.cell_dir("c1") / "outputs").mkdir(parents=True)
    (second.cell_dir("c1") / "outputs" / "mine.txt").write_text("keep")

    assert index.adopt(second, "c1") is None
    assert (second.cell_dir("c1") / "outputs" / "mine.txt").read_text() == "keep"
    assert sorted(p.name for p in second.run_dir.iterdir()) == ["c1"]
