"""The smoke job: one cheap job proves the environment before N cells are submitted into it."""

from __future__ import annotations

import shlex
import shutil

import pytest

from rjobs.core.errors import EnvironmentCheckError
from rjobs.testing.fake_mlclient import FakeClock, FakeMLClient, JobScript

pytestmark = pytest.mark.azure_fake

MISSING_LOG = "R version 4.4.1 (2024-06-14)\nmissing R packages: ranger \n"


def smoke_jobs(fake: FakeMLClient) -> list[str]:
    return [n for n in fake._jobs if n.startswith("rjobs-envcheck-")]


def test_smoke_job_proves_the_environment_once(fake: FakeMLClient, make_backend, spec) -> None:
    info = make_backend().ensure_environment(spec)
    (name,) = smoke_jobs(fake)
    rest = fake.job_record(name)["rest"]["properties"]
    assert rest["environmentId"] == info.reference
    assert rest["computeId"] == "cpu-cluster"
    argv = shlex.split(rest["command"])
    assert argv[:2] == ["Rscript", "-e"] and 'c("jsonlite", "optparse")' in argv[2]
    assert fake.state_of(name) == "Completed"

    make_backend().ensure_environment(spec)
    assert fake.names("jobs.create_or_update") == [name]


def test_packages_default_to_what_the_r_code_loads(fake: FakeMLClient, make_backend, spec) -> None:
    make_backend(r_packages=None).ensure_environment(spec)
    (name,) = smoke_jobs(fake)
    command = fake.job_record(name)["rest"]["properties"]["command"]
    assert "optparse" in command and "ranger" in command


def test_a_failed_smoke_job_stops_the_sweep_with_its_log(fake: FakeMLClient, make_backend, spec) -> None:
    fake.script("rjobs-envcheck-*", JobScript(outcome="Failed", log=MISSING_LOG))
    with pytest.raises(EnvironmentCheckError) as caught:
        make_backend(smoke_attempts=1).ensure_environment(spec)
    error = caught.value
    assert error.job_name.startswith("rjobs-envcheck-")
    assert "missing R packages: ranger" in error.detail and "Failed" in error.detail
    assert str(error.look_at).startswith("https://ml.azure.com/runs/rjobs-envcheck-")
    assert not [n for n in fake._jobs if n.startswith("run1-")]


def test_a_cached_failure_is_retried_then_reported(fake: FakeMLClient, make_backend, spec) -> None:
    fake.script("rjobs-envcheck-*", JobScript(outcome="Failed", log=MISSING_LOG))
    with pytest.raises(EnvironmentCheckError):
        make_backend(smoke_attempts=1).ensure_environment(spec)
    with pytest.raises(EnvironmentCheckError) as caught:
        make_backend(smoke_attempts=2).ensure_environment(spec)
    assert caught.value.job_name.endswith("-r2")
    creates = fake.count("jobs.create_or_update")
    with pytest.raises(EnvironmentCheckError, match="missing R packages"):
        make_backend(smoke_attempts=2).ensure_environment(spec)
    assert fake.count("jobs.create_or_update") == creates == 2

    fake.script("rjobs-envcheck-*-r3", JobScript(outcome="Completed"))
    make_backend(smoke_attempts=3).ensure_environment(spec)


def test_a_running_smoke_job_is_attached(fake: FakeMLClient, clock: FakeClock, make_backend, spec) -> None:
    fake.script("rjobs-envcheck-*", JobScript(queue_s=600))
    first = make_backend(smoke_timeout=60)
    with pytest.raises(EnvironmentCheckError, match="not finished after 60 s"):
        first.ensure_environment(spec)
    (name,) = smoke_jobs(fake)
    assert fake.names("jobs.begin_cancel") == [name]
    assert all(s <= first.smoke.max_poll_interval for s in clock.slept)


def test_transient_errors_while_waiting_are_ridden_out(fake: FakeMLClient, clock: FakeClock, make_backend, spec):
    fake.inject("jobs.get", "503", times=2)
    fake.inject("jobs.get", "429", times=1, retry_after=30)
    make_backend().ensure_environment(spec)
    assert 30 in clock.slept


def test_disabled_smoke_submits_nothing(fake: FakeMLClient, make_backend, spec) -> None:
    make_backend(env_smoke=False).ensure_environment(spec)
    assert fake.count("jobs.*") == 0


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("Rscript") is None, reason="needs Rscript")
@pytest.mark.parametrize(("packages", "ok"), [({"jsonlite": [], "optparse": []}, True), ({"notapkg": []}, False)])
def test_smoke_job_runs_for_real(tmp_path, clock: FakeClock, make_backend, spec, packages, ok: bool) -> None:
    """The smoke command itself, run through bash and real R by the fake: it loads packages or names the missing."""
    fake = FakeMLClient(clock, store=tmp_path / "real-store", run_commands=True)
    backend = make_backend(fake, r_packages=lambda _code: packages)
    if ok:
        backend.ensure_environment(spec)
        return
    with pytest.raises(EnvironmentCheckError, match="missing R packages: notapkg"):
        backend.ensure_environment(spec)
