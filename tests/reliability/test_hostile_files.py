"""Hostile files a job or a user leaves: symlinks out of the job's folder and special files in ./outputs are never
collected, logged to MLflow or read (bounded time, a warning instead); FIFOs, devices, sockets and escaping symlinks
in the code folder are skipped by --dry-run and by the per-cell code copy."""

from __future__ import annotations

import json
import logging
import socket
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from rjobs.core.states import JobState
from tests.reliability.hostile import bounded, make_special
from tests.reliability.support import OUTCOME_S, engine_sweep, write_project

pytestmark = [pytest.mark.slow, pytest.mark.r]

REPO = Path(__file__).resolve().parents[2]

LINKS_R = r"""
dir.create("outputs/sub", recursive = TRUE, showWarnings = FALSE)
writeLines("model", "outputs/model.txt")
writeLines('{"n": 1}', "outputs/metrics.json")
writeLines("deep", "outputs/sub/deep.txt")
file.symlink("model.txt", "outputs/latest.txt")
file.symlink("../links.R", "outputs/code.R")
file.symlink("/etc/passwd", "outputs/passwd")
file.symlink("/proc/self/environ", "outputs/environ")
file.symlink("/dev/zero", "outputs/zero")
file.symlink("/etc", "outputs/etc")
file.symlink("..", "outputs/up")
file.symlink("../..", "outputs/work")
file.symlink(Sys.getenv("RJOBS_OUTSIDE"), "outputs/outside.txt")
stopifnot(system2("mkfifo", "outputs/fifo") == 0)
"""

COLLECTED = {"model.txt", "metrics.json", "sub/deep.txt", "latest.txt", "code.R", "up/links.R"}
"""Regular files, and what symlinks inside R's working directory (the job's folder) point at, as copies."""
SKIPPED = ("passwd", "environ", "zero", "etc", "work", "up/outputs", "outside.txt", "fifo")

LOG_SWEEP = """
import sys
from rjobs.engine.ledger import RunLedger
from rjobs.results.tracking import log_sweep
ledger = RunLedger(sys.argv[1], sys.argv[2])
result = log_sweep(ledger, ledger.records(), experiment="hostile", backend="local")
print(result.child_run_ids[sys.argv[3]])
"""

LIST_ARTIFACTS = """
import sys
from rjobs.results.tracking import make_client
client = make_client(sys.argv[1])
def walk(path):
    for item in client.list_artifacts(sys.argv[2], path):
        yield from walk(item.path) if item.is_dir else [item.path]
print("\\n".join(sorted(walk("outputs"))))
"""


def python(code: str, *args: str) -> subprocess.CompletedProcess[str]:
    """Run code in a fresh interpreter, killed after a bound: a read of /dev/zero fails the test, not the suite."""
    return subprocess.run(
        [sys.executable, "-c", code, *args], capture_output=True, text=True, timeout=OUTCOME_S * 2, cwd=REPO
    )


def every_file(root: Path) -> Iterator[tuple[Path, bytes]]:
    for path in sorted(root.rglob("*")):
        if path.is_file() and not path.is_symlink():
            yield path, path.read_bytes()


