"""--pack N through the train flow with real R: results identical to unpacked jobs, a packed job killed half-way
keeps what finished and the re-run runs only the rest, retries and timeouts per item."""

from __future__ import annotations

import csv
import json
import os
import signal
import threading
from pathlib import Path

import pytest

from flows.cancel import main as cancel_main
from flows.cli import main
from rjobs.packing.items import pack_entries, read_status
from tests.packing.support import ITEM_COMMAND, ITEM_R
from tests.reliability.support import OUTCOME_S, live_group_members, wait_until, write_project

pytestmark = [pytest.mark.r, pytest.mark.usefixtures("prefect_server")]


def run(job: Path, results: Path, *args: str) -> int:
    return main(["--job", str(job), "--results", str(results), "--no-mlflow", *args])


def summary(run_dir: Path) -> dict[str, dict[str, str]]:
    with (run_dir / "summary.csv").open(newline="") as handle:
        return {row["cell"]: row for row in csv.DictReader(handle)}


def outputs(run_dir: Path) -> dict[str, bytes]:
    return {str(p.relative_to(run_dir)): p.read_bytes() for p in sorted(run_dir.glob("*/outputs/**/*")) if p.is_file()}


def packs(run_dir: Path) -> list[Path]:
    return sorted((run_dir / ".packs" / ".jobs").iterdir())


