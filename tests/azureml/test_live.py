"""Against a real workspace, skipped without one: a 2-cell sweep (upload, build, smoke, submit, poll, collect), and
what issue 21 changed: polling by listing with more than 5 jobs in flight, an image that fails to build, cancellation
seen through, and model registration. RJOBS_LIVE_COMPUTE names the compute (else the job.yml's)."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

import pytest

from rjobs.backends.azureml.backend import AzureMLBackend
from rjobs.backends.azureml.workspace import make_ml_client, workspace_settings
from rjobs.core.errors import EnvironmentCheckError, InputError
from rjobs.core.states import JobState
from rjobs.inputs.spec import JobSpec, load_job_spec
from tests.azureml.harness import drive


def _workspace_configured() -> bool:
    try:
        workspace_settings()
    except InputError:
        return False
    return True


pytestmark = [
    pytest.mark.azure_live,
    pytest.mark.skipif(not _workspace_configured(), reason="no Azure ML workspace (config.json or AZURE_* variables)"),
]

DEADLINE_S = 90 * 60
INTERVAL_S = 30.0


def prepared(project: Path, environment_file: Path | None = None) -> tuple[AzureMLBackend, JobSpec, dict[str, Any]]:
    """The project on the live workspace: compute from RJOBS_LIVE_COMPUTE, data, environment (proved), code."""
    compute = os.environ.get("RJOBS_LIVE_COMPUTE")
    text = (project / "job.yml").read_text()
    text = text.replace("compute: cpu-cluster\n", f"compute: {compute}\n" if compute else "")
    (project / "job.yml").write_text(text)
    spec = load_job_spec(project / "job.yml")
    backend = AzureMLBackend(make_ml_client(), environment_file=environment_file or project / "environment-job.yml")
    data = {k: v for k, v in backend.ensure_data(spec).items() if not v.is_literal}
    backend.ensure_environment(spec)
    backend.ensure_code(spec)
    return backend, spec, data


def test_two_cell_sweep_on_azure(project: Path, cell_job) -> None:
    backend, spec, data = prepared(project)
    run = f"live{int(time.time())}"
    jobs = [cell_job(spec, {"seed": seed}, data=data, run=run) for seed in (1, 2)]
    result = drive(
        backend, jobs, time.sleep, max_concurrent=2, interval=INTERVAL_S, max_polls=int(DEADLINE_S / INTERVAL_S)
    )

    assert set(result.states.values()) == {JobState.COMPLETED}, result.states
    for job in jobs:
        metrics = json.loads((job.cell_dir / "outputs" / "metrics.json").read_text())
        assert metrics["rmse"] > 0
        assert (job.cell_dir / "std_log.txt").is_file()


def test_eight_jobs_in_flight_are_polled_by_listing(project: Path, cell_job) -> None:
    """More than 5 in flight: polls list the run (one page), never a get per job, and every cell completes."""
    backend, spec, data = prepared(project)
    run = f"live{int(time.time())}l"
    jobs = [cell_job(spec, {"seed": seed}, data=data, run=run) for seed in range(1, 9)]
    before = dict(backend.calls.counts)
    result = drive(
        backend, jobs, time.sleep, max_concurrent=8, interval=INTERVAL_S, max_polls=int(DEADLINE_S / INTERVAL_S)
    )
    assert set(result.states.values()) == {JobState.COMPLETED}, result.states
    lists = backend.calls.counts["jobs.list"] - before.get("jobs.list", 0)
    assert lists > 0 and lists <= result.polls * 2, (lists, result.polls)


def test_an_image_that_fails_to_build_names_its_build_log(project: Path, tmp_path: Path) -> None:
    """A Dockerfile that cannot build: the environment check fails with the build log's tail, not only 'Failed'."""
    context = tmp_path / "broken-context"
    context.mkdir()
    marker = f"rjobs-live-broken-{int(time.time())}"
    (context / "Dockerfile").write_text(f"FROM rocker/r-ver:4.4.1\nRUN echo {marker} && exit 3\n")
    environment = tmp_path / "environment-broken.yml"
    environment.write_text(f"name: rjobs-live-broken\nbuild:\n  path: {context}\n")
    with pytest.raises(EnvironmentCheckError) as raised:
        prepared(project, environment)
    assert "build log" in str(raised.value) and marker in str(raised.value)


def test_cancellation_is_seen_through(project: Path, cell_job) -> None:
    """A job cancelled while it queues reaches Canceled on the service, and its status says so."""
    backend, spec, data = prepared(project)
    job = cell_job(spec, {"seed": 1}, data=data, run=f"live{int(time.time())}c")
    handle = backend.submit(job)
    backend.cancel(handle)
    deadline = time.monotonic() + 30 * 60
    state = backend.status([handle])[handle.job_name].state
    while state != JobState.CANCELED and time.monotonic() < deadline:
        time.sleep(INTERVAL_S)
        state = backend.status([handle])[handle.job_name].state
    assert state == JobState.CANCELED


def test_a_model_is_registered_once_from_a_job_output(project: Path, cell_job) -> None:
    """Registration of a job's output: the same source again is the same version."""
    backend, spec, data = prepared(project)
    jobs = [cell_job(spec, {"seed": 1}, data=data, run=f"live{int(time.time())}m")]
    result = drive(backend, jobs, time.sleep, max_concurrent=1, interval=INTERVAL_S, max_polls=180)
    assert set(result.states.values()) == {JobState.COMPLETED}
    name = jobs[0].job_name
    first = backend.register_model("rjobs-live-model", name, "outputs/metrics.json", {}, "rjobs live test")
    again = backend.register_model("rjobs-live-model", name, "outputs/metrics.json", {}, "rjobs live test")
    assert first.created and not again.created and again.version == first.version
