"""The sweep-job flow from the command line, with real R and a real Prefect server: `python -m flows.train --job
sweep.yml` runs the study, writes the table, both plots and run.json's trial counters, picks the best trial by the
objective, exits 0 with trials stopped by the policy, and a re-run reuses every trial."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from flows.train import main
from tests.search.support import write_project
from tests.search.test_study_r import STEPPED

pytestmark = [pytest.mark.r, pytest.mark.usefixtures("prefect_server")]


def test_sweep_job_flow_runs_stops_selects_and_resumes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write_project(
        tmp_path,
        trial=STEPPED,
        inputs={"steps": 3, "hang_above": 1, "pause": 0.3},
        sampling_algorithm="grid",
        search_space={
            "x": {"type": "choice", "values": ["1.3", "4", "1.0"]},
            "y": {"type": "choice", "values": [-0.7]},
        },
        limits={"max_total_trials": 5, "max_concurrent_trials": 1},
        early_termination={"type": "bandit", "slack_amount": 0.5},
    )
    results = tmp_path / "results"
    args = ["--job", str(path), "--results", str(results), "--run-name", "flowrun", "--no-mlflow"]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "3 trial(s) by grid sampling: 2 completed, 1 stopped early, 0 failed, 0 cancelled" in out
    assert "best by loss:min" in out and "'x': '1.3'" in out
    run_dir = results / "flowrun"
    with (run_dir / "summary.csv").open(newline="") as handle:
        rows = {row["param.x"]: row for row in csv.DictReader(handle)}
    assert {x: row["status"] for x, row in rows.items()} == {"1.3": "Completed", "4": "Canceled", "1.0": "Completed"}
    assert rows["4"]["error"] == "early termination"
    summary = json.loads((run_dir / "run.json").read_text())
    assert (summary["trials"], summary["terminated"], summary["sampling"]) == (3, 1, "grid")
    assert (run_dir / "loss_by_param.png").stat().st_size > 0
    assert (run_dir / "loss_by_trial.png").stat().st_size > 0

    assert main(args) == 0
    again = json.loads((run_dir / "run.json").read_text())
    assert (again["submitted"], again["reused"], again["completed"], again["terminated"]) == (0, 3, 2, 1)
