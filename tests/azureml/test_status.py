"""Polling: batched status, the service's failure modes as TransientBackendError, cancellation, odd lifecycles."""

from __future__ import annotations

import pytest
from azure.core.exceptions import HttpResponseError

from rjobs.backends.azureml.calls import retry_after_seconds, transient_error
from rjobs.backends.base import JobHandle, ListsRunJobs
from rjobs.core.errors import TransientBackendError
from rjobs.core.states import JobState
from rjobs.testing.fake_mlclient import FakeClock, FakeMLClient, JobScript, http_error

pytestmark = pytest.mark.azure_fake


def submit_cells(backend, spec, cell_job, data, count: int, run: str = "run1") -> list[JobHandle]:
    return [backend.submit(cell_job(spec, {"seed": seed}, data=data, run=run)) for seed in range(count)]


def test_status_is_batched_per_run(fake: FakeMLClient, clock: FakeClock, prepared, spec, cell_job) -> None:
    backend, data = prepared
    handles = submit_cells(backend, spec, cell_job, data, 30)
    polls = 0
    before = fake.count("jobs.*")
    seen: set[JobState] = set()
    while True:
        statuses = backend.status(handles)
        polls += 1
        seen |= {s.state for s in statuses.values()}
        if all(s.state.terminal for s in statuses.values()):
            break
        clock.advance(5.0)
    requests = fake.count("jobs.*") - before
    assert {JobState.QUEUED, JobState.RUNNING, JobState.COMPLETED} <= seen
    assert requests <= polls * 2, f"{requests} requests for {polls} polls of 30 jobs"
    assert fake.count("jobs.get") == 0
    assert all(args["properties"] == "rjobs_run=run1" for op, _, args in fake.calls if op == "jobs.list")


def test_few_jobs_are_fetched_one_by_one(fake: FakeMLClient, prepared, spec, cell_job) -> None:
    backend, data = prepared
    handles = submit_cells(backend, spec, cell_job, data, 2)
    backend.status(handles)
    assert fake.count("jobs.list") == 0 and fake.count("jobs.get") == 2


def test_listing_stops_once_every_job_is_seen(fake: FakeMLClient, prepared, spec, cell_job) -> None:
    """Old jobs of the run sit on later pages: the in-flight ones (newest first) need only the first page."""
    backend, data = prepared
    submit_cells(backend, spec, cell_job, data, 60)
    recent = [backend.submit(cell_job(spec, {"seed": 1000 + i}, data=data)) for i in range(6)]
    backend.status(recent)
    assert fake.count("jobs.list") == 1


def test_jobs_missing_from_the_listing_are_fetched(fake: FakeMLClient, prepared, spec, cell_job) -> None:
    backend, data = prepared
    handles = submit_cells(backend, spec, cell_job, data, 6)
    ghost = JobHandle("run1-cghost0000", backend.name, {"run": "run1"})
    statuses = backend.status([*handles, ghost])
    assert statuses[ghost.job_name].state == JobState.ABSENT
    assert fake.names("jobs.get") == [ghost.job_name]


TRANSIENT = [("429", 7.0), ("500", None), ("502", None), ("503", None), ("504", None)]


@pytest.mark.parametrize(
    ("kind", "retry_after"),
    [*TRANSIENT, ("connection", None), ("response", None)],
)
def test_transient_errors_surface_for_the_poller(fake: FakeMLClient, prepared, spec, cell_job, kind, retry_after):
    backend, data = prepared
    handles = submit_cells(backend, spec, cell_job, data, 1)
    fake.inject("jobs.get", kind, retry_after=retry_after)
    with pytest.raises(TransientBackendError) as caught:
        backend.status(handles)
    assert caught.value.retry_after == retry_after
    assert backend.status(handles)[handles[0].job_name].state != JobState.ABSENT


def test_transient_errors_while_listing_surface_too(fake: FakeMLClient, prepared, spec, cell_job) -> None:
    backend, data = prepared
    handles = submit_cells(backend, spec, cell_job, data, 8)
    fake.inject("jobs.list", "429", retry_after=2.5)
    with pytest.raises(TransientBackendError) as caught:
        backend.status(handles)
    assert caught.value.retry_after == 2.5


