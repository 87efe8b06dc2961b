"""A parallel job's batches packed (--pack with resources.instance_count and max_concurrency_per_instance), with
real R on the local backend: instance_count packed jobs of max_concurrency_per_instance processes, the same rows
appended as unpacked, thresholds still counted per batch, and a --pack that disagrees with the job refused."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from rjobs.core.errors import InputError
from rjobs.inputs.options import SweepOptions
from rjobs.parallel.summary import finish
from rjobs.parallel.wiring import build_run, prepare_parallel
from tests.parallel.support import make_project, run_parallel, write_files

pytestmark = pytest.mark.r
FOLDER = {"type": "uri_folder", "path": "data"}
RESOURCES = {"resources": {"instance_count": 2}, "max_concurrency_per_instance": 2}


def rows(run_dir: Path) -> list[tuple[str, str]]:
    with (run_dir / "predictions.csv").open(newline="") as handle:
        return [(row["file"], row["value"]) for row in csv.DictReader(handle)]


def run_packed(job: Path, run_name: str) -> dict[str, object]:
    options = SweepOptions(job=str(job), results=str(job.parent / "results"), run_name=run_name, pack=2)
    run = build_run(prepare_parallel(options))
    run.run()
    return finish(run)


def test_batches_run_in_instance_count_packs_and_append_the_unpacked_rows(tmp_path: Path) -> None:
    write_files(tmp_path / "data", {f"f{i}.txt": str(i) for i in range(7)})
    job = make_project(tmp_path, FOLDER, mini_batch_size="2", **RESOURCES)
    _, plain = run_parallel(job, "plain")
    packed = run_packed(job, "packed")
    assert (
        (packed["batches"], packed["completed"], packed["rows"])
        == (4, 4, 7)
        == (
            plain["batches"],
            plain["completed"],
            plain["rows"],
        )
    )
    assert rows(tmp_path / "results" / "packed") == rows(tmp_path / "results" / "plain")
    packs = sorted((tmp_path / "results" / "packed" / ".packs" / ".jobs").iterdir())
    assert len(packs) == 2  # resources.instance_count
    for pack in packs:
        argv = json.loads((pack / "handle.json").read_text())["data"]["argv"]
        assert argv[-2:] == ["2", "60"]  # max_concurrency_per_instance processes; retry_settings.timeout per batch
    assert sum(len((pack / "items.txt").read_text().splitlines()) for pack in packs) == 4
    assert run_packed(job, "packed")["reused"] == 4  # nothing left to pack


def test_a_batch_past_the_threshold_stops_the_packs(tmp_path: Path) -> None:
    write_files(tmp_path / "data", {"f0.txt": "FAILBATCH", **{f"f{i}.txt": str(i) for i in range(1, 4)}})
    job = make_project(tmp_path, FOLDER, mini_batch_size="1", mini_batch_error_threshold=0, **RESOURCES)
    summary = run_packed(job, "stopped")
    assert summary["failed_batches"] and "mini_batch_error_threshold 0" in str(summary["stopped"])


def test_a_pack_count_other_than_instance_count_is_refused(tmp_path: Path) -> None:
    write_files(tmp_path / "data", {"f0.txt": "0"})
    job = make_project(tmp_path, FOLDER, mini_batch_size="1", **RESOURCES)
    options = SweepOptions(job=str(job), results=str(tmp_path / "results"), pack=3)
    with pytest.raises(InputError, match=r"resources.instance_count \(2\) jobs, not 3"):
        prepare_parallel(options)
