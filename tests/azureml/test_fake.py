"""The fake itself: seeded faults reproduce, state survives a process, and it rejects what Azure would."""

from __future__ import annotations

import random
from pathlib import Path

import pytest
from azure.ai.ml import command
from azure.ai.ml.entities import Model
from azure.ai.ml.exceptions import ValidationException
from azure.core.exceptions import HttpResponseError, ResourceExistsError, ResourceNotFoundError

from rjobs.backends.azureml.backend import AzureMLBackend
from rjobs.core.retry import RetryPolicy
from rjobs.core.states import JobState
from rjobs.testing.fake_mlclient import FakeClock, FakeMLClient, JobScript
from tests.azureml.conftest import PACKAGES
from tests.azureml.harness import drive

pytestmark = pytest.mark.azure_fake

CHAOS = {
    "fault_rates": {"429": 0.08, "503": 0.04, "connection": 0.03},
    "failure_rate": 0.2,
    "preemption_rate": 0.3,
    "not_responding_rate": 0.05,
}


def chaotic_sweep(tmp_path: Path, seed: int, spec, cell_job, project: Path) -> tuple[list, dict, list]:
    clock = FakeClock()
    fake = FakeMLClient(clock, seed=seed, store=tmp_path / f"store-{seed}-{len(list(tmp_path.iterdir()))}", **CHAOS)
    backend = AzureMLBackend(
        fake,
        environment_file=project / "environment-job.yml",
        clock=clock,
        sleep=clock.sleep,
        r_packages=lambda _code: PACKAGES,
        poll_interval=5.0,
        retry=RetryPolicy(sleep=clock.sleep, rng=random.Random(seed)),
    )
    data = {k: v for k, v in backend.ensure_data(spec).items() if not v.is_literal}
    backend.ensure_environment(spec)
    backend.ensure_code(spec)
    jobs = [cell_job(spec, {"seed": s}, data=data, run=f"chaos{seed}") for s in range(12)]
    run = drive(backend, jobs, clock.sleep, max_concurrent=4, interval=5.0)
    calls = [(op, name) for op, name, _ in fake.calls]
    return calls, run.states, list(fake.faults_raised)


def test_seeded_faults_are_reproducible(tmp_path: Path, spec, cell_job, project: Path) -> None:
    first = chaotic_sweep(tmp_path, 11, spec, cell_job, project)
    again = chaotic_sweep(tmp_path, 11, spec, cell_job, project)
    other = chaotic_sweep(tmp_path, 12, spec, cell_job, project)
    assert first == again
    assert first != other
    _, states, faults = first
    assert faults, "the seed should have produced some faults"
    assert {JobState.COMPLETED} <= set(states.values()) and len(states) == 12


def test_state_survives_another_process(tmp_path: Path, make_backend, spec, cell_job) -> None:
    path = tmp_path / "fake-state.json"
    first_clock = FakeClock()
    first = FakeMLClient(first_clock, persist_path=path)
    first.script("*", JobScript(queue_s=30, prepare_s=10, run_s=60))
    backend = make_backend(first, env_smoke=False, clock=first_clock, sleep=first_clock.sleep)
    data = {k: v for k, v in backend.ensure_data(spec).items() if not v.is_literal}
    backend.ensure_environment(spec)
    backend.ensure_code(spec)
    job = cell_job(spec, {"seed": 1}, data=data)
    handle = backend.submit(job)
    first_clock.advance(35.0)
    assert backend.status([handle])[handle.job_name].state == JobState.PREPARING

    second_clock = FakeClock(start=0.0)
    second = FakeMLClient(second_clock, persist_path=path)
    assert second_clock.now == first_clock.now
    resumed = make_backend(second, env_smoke=False, clock=second_clock, sleep=second_clock.sleep)
    assert resumed.find(job) is not None
    second_clock.advance(100.0)
    assert resumed.status([handle])[handle.job_name].state == JobState.COMPLETED
    resumed.ensure_environment(spec)
    resumed.ensure_code(spec)
    assert resumed.submit(job).job_name == job.job_name
    assert second.count("environments.create_or_update") == second.count("code.create_or_update") == 0
    with pytest.raises(ResourceExistsError):
        second.jobs.create_or_update(command(name=job.job_name, command="echo", environment="azureml:AzureML-x:1"))


def test_the_fake_rejects_what_the_sdk_or_service_would(fake: FakeMLClient) -> None:
    with pytest.raises(ValidationException, match="nope"):
        fake.jobs.create_or_update(command(name="j1", command="echo ${{inputs.nope}}", environment="azureml:e:1"))
    with pytest.raises(HttpResponseError, match="invalid job name"):
        fake.jobs.create_or_update(command(name="bad.name!", command="echo", environment="azureml:AzureML-x:1"))
    with pytest.raises(ResourceNotFoundError, match="environment"):
        fake.jobs.create_or_update(command(name="j2", command="echo", environment="azureml:missing:1"))
    with pytest.raises(ResourceNotFoundError):
        fake.jobs.get("never-submitted")
    assert fake.count("jobs.create_or_update") == 2


def test_models_register_from_a_completed_jobs_output(fake: FakeMLClient, clock: FakeClock) -> None:
    fake.script("train-1", JobScript(artifacts={"outputs/model.rds": b"m"}, queue_s=1, prepare_s=1, run_s=1))
    fake.jobs.create_or_update(command(name="train-1", command="echo", environment="azureml:AzureML-x:1"))
    uri = "azureml://jobs/train-1/outputs/artifacts/paths/outputs/model.rds"
    with pytest.raises(HttpResponseError, match="not a Completed job"):
        fake.models.create_or_update(Model(name="penguins", path=uri, type="custom_model"))
    clock.advance(60.0)
    assert fake.state_of("train-1") == "Completed"
    registered = fake.models.create_or_update(Model(name="penguins", path=uri, type="custom_model"))
    assert registered.version == "1" and registered.path == uri
    again = fake.models.create_or_update(Model(name="penguins", path=uri, type="custom_model"))
    assert again.version == "2"
    assert fake.models.get("penguins", label="latest").version == "2"
    assert [m.version for m in fake.models.list("penguins")] == ["1", "2"]
    with pytest.raises(HttpResponseError, match="does not exist"):
        fake.models.create_or_update(
            Model(name="x", path="azureml://jobs/train-1/outputs/artifacts/paths/outputs/nope", type="custom_model")
        )
