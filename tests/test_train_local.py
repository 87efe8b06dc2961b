"""The train flow end to end with real R on the local backend: results, resume, failures, bad input."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from flows.cli import main

pytestmark = [pytest.mark.r, pytest.mark.usefixtures("prefect_server")]
HEADER_START = ["cell", "status", "attempt", "job_name", "duration_s"]


def run(project: Path, *args: str) -> int:
    return main(["--job", str(project / "job.yml"), "--results", str(project / "results"), *args])


def read_summary(project: Path, run_name: str) -> list[dict[str, str]]:
    with (project / "results" / run_name / "summary.csv").open(newline="") as handle:
        return list(csv.DictReader(handle))


def run_json(project: Path, run_name: str) -> dict[str, object]:
    return json.loads((project / "results" / run_name / "run.json").read_text())


def test_demo_grid_runs_collects_and_resumes_without_new_jobs(demo_project: Path) -> None:
    (demo_project / "grid.yml").write_text("model: [lm, ranger]\nseed: [1, 2]\n")
    assert run(demo_project, "--run-name", "demo", "--max-concurrent", "2") == 0

    rows = read_summary(demo_project, "demo")
    header = list(rows[0])
    assert header[:5] == HEADER_START
    assert header[5:7] == ["param.model", "param.seed"]
    assert {"metric.rmse", "metric.r2", "metric.mae"} <= set(header)
    assert header[-1] == "error"
    assert [r["status"] for r in rows] == ["Completed"] * 4
    assert all(float(r["metric.rmse"]) > 0 and 0 < float(r["metric.r2"]) <= 1 for r in rows)
    assert {(r["param.model"], r["param.seed"]) for r in rows} == {
        ("lm", "1"),
        ("lm", "2"),
        ("ranger", "1"),
        ("ranger", "2"),
    }
    for row in rows:
        cell_dir = demo_project / "results" / "demo" / row["cell"]
        assert row["job_name"] == f"demo-{row['cell']}"
        for name in ("metrics.json", "model.rds", "pred_vs_actual.png"):
            assert (cell_dir / "outputs" / name).is_file(), name
        assert "rmse" in (cell_dir / "std_log.txt").read_text() or (cell_dir / "std_log.txt").stat().st_size > 0
        assert json.loads((cell_dir / "status.json").read_text())["state"] == "Completed"
    first = run_json(demo_project, "demo")
    assert (first["cells"], first["submitted"], first["reused"], first["completed"], first["failed"]) == (4, 4, 0, 4, 0)

    mtimes = {p: p.stat().st_mtime_ns for p in (demo_project / "results" / "demo").rglob("outputs/*")}
    assert run(demo_project, "--run-name", "demo") == 0
    second = run_json(demo_project, "demo")
    assert (second["submitted"], second["reused"], second["completed"]) == (0, 4, 4)
    assert {p: p.stat().st_mtime_ns for p in mtimes} == mtimes


def test_failing_cell_fails_alone_is_retried_and_resumes_within_budget(demo_project: Path) -> None:
    grid = "model: [lm]\nfeatures: [flipper_length_mm, no_such_column]\n"
    (demo_project / "grid.yml").write_text(grid)
    assert run(demo_project, "--run-name", "bad", "--retries", "1") == 1

    rows = {r["param.features"]: r for r in read_summary(demo_project, "bad")}
    assert rows["flipper_length_mm"]["status"] == "Completed"
    failed = rows["no_such_column"]
    assert failed["status"] == "Failed"
    assert failed["attempt"] == "2"
    assert failed["job_name"].endswith("-r2")
    assert "no_such_column" in failed["error"]
    assert run_json(demo_project, "bad")["submitted"] == 3

    assert run(demo_project, "--run-name", "bad", "--retries", "1") == 1
    assert run_json(demo_project, "bad")["submitted"] == 0

    assert run(demo_project, "--run-name", "bad", "--retries", "2") == 1
    again = {r["param.features"]: r for r in read_summary(demo_project, "bad")}
    assert again["no_such_column"]["attempt"] == "3"
    assert run_json(demo_project, "bad")["submitted"] == 1


def test_seed_guide_project_runs_unchanged_as_one_cell(tmp_path: Path) -> None:
    import shutil

    seed = tmp_path / "seed"
    shutil.copytree(Path(__file__).parent / "fixtures" / "seed_project", seed)
    assert run(seed, "--run-name", "seed") == 0
    rows = read_summary(seed, "seed")
    assert len(rows) == 1 and rows[0]["status"] == "Completed"
    species = (seed / "results" / "seed" / rows[0]["cell"] / "outputs" / "species.csv").read_text()
    assert species.splitlines()[0] == "species,n"
    assert {line.split(",")[0] for line in species.splitlines()[1:]} == {"Adelie", "Chinstrap", "Gentoo"}


def test_dry_run_prints_every_cell_and_command_and_runs_nothing(
    demo_project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(demo_project, "--dry-run", "--run-name", "plan") == 0
    out = capsys.readouterr().out
    assert "12 cell(s) on local" in out
    assert out.count("[submit]") == 12
    assert out.count("Rscript train.R --data ") == 12
    assert "--features bill_length_mm+bill_depth_mm+flipper_length_mm+species+sex" in out
    assert not (demo_project / "results").exists()
