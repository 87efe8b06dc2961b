"""The parallel step end to end with real R on the local backend: folders, CSV, Parquet, partitions, thresholds,
retries, resume and growth, each checked in the results folder R and the engine leave."""

from __future__ import annotations

import csv
import os
import shutil
import subprocess
import time
from collections import Counter
from pathlib import Path

import pandas as pd
import pytest

from tests.parallel.support import calls, driver_command, make_project, run_parallel, write_files

pytestmark = pytest.mark.r
REPO = Path(__file__).resolve().parents[2]
FOLDER = {"type": "uri_folder", "path": "data"}


def read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as handle:
        return list(csv.DictReader(handle))


def test_folder_in_batches_appends_rows_in_input_order(tmp_path: Path) -> None:
    write_files(tmp_path / "data", {f"f{i}.txt": str(i) for i in range(7)})
    job = make_project(tmp_path, FOLDER, mini_batch_size="3")
    _, summary = run_parallel(job)
    assert (summary["batches"], summary["items"], summary["completed"], summary["rows"]) == (3, 7, 3, 7)
    rows = read_csv(tmp_path / "results" / "p" / "predictions.csv")
    assert [r["file"] for r in rows] == [f"f{i}.txt" for i in range(7)]
    assert [float(r["value"]) for r in rows] == [2.0 * i for i in range(7)]
    assert list(rows[0]) == ["batch", "file", "value"]
    table = read_csv(tmp_path / "results" / "p" / "summary.csv")
    expected = [("3", "3", "0"), ("3", "3", "0"), ("1", "1", "0")]
    assert [(r["items"], r["rows"], r["failed_items"]) for r in table] == expected
    assert [r["batch"] for r in table] == list(dict.fromkeys(r["batch"] for r in rows))


def test_rerun_reuses_every_batch_and_new_files_run_only_new_batches(tmp_path: Path) -> None:
    write_files(tmp_path / "data", {f"f{i}.txt": str(i) for i in range(6)})
    job = make_project(tmp_path, FOLDER, mini_batch_size="3")
    run_parallel(job)
    first = Counter(calls(tmp_path))
    _, again = run_parallel(job)
    assert (again["submitted"], again["reused"]) == (0, 2)
    write_files(tmp_path / "data", {"f6.txt": "6", "a0.txt": "10"})
    _, grown = run_parallel(job)
    assert (grown["batches"], grown["submitted"], grown["reused"]) == (3, 1, 2)
    new = Counter(calls(tmp_path)) - first
    assert sum(new.values()) == 1
    assert max(Counter(calls(tmp_path)).values()) == 1
    rows = read_csv(tmp_path / "results" / "p" / "predictions.csv")
    assert sorted(r["file"] for r in rows) == sorted(["a0.txt"] + [f"f{i}.txt" for i in range(7)])


def test_csv_by_rows_and_parquet_give_the_same_rows(tmp_path: Path) -> None:
    table = pd.DataFrame({"id": [f"r{i}" for i in range(25)], "x": [str(i) for i in range(25)]})
    table.to_csv(tmp_path / "table.csv", index=False)
    table.to_parquet(tmp_path / "table.parquet")
    results = {}
    for name in ("table.csv", "table.parquet"):
        root = tmp_path / name.replace(".", "_")
        root.mkdir()
        job = make_project(root, {"type": "uri_file", "path": str(tmp_path / name)}, mini_batch_size="10")
        _, summary = run_parallel(job)
        assert (summary["batches"], summary["items"], summary["rows"]) == (3, 25, 25)
        results[name] = [(r["id"], r["pred"]) for r in read_csv(root / "results" / "p" / "predictions.csv")]
    assert results["table.csv"] == results["table.parquet"] == [(f"r{i}", str(2 * i)) for i in range(25)]


def test_partition_keys_run_one_batch_per_group(tmp_path: Path) -> None:
    table = pd.DataFrame(
        {"id": [str(i) for i in range(9)], "island": list("ABCABCAAB"), "x": [str(i) for i in range(9)]}
    )
    table.to_csv(tmp_path / "table.csv", index=False)
    job = make_project(tmp_path, {"type": "uri_file", "path": "table.csv"}, partition_keys=["island"])
    _, summary = run_parallel(job)
    rows = read_csv(tmp_path / "results" / "p" / "predictions.csv")
    assert [(r["partition"], r["n"], float(r["total"])) for r in rows] == [
        ("island=A", "4", 2.0 * (0 + 3 + 6 + 7)),
        ("island=B", "3", 2.0 * (1 + 4 + 8)),
        ("island=C", "2", 2.0 * (2 + 5)),
    ]
    assert summary["batches"] == 3


