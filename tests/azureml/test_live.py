"""Against a real workspace, skipped without one: a 2-cell sweep (upload, build, smoke, submit, poll, collect), and
what issue 21 changed: polling by listing with more than 5 jobs in flight, an image that fails to build, cancellation
seen through, model registration, and a sweep's job runs nested in the workspace's MLflow. RJOBS_LIVE_COMPUTE names
the compute (else the job.yml's)."""

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


def test_a_sweep_in_the_workspace_mlflow_nests_its_job_runs(project: Path, cell_job) -> None:
    """Issue 21 defect 10 on the real MLflow server: the job runs become the parent's children (found again by the
    tag searches tracking uses), no copies, and logging again changes nothing."""
    pytest.importorskip("azureml.mlflow")
    from rjobs.engine.ledger import CellRecord, RunLedger
    from rjobs.results.job_runs import tracking_target
    from rjobs.results.mlflow_runs import PARENT_TAG, find_children, find_parent
    from rjobs.results.tracking import log_sweep, make_client

    backend, spec, data = prepared(project)
    run = f"live{int(time.time())}t"
    jobs = [cell_job(spec, {"seed": seed}, data=data, run=run) for seed in (1, 2)]
    result = drive(backend, jobs, time.sleep, max_concurrent=2, interval=INTERVAL_S, max_polls=180)
    assert set(result.states.values()) == {JobState.COMPLETED}
    records = [
        CellRecord(
            job.cell_id,
            dict(job.params),
            state=JobState.COMPLETED.value,
            job_name=job.job_name,
            metrics=json.loads((job.cell_dir / "outputs" / "metrics.json").read_text()),
        )
        for job in jobs
    ]
    ledger = RunLedger(jobs[0].cell_dir.parent.parent, run)
    uri, job_runs = tracking_target(backend, None)
    logged = log_sweep(
        ledger, records, experiment=spec.experiment, backend=backend.name, tracking_uri=uri, job_runs=job_runs
    )
    again = log_sweep(
        ledger, records, experiment=spec.experiment, backend=backend.name, tracking_uri=uri, job_runs=job_runs
    )

    assert logged.child_run_ids == {job.cell_id: job.job_name for job in jobs} and logged.missing_job_runs == []
    assert (again.created, again.updated, again.artifacts_logged) == (0, 0, 0)
    client = make_client(uri)
    parent = find_parent(client, run, [logged.experiment_id])
    assert parent is not None and parent.info.run_id == logged.parent_run_id
    assert {
        cell: r.info.run_id for cell, r in find_children(client, logged.experiment_id, parent.info.run_id).items()
    } == (logged.child_run_ids)
    for job in jobs:
        assert client.get_run(job.job_name).data.tags[PARENT_TAG] == logged.parent_run_id
