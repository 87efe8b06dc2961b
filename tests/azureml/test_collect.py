"""Collecting a job: outputs and the user log land in the cell folder, and nothing the service names escapes it."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from rjobs.backends.azureml.collect import relocate, safe_target
from rjobs.core.states import JobState
from rjobs.testing.fake_mlclient import FakeClock, FakeMLClient, FakeSymlink, JobScript

pytestmark = pytest.mark.azure_fake

HOSTILE = {
    "outputs/metrics.json": '{"rmse": 1.5}',
    "outputs/model/model.rds": b"RDS\x00",
    "outputs/../../escaped.txt": "x",
    "outputs/../../../../../escaped-far.txt": "x",
    "/tmp/rjobs-absolute-escape.txt": "x",
    "outputs/link": FakeSymlink("/etc/passwd"),
    "outputs/linkdir": FakeSymlink("../../../.."),
    "user_logs/std_log.txt": "fitting...\nlm on flipper_length_mm: rmse=1.5\n",
    "system_logs/lifecycler.log": "ok",
}


def finished(fake: FakeMLClient, clock: FakeClock, prepared, spec, cell_job, script: JobScript, seed: int = 1):
    backend, data = prepared
    fake.script("run1-*", script)
    job = cell_job(spec, {"seed": seed}, data=data)
    handle = backend.submit(job)
    clock.advance(120.0)
    assert backend.status([handle])[handle.job_name].state.terminal
    return backend, job, handle


def tree(root: Path) -> set[str]:
    return {p.relative_to(root).as_posix() for p in root.rglob("*")}


def test_collect_moves_outputs_and_log(fake, clock, prepared, spec, cell_job, tmp_path: Path, caplog) -> None:
    backend, job, handle = finished(fake, clock, prepared, spec, cell_job, JobScript(artifacts=HOSTILE))
    outside = tree(tmp_path)
    with caplog.at_level(logging.WARNING, logger="rjobs.backends.azureml.collect"):
        outputs = backend.collect(handle, job.cell_dir)

    assert outputs == job.cell_dir / "outputs"
    assert tree(job.cell_dir) == {
        "outputs",
        "outputs/metrics.json",
        "outputs/model",
        "outputs/model/model.rds",
        "std_log.txt",
    }
    assert (outputs / "model" / "model.rds").read_bytes() == b"RDS\x00"
    assert "rmse=1.5" in (job.cell_dir / "std_log.txt").read_text()
    assert {p for p in tree(tmp_path) - outside if p.split("/")[0] != "results"} == set()
    assert not Path("/tmp/rjobs-absolute-escape.txt").exists()
    refused = " ".join(r.getMessage() for r in caplog.records)
    assert "'link'" in refused and "'linkdir'" in refused

    assert backend.logs(handle, job.cell_dir) == job.cell_dir / "std_log.txt"
    assert fake.count("jobs.download") == 1


def test_collect_replaces_symlinks_planted_in_the_cell_folder(fake, clock, prepared, spec, cell_job, tmp_path) -> None:
    backend, job, handle = finished(fake, clock, prepared, spec, cell_job, JobScript(artifacts=HOSTILE))
    victim = tmp_path / "victim"
    victim.mkdir()
    (victim / "keep.txt").write_text("keep")
    job.cell_dir.mkdir(parents=True)
    (job.cell_dir / "outputs").symlink_to(victim, target_is_directory=True)
    (job.cell_dir / "std_log.txt").symlink_to(victim / "keep.txt")

    backend.collect(handle, job.cell_dir)
    assert tree(victim) == {"keep.txt"} and (victim / "keep.txt").read_text() == "keep"
    assert not (job.cell_dir / "outputs").is_symlink() and not (job.cell_dir / "std_log.txt").is_symlink()


def test_named_outputs_join_the_outputs_folder(fake, clock, prepared, spec, cell_job) -> None:
    backend, job, handle = finished(fake, clock, prepared, spec, cell_job, JobScript(artifacts={"outputs/a.txt": "a"}))
    named = fake.store / "named" / job.job_name / "model"
    named.mkdir(parents=True)
    (named / "weights.bin").write_bytes(b"w")
    outputs = backend.collect(handle, job.cell_dir)
    assert tree(outputs) == {"a.txt", "model", "model/weights.bin"}


def test_logs_of_a_failed_job_and_none_while_running(fake, clock, prepared, spec, cell_job) -> None:
    backend, data = prepared
    fake.script("run1-*", JobScript(outcome="Failed", log="Error in main(): --data file not found\n", queue_s=50))
    job = cell_job(spec, {"seed": 2}, data=data)
    handle = backend.submit(job)
    assert backend.logs(handle, job.cell_dir) is None
    assert tree(job.cell_dir) == set()
    clock.advance(200.0)
    assert backend.status([handle])[handle.job_name].state == JobState.FAILED
    log = backend.logs(handle, job.cell_dir)
    assert log is not None and "--data file not found" in log.read_text()


@pytest.mark.parametrize(
    "name",
    ["../../x", "a/../../x", "/etc/passwd", "C:\\Windows\\x", "C:x", "..", "a/..", "", "x\0y", "\\\\server\\share\\x"],
)
def test_safe_target_refuses_escaping_names(tmp_path: Path, name: str) -> None:
    assert safe_target(tmp_path, name) is None


def test_safe_target_accepts_ordinary_names_and_refuses_symlinked_parents(tmp_path: Path) -> None:
    root = tmp_path / "root"
    root.mkdir()
    assert safe_target(root, "outputs/a b/ü.json") == root / "outputs" / "a b" / "ü.json"
    (root / "sneaky").symlink_to(tmp_path, target_is_directory=True)
    assert safe_target(root, "sneaky/x") is None


def test_relocate_skips_symlinks_and_keeps_going(tmp_path: Path) -> None:
    source, target = tmp_path / "src", tmp_path / "dst"
    (source / "deep").mkdir(parents=True)
    (source / "deep" / "ok.txt").write_text("ok")
    (source / "link.txt").symlink_to("/etc/hostname")
    (source / "dirlink").symlink_to(tmp_path, target_is_directory=True)
    refused: list[str] = []
    assert relocate(source, target, refused) == 1
    assert tree(target) == {"deep", "deep/ok.txt"}
    assert sorted(refused) == ["dirlink", "link.txt"]
