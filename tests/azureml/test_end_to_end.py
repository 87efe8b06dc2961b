"""The Azure path end to end with real R: the fake runs each job's command through bash, as Azure ML does."""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

import pytest

from rjobs.backends.local.backend import LocalBackend
from rjobs.core.states import JobState
from rjobs.testing.fake_mlclient import FakeClock, FakeMLClient
from tests.azureml.harness import drive

pytestmark = [
    pytest.mark.azure_fake,
    pytest.mark.slow,
    pytest.mark.skipif(shutil.which("Rscript") is None, reason="needs Rscript"),
]

HOSTILE = "bill_length_mm; touch PWNED $(touch PWNED2) `touch PWNED3` 'q'"


def test_sweep_runs_real_r_through_the_azure_path(tmp_path: Path, clock: FakeClock, make_backend, spec, cell_job):
    fake = FakeMLClient(clock, store=tmp_path / "store", run_commands=True)
    backend = make_backend(fake, r_packages=None)
    data = {k: v for k, v in backend.ensure_data(spec).items() if not v.is_literal}
    backend.ensure_environment(spec)
    backend.ensure_code(spec)
    grid = [
        {"model": "lm", "seed": 1},
        {"model": "ranger", "features": "flipper_length_mm+bill_length_mm", "seed": 2},
        {"features": HOSTILE},
    ]
    jobs = [cell_job(spec, params, data=data) for params in grid]
    run = drive(backend, jobs, clock.sleep, max_concurrent=2, interval=5.0)

    lm, ranger, hostile = jobs
    assert run.states == {
        lm.job_name: JobState.COMPLETED,
        ranger.job_name: JobState.COMPLETED,
        hostile.job_name: JobState.FAILED,
    }
    for job in (lm, ranger):
        metrics = json.loads((job.cell_dir / "outputs" / "metrics.json").read_text())
        assert metrics["n_train"] > 0 and metrics["rmse"] > 0
        assert {"model.rds", "pred_vs_actual.png"} <= {p.name for p in (job.cell_dir / "outputs").iterdir()}
        assert "rmse=" in (job.cell_dir / "std_log.txt").read_text()
    log = (hostile.cell_dir / "std_log.txt").read_text()
    assert "unknown feature column(s): bill_length_mm; touch PWNED $(touch PWNED2) `touch PWNED3` 'q'" in log
    assert not [p for p in tmp_path.rglob("PWNED*")]
    assert fake.count("code.create_or_update") == 1 and fake.count("code.upload") == 0


def test_azure_and_local_backends_agree(tmp_path: Path, clock: FakeClock, make_backend, spec, cell_job) -> None:
    """Same cell, same argv, same R: the metrics the two backends collect are identical."""
    fake = FakeMLClient(clock, store=tmp_path / "store", run_commands=True)
    azure = make_backend(fake, env_smoke=False)
    data = {k: v for k, v in azure.ensure_data(spec).items() if not v.is_literal}
    azure.ensure_environment(spec)
    azure.ensure_code(spec)
    params = {"model": "lm", "features": "flipper_length_mm+bill_depth_mm", "seed": 5}
    remote = cell_job(spec, params, data=data, run="azure")
    drive(azure, [remote], clock.sleep, interval=5.0)

    local_backend = LocalBackend(check_packages=False)
    local = cell_job(spec, params, run="local")
    handle = local_backend.submit(local)
    deadline = time.monotonic() + 120
    while not local_backend.status([handle])[handle.job_name].state.terminal:
        assert time.monotonic() < deadline
        time.sleep(0.1)
    local_backend.collect(handle, local.cell_dir)

    read = lambda job: json.loads((job.cell_dir / "outputs" / "metrics.json").read_text())  # noqa: E731
    assert read(remote) == read(local)