def test_other_http_errors_are_not_retried() -> None:
    assert transient_error("jobs.get", http_error(400, "bad")) is None
    assert transient_error("jobs.get", http_error(403, "forbidden")) is None
    assert transient_error("jobs.get", ValueError("x")) is None
    error = transient_error("jobs.get", http_error(429, "slow", {"retry-after-ms": "1500"}))
    assert error is not None and error.retry_after == 1.5
    assert isinstance(http_error(429, "x"), HttpResponseError)


def test_retry_after_formats() -> None:
    assert retry_after_seconds({"Retry-After": "12"}) == 12.0
    assert retry_after_seconds({"x-ms-retry-after-ms": "250"}) == 0.25
    assert retry_after_seconds({"Retry-After": "Wed, 21 Oct 2015 07:28:10 GMT"}, now=1445412480.0) == 10.0
    assert retry_after_seconds({"Retry-After": "soon"}) is None
    assert retry_after_seconds(None) is None


def test_unknown_jobs_are_absent(fake: FakeMLClient, backend) -> None:
    status = backend.status([JobHandle("nope-c000", backend.name)])["nope-c000"]
    assert status.state == JobState.ABSENT


def test_preemption_goes_back_to_queued(fake: FakeMLClient, clock: FakeClock, prepared, spec, cell_job) -> None:
    backend, data = prepared
    fake.script("run1-*", JobScript(queue_s=10, prepare_s=5, run_s=40, preemptions=1))
    (handle,) = submit_cells(backend, spec, cell_job, data, 1)
    states = []
    for _ in range(40):
        state = backend.status([handle])[handle.job_name].state
        if not states or states[-1] != state:
            states.append(state)
        if state.terminal:
            break
        clock.advance(3.0)
    running = states.index(JobState.RUNNING)
    assert JobState.QUEUED in states[running:]
    assert states[-1] == JobState.COMPLETED


@pytest.mark.parametrize("outcome", ["Failed", "NotResponding", "Paused"])
def test_failure_outcomes_are_terminal_failures(fake: FakeMLClient, clock, prepared, spec, cell_job, outcome) -> None:
    backend, data = prepared
    fake.script("run1-*", JobScript(outcome=outcome, queue_s=1, prepare_s=1, run_s=1))
    (handle,) = submit_cells(backend, spec, cell_job, data, 1)
    clock.advance(60.0)
    status = backend.status([handle])[handle.job_name]
    assert status.state.terminal and status.state.failed and status.state.value == outcome


def test_cancel_does_not_wait(fake: FakeMLClient, clock: FakeClock, prepared, spec, cell_job) -> None:
    backend, data = prepared
    fake.script("run1-*", JobScript(queue_s=100))
    (handle,) = submit_cells(backend, spec, cell_job, data, 1)
    backend.cancel(handle)
    assert backend.status([handle])[handle.job_name].state == JobState.CANCEL_REQUESTED
    clock.advance(10.0)
    assert backend.status([handle])[handle.job_name].state == JobState.CANCELED
    backend.cancel(handle)
    backend.cancel(JobHandle("gone-c000", backend.name))
    assert fake.names("jobs.begin_cancel") == [handle.job_name, handle.job_name, "gone-c000"]


def test_jobs_of_run_lists_every_job_of_the_run_and_only_those(prepared, spec, cell_job, tmp_path) -> None:
    backend, data = prepared
    assert isinstance(backend, ListsRunJobs)
    ours = submit_cells(backend, spec, cell_job, data, 3, run="one")
    submit_cells(backend, spec, cell_job, data, 2, run="two")
    run_dir = tmp_path / "results" / "one"
    assert {h.job_name for h in backend.jobs_of_run("one", run_dir)} == {h.job_name for h in ours}
    assert all(h.data["run"] == "one" for h in backend.jobs_of_run("one", run_dir))
