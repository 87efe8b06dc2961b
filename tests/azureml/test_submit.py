"""Submitting a cell: a job the SDK serialises, values quoted so R gets them verbatim, names that attach."""

from __future__ import annotations

import shlex
from pathlib import Path

import pytest
from azure.core.exceptions import ResourceNotFoundError

from rjobs.backends.azureml.backend import AzureMLBackend
from rjobs.core.errors import InputError, TransientBackendError
from rjobs.core.retry import RetryPolicy
from rjobs.core.values import value_text
from rjobs.inputs.command import render_argv
from rjobs.inputs.spec import REFERENCE, load_job_spec
from rjobs.testing.fake_mlclient import FakeClock, FakeMLClient

pytestmark = pytest.mark.azure_fake

HOSTILE = [
    "flipper_length_mm",
    "a b",
    "it's",
    'say "hi"',
    "x; rm -rf /",
    "$(touch pwned)",
    "`id`",
    "a\tb\nc",
    "--seed",
    "",
    "ünï ☃ *?",
    "$HOME ${HOME} \\",
]


def test_submit_builds_a_job_the_sdk_serialises(fake: FakeMLClient, prepared, spec, cell_job) -> None:
    backend, data = prepared
    job = cell_job(spec, {"seed": 3, "model": "ranger"}, data=data)
    handle = backend.submit(job)

    assert handle.job_name == job.job_name == f"run1-{job.cell_id}"
    assert handle.data["run"] == "run1" and handle.data["cell"] == job.cell_id
    rest = fake.job_record(job.job_name)["rest"]["properties"]
    assert rest["jobType"] == "Command"
    assert rest["computeId"] == "cpu-cluster"
    assert rest["experimentName"] == "penguins"
    assert rest["displayName"] == f"penguins sweep {job.cell_id}"
    assert rest["environmentId"].startswith("azureml:r-env:")
    assert rest["codeId"].endswith(f"/codes/penguins-r_src/versions/{str(backend.code_id(spec)).rsplit('/', 1)[-1]}")
    assert rest["environmentVariables"] == {"TZ": "UTC"}
    assert rest["properties"]["rjobs_run"] == "run1"
    assert rest["tags"] == {
        "project": "rjobs-tests",
        "rjobs.run": "run1",
        "rjobs.cell": job.cell_id,
        "rjobs.attempt": "1",
        "param.seed": "3",
        "param.model": "ranger",
    }
    assert rest["inputs"]["data"] == {"jobInputType": "uri_file", "uri": data["data"].path}
    assert rest["inputs"]["seed"] == {"jobInputType": "literal", "value": "3"}
    assert rest["inputs"]["model"] == {"jobInputType": "literal", "value": "ranger"}
    assert "--seed 3" in rest["command"] and "--model ranger" in rest["command"]
    entity = fake.jobs.get(job.job_name)
    assert entity.name == job.job_name and entity.status == "NotStarted"
    assert handle.data["url"] == entity.studio_url


@pytest.mark.parametrize("value", HOSTILE)
def test_both_backends_run_the_same_argv(fake: FakeMLClient, prepared, spec, cell_job, value: str) -> None:
    """The Azure command, split as bash would and placeholders filled, is exactly the local backend's argv."""
    backend, data = prepared
    job = cell_job(spec, {"features": value, "seed": 2}, data=data)
    backend.submit(job)
    command = fake.job_record(job.job_name)["rest"]["properties"]["command"]
    local_path = str(spec.local_path(spec.inputs["data"]))

    azure_argv = [REFERENCE.sub(lambda m: {"data": local_path}[m.group(2)], t) for t in shlex.split(command)]
    literals = {n: value_text(i.value) for n, i in job.inputs.items() if i.is_literal and i.value is not None}
    assert azure_argv == render_argv(spec, {**literals, "data": local_path})
    assert fake.job_record(job.job_name)["rest"]["properties"]["inputs"]["features"]["value"] == value


def test_a_value_azure_would_substitute_is_refused(prepared, spec, cell_job) -> None:
    backend, data = prepared
    with pytest.raises(InputError, match=r"\$\{\{"):
        backend.submit(cell_job(spec, {"features": "${{inputs.data}}"}, data=data))


