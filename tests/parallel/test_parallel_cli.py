"""`python -m flows.train --job parallel-job.yml` through the parallel Prefect flow with real R: the table, the
appended output and the exit code (0 within the thresholds, 1 past them)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from flows.train import main
from tests.parallel.support import make_project, write_files

pytestmark = [pytest.mark.r, pytest.mark.usefixtures("prefect_server")]
FOLDER = {"type": "uri_folder", "path": "data"}


def run(job: Path, *args: str) -> int:
    return main(["--job", str(job), "--results", str(job.parent / "results"), "--run-name", "p", *args])


def test_the_cli_runs_a_parallel_job_and_exits_0_within_thresholds(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write_files(tmp_path / "data", {"f0.txt": "0", "f1.txt": "CORRUPT", "f2.txt": "2", "f3.txt": "3"})
    job = make_project(tmp_path, FOLDER, mini_batch_size="2", error_threshold=1)
    assert run(job) == 0
    out = capsys.readouterr().out
    assert "2/2 batches completed, 0 failed, 1 failed item(s)" in out
    assert "rows: " in out and "(3 rows)" in out
    summary = json.loads((tmp_path / "results" / "p" / "run.json").read_text())
    assert (summary["batches"], summary["rows"], summary["stopped"]) == (2, 3, "")

    assert run(job, "--dry-run") == 0
    assert "2 batch(es) of 4 item(s), 2 at once" in capsys.readouterr().out


def test_the_cli_exits_1_naming_the_batches_past_a_threshold(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write_files(tmp_path / "data", {"f0.txt": "FAILBATCH", "f1.txt": "1"})
    job = make_project(
        tmp_path, FOLDER, mini_batch_size="1", mini_batch_error_threshold=0, retry_settings={"max_retries": 0}
    )
    assert run(job) == 1
    out = capsys.readouterr().out
    failed = json.loads((tmp_path / "results" / "p" / "run.json").read_text())["failed_batches"]
    assert len(failed) == 1 and f"failed batches: {failed[0]}" in out
    assert "mini_batch_error_threshold 0" in out
