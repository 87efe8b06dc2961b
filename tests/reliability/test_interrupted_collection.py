"""A Ctrl-C or SIGTERM landing at any point of collecting a finished job's outputs, packed or not: the re-run
finishes the collection and every output is in its cell folder. Each test walks every file operation of the step
(tests/reliability/interruption.py) with `sh` standing in for R."""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable
from pathlib import Path

import pytest

from rjobs.engine.sweep import Sweep
from rjobs.packing import engine as packing_engine
from rjobs.packing.engine import PackedSweep
from tests.packing.support import sh_sweep
from tests.reliability.interruption import InterruptAt

LAST_POINT = 200  # far more file operations than either step makes: a walk that never ends is a failure


def run_packed(sweep: Sweep) -> None:
    PackedSweep(sweep, packs=1, processes=2).run()


def run_each_cell(sweep: Sweep) -> None:
    for cell in sweep.cells:
        sweep.run_cell(cell)


def arm_harvest(monkeypatch: pytest.MonkeyPatch, interrupter: InterruptAt) -> None:
    monkeypatch.setattr(packing_engine, "harvest_item", interrupter.wrap(packing_engine.harvest_item))


def arm_collect(monkeypatch: pytest.MonkeyPatch, interrupter: InterruptAt) -> None:
    monkeypatch.setattr(Sweep, "_collect", interrupter.wrap(Sweep._collect))


def assert_every_output_collected(sweep: Sweep) -> None:
    for cell_id, cell in sweep.cells.items():
        seed = int(str(cell.params["seed"]))
        record = sweep.ledger.load(cell_id)
        assert record is not None and (record.state, record.collected) == ("Completed", True), cell_id
        outputs = sweep.ledger.cell_dir(cell_id) / "outputs"
        assert json.loads((outputs / "metrics.json").read_text()) == {"seed": seed}
        assert (outputs / "model" / "weights.txt").read_text() == f"{seed}\n"
        assert record.metrics == {"seed": float(seed)}


@pytest.mark.parametrize(
    ("run", "arm"), [(run_packed, arm_harvest), (run_each_cell, arm_collect)], ids=["packed", "one-job-per-cell"]
)
def test_a_collection_interrupted_at_any_file_operation_is_finished_by_the_rerun(
    tmp_path: Path,
    run: Callable[[Sweep], None],
    arm: Callable[[pytest.MonkeyPatch, InterruptAt], None],
) -> None:
    walked = 0
    for n in itertools.count(1):
        assert n < LAST_POINT, "the step never ran to its end"
        root = tmp_path / f"point-{n}"
        root.mkdir()
        (root / "gate").touch()
        with pytest.MonkeyPatch.context() as monkeypatch:
            interrupter = InterruptAt(monkeypatch, n)
            arm(monkeypatch, interrupter)
            try:
                run(sh_sweep(root, "cut"))
            except KeyboardInterrupt:
                assert interrupter.fired
        if not interrupter.fired:
            break
        walked += 1
        again = sh_sweep(root, "cut")
        run(again)
        assert_every_output_collected(again)
    assert walked >= 8, f"only {walked} points walked: the step's file operations are not being counted"