def test_sdk_only_settings_from_job_yml_reach_the_job(fake: FakeMLClient, prepared, project: Path, cell_job) -> None:
    text = (project / "job.yml").read_text() + "resources:\n  instance_count: 2\nlimits:\n  timeout: 600\n"
    (project / "job-res.yml").write_text(text)
    spec = load_job_spec(project / "job-res.yml")
    backend, data = prepared
    job = cell_job(spec, {"seed": 9}, data=data)
    backend.submit(job)
    rest = fake.job_record(job.job_name)["rest"]["properties"]
    assert rest["resources"]["instanceCount"] == 2
    assert rest["limits"]["timeout"] == "PT10M"


def test_submitting_the_same_name_again_attaches(fake: FakeMLClient, prepared, make_backend, spec, cell_job) -> None:
    backend, data = prepared
    job = cell_job(spec, {"seed": 4}, data=data)
    first = backend.submit(job)
    again = backend.submit(job)
    assert again.job_name == first.job_name
    assert fake.count("jobs.create_or_update") == 1

    other_process: AzureMLBackend = make_backend(env_smoke=False)
    other_process.ensure_environment(spec)
    other_process.ensure_code(spec)
    attached = other_process.submit(job)
    assert attached.job_name == first.job_name
    assert fake.names("jobs.create_or_update") == [job.job_name, job.job_name]
    assert len([n for n in fake._jobs if n.startswith("run1-")]) == 1


def test_a_lost_response_is_retried_and_attaches(fake: FakeMLClient, clock: FakeClock, prepared, spec, cell_job):
    """The service created the job but the reply was lost: the engine's retry meets 'exists' and attaches."""
    backend, data = prepared
    fake.inject("jobs.create_or_update", "lost_response")
    job = cell_job(spec, {"seed": 5}, data=data)
    handle = RetryPolicy(sleep=clock.sleep).call("submit", lambda: backend.submit(job))
    assert handle.job_name == job.job_name
    assert fake.names("jobs.create_or_update") == [job.job_name, job.job_name]
    assert fake.names("jobs.get")[-1] == job.job_name
    assert clock.slept and len(fake._jobs) == 1


def test_submit_itself_does_not_retry(fake: FakeMLClient, clock: FakeClock, prepared, spec, cell_job) -> None:
    """One retry layer: the SDK retries HTTP, the engine retries operations; submit makes one create and raises."""
    backend, data = prepared
    fake.inject("jobs.create_or_update", "503", times=1)
    with pytest.raises(TransientBackendError):
        backend.submit(cell_job(spec, {"seed": 6}, data=data))
    assert fake.count("jobs.create_or_update") == 1
    assert fake.count("jobs.get") == 0 and clock.slept == []


def test_the_engine_retry_honours_retry_after_then_gives_up(
    fake: FakeMLClient, clock: FakeClock, prepared, spec, cell_job
) -> None:
    backend, data = prepared
    engine = RetryPolicy(sleep=clock.sleep)
    fake.inject("jobs.create_or_update", "429", times=1, retry_after=11)
    engine.call("submit", lambda: backend.submit(cell_job(spec, {"seed": 6}, data=data)))
    assert clock.slept[-1] == 11

    fake.inject("jobs.create_or_update", "503", times=10)
    with pytest.raises(TransientBackendError):
        engine.call("submit", lambda: backend.submit(cell_job(spec, {"seed": 7}, data=data)))
    assert fake.count("jobs.create_or_update") == 2 + engine.attempts


def test_a_job_the_service_rejects_fails_submit(fake: FakeMLClient, prepared, spec, cell_job) -> None:
    backend, data = prepared
    backend.environment = "azureml:no-such-env:1"
    with pytest.raises(ResourceNotFoundError, match="no-such-env"):
        backend.submit(cell_job(spec, {"seed": 8}, data=data))
    assert not [n for n in fake._jobs if n.startswith("run1-")]


def test_find_reports_existing_jobs_only(prepared, spec, cell_job) -> None:
    backend, data = prepared
    job = cell_job(spec, {"seed": 10}, data=data)
    assert backend.find(job) is None
    backend.submit(job)
    found = backend.find(job)
    assert found is not None and found.job_name == job.job_name and found.data["run"] == "run1"