def test_symlinks_out_of_the_job_and_special_files_are_never_collected_or_logged(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    secret = f"orchestrator-secret-{uuid.uuid4().hex}"
    monkeypatch.setenv("DATABASE_URL", f"postgres://user:{secret}@db/prod")  # what /proc/self/environ would copy
    outside = tmp_path / "outside.txt"
    outside.write_text(f"outside the job {secret}")
    monkeypatch.setenv("RJOBS_OUTSIDE", str(outside))
    job = write_project(
        tmp_path / "project", script=LINKS_R, script_name="links.R", command="Rscript links.R", inputs={}
    )
    results = tmp_path / "results"
    with caplog.at_level(logging.WARNING):
        sweep = bounded(lambda: engine_sweep(job, results, "links"))
    (cell,) = sweep.cells
    record = sweep.ledger.load(cell)
    assert record.job_state == JobState.COMPLETED, record.error
    outputs = sweep.ledger.outputs_dir(cell)
    assert {p.relative_to(outputs).as_posix() for p in outputs.rglob("*") if not p.is_dir()} == COLLECTED
    assert [p for p in results.rglob("*") if p.is_symlink() or (p.exists() and not (p.is_file() or p.is_dir()))] == []
    assert (outputs / "latest.txt").read_text() == "model\n" and "file.symlink" in (outputs / "code.R").read_text()
    assert all(f"skipped {name} (" in caplog.text for name in SKIPPED), caplog.text

    logged = python(LOG_SWEEP, str(results), "links", cell)
    assert logged.returncode == 0, logged.stderr[-2000:]
    child = logged.stdout.split()[-1]
    listed = python(LIST_ARTIFACTS, f"sqlite:///{(results / 'mlflow.db').as_posix()}", child)
    assert listed.returncode == 0, listed.stderr[-2000:]
    assert set(listed.stdout.split()) == {f"outputs/{name}" for name in COLLECTED}

    root_line = Path("/etc/passwd").read_text().splitlines()[0].encode()
    for path, data in every_file(results):
        assert secret.encode() not in data, path
        assert root_line not in data, path


CODE_HAZARDS = ["fifo", "device", "socket", "symlink-outside", "symlink-to-dev-zero", "symlink-loop"]


@pytest.mark.parametrize("kind", CODE_HAZARDS)
def test_dry_run_skips_hostile_entries_of_the_code_folder_with_a_warning(
    tmp_path: Path, sockets: list[socket.socket], kind: str
) -> None:
    job = write_project(tmp_path / "project", grid={"seed": [1, 2]})
    make_special(kind, job.parent / "src" / kind, sockets)
    args = ["--job", str(job), "--results", str(tmp_path / "results"), "--dry-run", "--rscript", "Rscript"]
    try:
        done = subprocess.run(
            [sys.executable, "-m", "flows.train", *args],
            capture_output=True,
            text=True,
            timeout=OUTCOME_S * 2,
            cwd=REPO,
        )
    except subprocess.TimeoutExpired:
        pytest.fail(f"--dry-run with a {kind} in the code folder did not finish within {OUTCOME_S * 2:.0f} s")
    assert done.returncode == 0, done.stderr[-2000:]
    assert "Traceback" not in done.stderr
    assert f"skipped {kind} (" in done.stderr, done.stderr[-2000:]
    assert "2 cell(s)" in done.stdout


LIST_CODE_R = r"""
dir.create("outputs", showWarnings = FALSE)
writeLines(list.files(".", recursive = TRUE, all.files = TRUE, include.dirs = FALSE), "outputs/files.txt")
writeLines(sprintf('{"seed": %s}', commandArgs(TRUE)[[2]]), "outputs/metrics.json")
"""


def test_the_per_cell_code_copy_holds_the_snapshot_only(tmp_path: Path, sockets: list[socket.socket]) -> None:
    job = write_project(
        tmp_path / "project",
        script=LIST_CODE_R,
        script_name="list.R",
        command="Rscript list.R --seed ${{inputs.seed}}",
        inputs={"seed": 1},
        grid={"seed": [1, 2]},
    )
    code = job.parent / "src"
    for kind in CODE_HAZARDS:
        make_special(kind, code / kind, sockets)
    (code / "lib").mkdir()
    (code / "lib" / "util.R").write_text("u <- 1\n")
    (code / "util.R").symlink_to("lib/util.R")
    (code / ".git").mkdir()
    (code / ".git" / "HEAD").write_text("ref\n")
    (code / ".gitignore").write_text("*.log\n")
    (code / "debug.log").write_text("noise\n")

    sweep = bounded(lambda: engine_sweep(job, tmp_path / "results", "copy"), code / "fifo")
    for cell in sweep.cells:
        record = sweep.ledger.load(cell)
        assert record.job_state == JobState.COMPLETED, record.error
        listed = (sweep.ledger.outputs_dir(cell) / "files.txt").read_text().split()
        assert sorted(listed) == [".gitignore", "lib/util.R", "list.R", "util.R"], listed
        assert json.loads((sweep.ledger.outputs_dir(cell) / "metrics.json").read_text())["seed"] in (1, 2)
