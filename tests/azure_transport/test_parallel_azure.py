"""The parallel step on the Azure path: each batch a command job of the real MLClient over the fake service, its
batch file a content-versioned data asset, R run by the fake as Azure would, rows appended as locally."""

from __future__ import annotations

import csv
import random
from collections import Counter
from pathlib import Path

import pandas as pd
import pytest

from rjobs.core.errors import InputError
from rjobs.engine.monitor import JobMonitor
from rjobs.inputs.options import ResolvedSweep, SweepOptions
from rjobs.parallel.engine import batch_cells
from rjobs.parallel.jobfile import load_parallel_job
from rjobs.parallel.summary import finish
from rjobs.parallel.wiring import BATCHES_DIR, PreparedParallel, build_run, prepare_parallel, split
from rjobs.testing.clock import FakeClock
from rjobs.testing.fake_azureml.client import FakeMLClient
from rjobs.testing.fake_azureml.transport import FakeAzureMLTransport
from tests.azure_transport.support import transport_backend
from tests.parallel.support import calls, make_project, write_files
from tests.reliability.support import ENVIRONMENT_YML

pytestmark = pytest.mark.r
AZURE_KEYS = {"compute": "azureml:cpu-cluster", "experiment_name": "parallel"}


@pytest.fixture
def workspace(tmp_path: Path, clock: FakeClock) -> FakeMLClient:
    """The fake service running each job's command for real, as Azure runs it on the cluster."""
    return FakeMLClient(clock, seed=11, store=tmp_path / "service", run_commands=True)


def azure_project(root: Path, data: dict[str, str], **keys: object) -> Path:
    job = make_project(root, data, **AZURE_KEYS, **keys)
    text = job.read_text().replace(
        "entry_script: score.R", "entry_script: score.R\n  environment: azureml:r-env@latest"
    )
    job.write_text(text)
    (root / "environment-job.yml").write_text(ENVIRONMENT_YML)
    (root / "docker-context").mkdir(exist_ok=True)
    (root / "docker-context" / "Dockerfile").write_text("FROM rocker/r-ver:4.4.1\n")
    return job


def test_each_batch_runs_as_a_command_job_and_rows_are_appended(
    transport: FakeAzureMLTransport, workspace: FakeMLClient, tmp_path: Path
) -> None:
    pd.DataFrame({"id": [f"r{i}" for i in range(7)], "x": [str(i) for i in range(7)]}).to_csv(
        tmp_path / "t.csv", index=False
    )
    job_file = azure_project(tmp_path / "p", {"type": "uri_file", "path": str(tmp_path / "t.csv")}, mini_batch_size="3")
    job = load_parallel_job(job_file)
    options = SweepOptions(job=str(job_file), results=str(tmp_path / "results"), backend="azureml")
    batches = split(job, tmp_path / "results" / "az" / BATCHES_DIR)
    backend = transport_backend(transport, job_file, env_smoke=False, r_packages=lambda _code: {})
    resolved = ResolvedSweep(options, job.batch_spec, list(batch_cells(batches)), "az", job_file.parent / "x")
    prepared = PreparedParallel(job, batches, resolved, backend)
    clock = transport.clock
    monitor = JobMonitor(backend, interval=15.0, clock=clock, sleep=clock.sleep, rng=random.Random(0))
    run = build_run(prepared, monitor)
    run.sweep.prepare()
    run.run()
    summary = finish(run)

    assert (summary["batches"], summary["completed"], summary["rows"]) == (3, 3, 7)
    with (tmp_path / "results" / "az" / "predictions.csv").open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert [(r["id"], r["pred"]) for r in rows] == [(f"r{i}", str(2 * i)) for i in range(7)]
    routes = Counter(record.route for record in transport.records)
    assert routes["jobs.create_or_update"] == 3, routes
    assert sorted(calls(tmp_path / "p")) == sorted(b.path.name for b in batches)
    assert routes["data.create_or_update"] == 3, routes  # a content-versioned asset per batch, never the table


def test_a_folder_input_is_refused_on_a_remote_backend(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write_files(tmp_path / "p" / "data", {"f.txt": "1"})
    job_file = azure_project(tmp_path / "p", {"type": "uri_folder", "path": "data"}, mini_batch_size="1")
    monkeypatch.setattr(
        "rjobs.parallel.wiring.make_backend", lambda _resolved: type("B", (), {"remote": True, "name": "azureml"})()
    )
    with pytest.raises(InputError, match="input_data: is a folder"):
        prepare_parallel(SweepOptions(job=str(job_file), results=str(tmp_path / "results"), backend="azureml"))


def test_packed_batches_run_in_instance_count_jobs_carrying_their_batch_files(
    transport: FakeAzureMLTransport, workspace: FakeMLClient, tmp_path: Path
) -> None:
    pd.DataFrame({"id": [f"r{i}" for i in range(7)], "x": [str(i) for i in range(7)]}).to_csv(
        tmp_path / "t.csv", index=False
    )
    data = {"type": "uri_file", "path": str(tmp_path / "t.csv")}
    job_file = azure_project(tmp_path / "p", data, mini_batch_size="2", resources={"instance_count": 2})
    job = load_parallel_job(job_file)
    options = SweepOptions(job=str(job_file), results=str(tmp_path / "results"), backend="azureml", pack=2)
    batches = split(job, tmp_path / "results" / "az" / BATCHES_DIR)
    backend = transport_backend(transport, job_file, env_smoke=False, r_packages=lambda _code: {})
    resolved = ResolvedSweep(options, job.batch_spec, list(batch_cells(batches)), "az", job_file.parent / "x")
    clock = transport.clock
    monitor = JobMonitor(backend, interval=15.0, clock=clock, sleep=clock.sleep, rng=random.Random(0))
    run = build_run(PreparedParallel(job, batches, resolved, backend), monitor)
    run.sweep.prepare()
    run.run()
    summary = finish(run)

    assert (summary["batches"], summary["completed"], summary["rows"]) == (4, 4, 7)
    with (tmp_path / "results" / "az" / "predictions.csv").open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert [(r["id"], r["pred"]) for r in rows] == [(f"r{i}", str(2 * i)) for i in range(7)]
    routes = Counter(record.route for record in transport.records)
    assert routes["jobs.create_or_update"] == 2, routes  # resources.instance_count packed jobs
    packs = [r for r in workspace._jobs.values() if "pack" in r["rest"]["name"]]
    assert [(p["rest"]["properties"].get("resources") or {}).get("instanceCount", 1) for p in packs] == [1, 1]
    assert routes["data.create_or_update"] == 0, routes  # the batch files travel in the packs' code
    assert sorted(calls(tmp_path / "p")) == sorted(b.path.name for b in batches)