def test_packed_results_are_the_unpacked_results(demo_project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (demo_project / "grid.yml").write_text("model: [lm, ranger]\nseed: [1, 2]\nfeatures: [flipper_length_mm]\n")
    job, results = demo_project / "job.yml", demo_project / "results"
    assert run(job, results, "--run-name", "plain", "--max-concurrent", "2", "--select", "rmse:min") == 0
    best_plain = [line for line in capsys.readouterr().out.splitlines() if line.startswith("best by")]
    packed_args = ["--pack", "2", "--pack-processes", "2", "--select", "rmse:min", "--register-model", "packed-model"]
    assert run(job, results, "--run-name", "packed", *packed_args) == 0
    best_packed = [line for line in capsys.readouterr().out.splitlines() if line.startswith("best by")]
    assert len(best_plain) == 1 and best_packed[0].startswith(best_plain[0])  # the same cell, registered as a model
    assert "registered packed-model version 1" in best_packed[0]

    plain, packed = summary(results / "plain"), summary(results / "packed")
    columns = [c for c in next(iter(plain.values())) if c.startswith(("param.", "metric.")) or c in ("status", "error")]
    assert {cell: [row[c] for c in columns] for cell, row in packed.items()} == {
        cell: [row[c] for c in columns] for cell, row in plain.items()
    }
    assert outputs(results / "packed") == outputs(results / "plain")
    assert len(outputs(results / "plain")) == 4 * 4  # per cell: metrics.json, params.json, model.rds, the plot
    for cell in packed:
        status = json.loads((results / "packed" / cell / "status.json").read_text())
        assert (status["state"], status["collected"], status["job_name"]) == ("Completed", True, f"packed-{cell}")
        assert (results / "packed" / cell / "std_log.txt").read_text() == (
            results / "plain" / cell / "std_log.txt"
        ).read_text()
    assert len(packs(results / "packed")) == 2
    run_json = json.loads((results / "packed" / "run.json").read_text())
    assert (run_json["completed"], run_json["submitted"]) == (4, 4)

    assert run(job, results, "--run-name", "packed", "--pack", "2") == 0  # nothing left: no new pack
    assert json.loads((results / "packed" / "run.json").read_text())["reused"] == 4
    assert len(packs(results / "packed")) == 2


@pytest.mark.parametrize(
    ("stop", "state", "exit_code"),
    [("kill", "Lost", 1), ("cancel", "Canceled", 130), ("sigterm", "Canceled", 130)],
)
def test_a_packed_job_stopped_half_way_keeps_finished_items_and_the_rerun_runs_only_the_rest(
    tmp_path: Path, stop: str, state: str, exit_code: int
) -> None:
    """kill: SIGKILL to the packed job's process group (preemption, OOM); cancel: python -m flows.cancel --run;
    sigterm: to the orchestrator, as Ctrl-C."""
    gate = tmp_path / "gate"
    grid = [{"mode": "ok", "seed": s} for s in (1, 2)] + [{"mode": "gate", "seed": s} for s in (3, 4, 5)]
    inputs = {"mode": "ok", "seed": 1, "gate": str(gate), "counter": str(tmp_path / "counter")}
    job = write_project(
        tmp_path / "project", script=ITEM_R, script_name="item.R", command=ITEM_COMMAND, inputs=inputs, grid=grid
    )
    results, run_dir = tmp_path / "results", tmp_path / "results" / "stopped"
    stopped: list[int] = []

    def stop_after_two_items() -> None:
        """Stop the packed job once two items' status files say exit 0 (the other three wait at the gate)."""

        def two_done() -> bool:
            found = [
                read_status(p.parent.parent.parent, p.parent.name)
                for p in run_dir.glob(".packs/.jobs/*/items/*/status")
            ]
            return sum(1 for s in found if s is not None and s.exit_code == 0) >= 2

        if wait_until(two_done, OUTCOME_S):
            pid = int(json.loads(next(run_dir.glob(".packs/.jobs/*/handle.json")).read_text())["data"]["pid"])
            if stop == "kill":
                os.killpg(pid, signal.SIGKILL)
            elif stop == "sigterm":  # to the orchestrator (this process): it cancels its packs, keeps what finished
                os.kill(os.getpid(), signal.SIGTERM)
            else:
                assert cancel_main(["--run", "stopped", "--results", str(results)]) == 0
            stopped.append(pid)

    stopper = threading.Thread(target=stop_after_two_items, daemon=True)
    stopper.start()
    assert run(job, results, "--run-name", "stopped", "--pack", "1", "--pack-processes", "5") == exit_code
    stopper.join(timeout=OUTCOME_S)
    assert stopped, "the packed job never got two items done"
    assert wait_until(lambda: not live_group_members(stopped[0]), OUTCOME_S)  # R went with its job

    first = summary(run_dir)
    done = {cell for cell, row in first.items() if row["status"] == "Completed"}
    assert {first[c]["param.seed"] for c in done} == {"1", "2"}
    assert {row["status"] for cell, row in first.items() if cell not in done} == {state}
    kept = {c: (run_dir / c / "outputs" / "metrics.json").stat().st_mtime_ns for c in done}

    gate.write_text("open")
    assert run(job, results, "--run-name", "stopped", "--pack", "1", "--pack-processes", "5") == 0
    second = summary(run_dir)
    assert {row["status"] for row in second.values()} == {"Completed"}
    assert {c: (run_dir / c / "outputs" / "metrics.json").stat().st_mtime_ns for c in done} == kept
    rerun_pack = [p for p in packs(run_dir) if not (p / "items" / next(iter(done))).exists()]
    assert len(rerun_pack) == 1
    assert {e.item_id for e in pack_entries(rerun_pack[0])} == set(first) - done  # only the unfinished, packed again
    assert {second[c]["attempt"] for c in set(first) - done} == {"2"}  # the stopped attempt counts, as for any job
    run_json = json.loads((run_dir / "run.json").read_text())
    assert (run_json["submitted"], run_json["reused"]) == (3, 2)


def test_items_are_retried_and_timed_out_per_item_inside_a_pack(tmp_path: Path) -> None:
    grid = [
        {"mode": "ok", "seed": 1},
        {"mode": "flaky", "seed": 2},
        {"mode": "fail", "seed": 3},
        {"mode": "sleep", "seed": 4},
    ]
    inputs = {"mode": "ok", "seed": 1, "gate": "none", "counter": str(tmp_path / "counter")}
    job = write_project(
        tmp_path / "project", script=ITEM_R, script_name="item.R", command=ITEM_COMMAND, inputs=inputs, grid=grid
    )
    results = tmp_path / "results"
    assert run(job, results, "--run-name", "mixed", "--pack", "2", "--retries", "1", "--timeout", "3") == 1

    rows = {row["param.mode"]: row for row in summary(results / "mixed").values()}
    assert {mode: (row["status"], row["attempt"]) for mode, row in rows.items()} == {
        "ok": ("Completed", "1"),
        "flaky": ("Completed", "2"),
        "fail": ("Failed", "2"),
        "sleep": ("Failed", "1"),
    }
    assert "fails by design" in rows["fail"]["error"]
    assert rows["sleep"]["error"].startswith("timed out")
    assert json.loads((results / "mixed" / rows["flaky"]["cell"] / "status.json").read_text())["failures"] == 1

    assert run(job, results, "--run-name", "mixed", "--pack", "2", "--retries", "1", "--timeout", "3") == 1
    assert json.loads((results / "mixed" / "run.json").read_text())["submitted"] == 0  # out of retries: nothing runs
