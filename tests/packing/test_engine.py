"""The packing engine driven directly (no Prefect), its items a POSIX sh script standing in for R (the local
backend's `rscript` swapped for `sh`), so the bookkeeping runs in seconds: progress while a pack runs, a pack whose
folder vanished, and the unpacked cell folder."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from rjobs.packing.engine import PackedSweep
from tests.packing.support import sh_sweep


def test_progress_arrives_per_item_while_the_pack_runs(tmp_path: Path) -> None:
    sweep = sh_sweep(tmp_path, "progress")
    lines: list[str] = []

    def on_progress(line: str) -> None:
        """Seeing seed 1 finish is what opens the gate seed 2 waits at: without progress during the run, seed 2
        would wait out its 60 s and fail."""
        lines.append(line)
        if " Completed " in line:
            (tmp_path / "gate").touch()

    PackedSweep(sweep, packs=1, processes=2, on_progress=on_progress).run()
    summary = sweep.finish()
    assert (summary["completed"], summary["submitted"]) == (2, 2)
    done = [line for line in lines if "Completed" in line and "[" in line]
    assert [line.split("[")[1].split("]")[0] for line in done] == ["1/2", "2/2"]
    for cell in sweep.cells:
        cell_dir = sweep.ledger.cell_dir(cell)
        seed = sweep.cells[cell].params["seed"]
        assert json.loads((cell_dir / "outputs" / "metrics.json").read_text()) == {"seed": int(str(seed))}
        assert (cell_dir / "std_log.txt").read_text() == f"item {seed} done\n"
        assert sweep.ledger.load(cell).metrics == {"seed": float(str(seed))}  # type: ignore[union-attr]


def test_a_pack_whose_folder_vanished_is_lost_and_its_items_run_again(tmp_path: Path) -> None:
    (tmp_path / "gate").touch()
    sweep = sh_sweep(tmp_path, "vanished")
    packed = PackedSweep(sweep, packs=1, processes=2)
    first = packed.run()
    assert sweep.finish()["completed"] == 2
    for cell in sweep.cells:  # as if the cells had never finished, and their pack's folder was deleted
        record = sweep.ledger.load(cell)
        assert record is not None
        record.state, record.collected = "Running", False
        sweep.ledger.save(record)
    shutil.rmtree(sweep.ledger.run_dir / ".packs")

    again = PackedSweep(sweep, packs=1, processes=2)
    second = again.run()
    assert second != first
    assert {sweep.ledger.load(c).attempt for c in sweep.cells} == {2}  # type: ignore[union-attr]
    assert sweep.finish()["completed"] == 2