def test_a_batch_that_fails_once_is_retried_and_succeeds(tmp_path: Path) -> None:
    write_files(tmp_path / "data", {"f0.txt": "0", "f1.txt": "FAILONCE", "f2.txt": "2"})
    job = make_project(tmp_path, FOLDER, mini_batch_size="2", mini_batch_error_threshold=0)
    _, summary = run_parallel(job)
    assert summary["completed"] == 2 and summary["failed_batches"] == [] and not summary["stopped"]
    table = read_csv(tmp_path / "results" / "p" / "summary.csv")
    assert [r["attempt"] for r in table] == ["2", "1"]
    assert len(calls(tmp_path)) == 3


@pytest.mark.parametrize(("threshold", "stopped"), [(1, False), (0, True), (-1, False)])
def test_a_corrupt_file_counts_against_error_threshold(tmp_path: Path, threshold: int, stopped: bool) -> None:
    write_files(tmp_path / "data", {"f0.txt": "0", "f1.txt": "CORRUPT", "f2.txt": "2"})
    job = make_project(tmp_path, FOLDER, mini_batch_size="3", error_threshold=threshold)
    _, summary = run_parallel(job)
    assert summary["failed_items"] == 1
    assert bool(summary["stopped"]) is stopped
    assert (tmp_path / "results" / "p" / "failed_items.txt").read_text().split("\t")[1] == "f1.txt\n"
    assert summary["rows"] == 2


@pytest.mark.parametrize(("threshold", "stopped"), [(1, False), (0, True)])
def test_mini_batch_error_threshold_stops_and_cancels(tmp_path: Path, threshold: int, stopped: bool) -> None:
    files = {"f0.txt": "FAILBATCH", **{f"f{i}.txt": str(i) for i in range(1, 6)}}
    write_files(tmp_path / "data", files)
    job = make_project(
        tmp_path,
        FOLDER,
        mini_batch_size="1",
        mini_batch_error_threshold=threshold,
        max_concurrency_per_instance=1,
        retry_settings={"max_retries": 0, "timeout": 60},
    )
    run, summary = run_parallel(job)
    assert len(summary["failed_batches"]) == 1
    assert bool(summary["stopped"]) is stopped
    if stopped:  # the failed batch ran first, with one slot: nothing else was submitted after it crossed
        assert summary["submitted"] == 1 and summary["cancelled"] == 5
        assert "mini_batch_error_threshold 0" in run.stopped
    else:
        assert summary["completed"] == 5 and summary["rows"] == 5


def test_a_batch_past_its_timeout_is_killed_and_retried(tmp_path: Path) -> None:
    """Only the sleeper (60 s) against a 15 s timeout: R starts well within it even on a loaded machine."""
    write_files(tmp_path / "data", {"f0.txt": "SLEEP"})
    job = make_project(tmp_path, FOLDER, mini_batch_size="1", retry_settings={"max_retries": 1, "timeout": 15})
    _, summary = run_parallel(job)
    assert len(summary["failed_batches"]) == 1 and summary["completed"] == 0
    assert len(calls(tmp_path)) == 2  # the first try and one retry, each killed at its timeout
    table = read_csv(tmp_path / "results" / "p" / "summary.csv")
    assert table[0]["attempt"] == "2" and "timed out" in table[0]["error"]


def test_resume_after_kill_9_runs_no_batch_twice(tmp_path: Path) -> None:
    write_files(tmp_path / "data", {f"f{i}.txt": "WAIT" if i < 2 else str(i) for i in range(5)})
    job = make_project(tmp_path, FOLDER, mini_batch_size="1")
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    driver = subprocess.Popen(driver_command(job), cwd=REPO, env=env)
    try:
        deadline = time.monotonic() + 90
        while len(calls(tmp_path)) < 2 and time.monotonic() < deadline and driver.poll() is None:
            time.sleep(0.05)
        assert len(calls(tmp_path)) == 2, "the two waiting batches never started"
    finally:
        driver.kill()
        driver.wait()
    (tmp_path / "state" / "go").touch()
    _, summary = run_parallel(job)
    assert summary["completed"] == 5 and summary["rows"] == 5
    assert sorted(Counter(calls(tmp_path)).values()) == [1] * 5


def test_the_many_models_demo_trains_one_model_per_species(tmp_path: Path) -> None:
    demo = tmp_path / "examples" / "many-models"
    shutil.copytree(REPO / "examples" / "many-models", demo)
    (tmp_path / "data").mkdir()
    shutil.copy2(REPO / "data" / "penguins.csv", tmp_path / "data" / "penguins.csv")
    _, summary = run_parallel(demo / "parallel-job.yml")
    rows = read_csv(demo / "results" / "p" / "metrics.csv")
    assert [r["partition"] for r in rows] == ["species=Adelie", "species=Gentoo", "species=Chinstrap"]
    assert all(0 < float(r["r2"]) < 1 and float(r["rmse"]) > 0 for r in rows)
    assert summary["failed_items"] == 2  # the two penguins without measurements, listed, within the threshold
    assert all((demo / "results" / "p" / r["batch"] / "outputs" / "model.rds").is_file() for r in rows)
