"""Jobs through the real MLClient over HTTP: create and read back, create-or-update, the service's refusals, the
listing's filter, pages and lag, and cancellation followed by the SDK's own ARM poller on the fake clock."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from azure.core.exceptions import HttpResponseError, ResourceExistsError, ResourceNotFoundError

from rjobs.testing.clock import FakeClock
from rjobs.testing.fake_azureml.client import FakeMLClient
from rjobs.testing.fake_azureml.lifecycle import CANCEL_DELAY
from rjobs.testing.fake_azureml.transport import FakeAzureMLTransport
from rjobs.testing.fake_azureml.wire import arm_id


def test_a_created_job_reads_back_as_the_sdk_sent_it(
    ml_client: Any, transport: FakeAzureMLTransport, command_job: Callable[..., Any], clock: FakeClock
) -> None:
    job = command_job("job-1", experiment_name="exp", properties={"rjobs.run": "r1"}, tags={"cell": "a"})
    created = ml_client.jobs.create_or_update(job)
    assert (created.name, created.status) == ("job-1", "NotStarted")
    assert created.studio_url.startswith("https://ml.azure.com/runs/job-1")
    clock.advance(300.0)
    read = ml_client.jobs.get("job-1")
    assert read.status == "Completed"
    assert read.command == "echo hello" and read.experiment_name == "exp"
    assert read.properties["rjobs.run"] == "r1" and read.tags == {"cell": "a"}
    assert [(r.method, r.route, r.status) for r in transport.records[-2:]] == [
        ("PUT", "jobs.create_or_update", 201),
        ("GET", "jobs.get", 200),
    ]


def test_a_missing_job_is_resource_not_found(ml_client: Any) -> None:
    with pytest.raises(ResourceNotFoundError):
        ml_client.jobs.get("never-created")


def test_the_same_job_again_is_answered_200_and_a_different_one_409(
    ml_client: Any, transport: FakeAzureMLTransport, command_job: Callable[..., Any], workspace: FakeMLClient
) -> None:
    ml_client.jobs.create_or_update(command_job("job-1"))
    again = ml_client.jobs.create_or_update(command_job("job-1", tags={"retried": "yes"}))
    assert again.name == "job-1" and again.tags == {"retried": "yes"}
    with pytest.raises(ResourceExistsError):
        ml_client.jobs.create_or_update(command_job("job-1", command="echo other"))
    assert [r.status for r in transport.records if r.route == "jobs.create_or_update"] == [201, 200, 409]
    assert list(workspace._jobs) == ["job-1"]


@pytest.mark.parametrize(
    ("name", "fields", "says"),
    [
        ("bad.name", {}, "Job name"),
        ("job-env", {"environment": "azureml:r-env:9"}, "r-env:9"),
        ("job-code", {"code": arm_id("codes", "c", "1")}, "c:1"),
    ],
)
def test_the_service_refuses_an_invalid_job_with_400(
    ml_client: Any, command_job: Callable[..., Any], name: str, fields: dict[str, Any], says: str
) -> None:
    with pytest.raises(HttpResponseError) as refused:
        ml_client.jobs.create_or_update(command_job(name, **fields), skip_validation=True)
    assert refused.value.status_code == 400 and says in str(refused.value)


def test_listing_filters_by_property_and_pages_with_next_link(
    ml_client: Any, transport: FakeAzureMLTransport, workspace: FakeMLClient, command_job: Callable[..., Any]
) -> None:
    workspace.page_size = 3
    for index in range(7):
        ml_client.jobs.create_or_update(command_job(f"a-{index}", properties={"rjobs.run": "run-a"}))
        ml_client.jobs.create_or_update(command_job(f"b-{index}", properties={"rjobs.run": "run-b"}))
    before = transport.count("jobs.list")
    pages = [[job.name for job in page] for page in ml_client.jobs.list(properties="rjobs.run=run-a").by_page()]
    assert pages == [["a-6", "a-5", "a-4"], ["a-3", "a-2", "a-1"], ["a-0"]]
    assert transport.count("jobs.list") - before == 3
    assert "$skip=3" in [r.url for r in transport.records if r.route == "jobs.list"][-2]


def test_the_listing_lags_creation(
    ml_client: Any, transport: FakeAzureMLTransport, clock: FakeClock, command_job: Callable[..., Any]
) -> None:
    transport.service.options.list_lag = 10.0
    ml_client.jobs.create_or_update(command_job("fresh", properties={"rjobs.run": "lag"}))
    assert [job.name for job in ml_client.jobs.list(properties="rjobs.run=lag")] == []
    assert ml_client.jobs.get("fresh").name == "fresh"
    clock.advance(10.0)
    assert [job.name for job in ml_client.jobs.list(properties="rjobs.run=lag")] == ["fresh"]


def test_cancel_is_followed_by_the_sdk_poller_on_the_fake_clock(
    ml_client: Any, transport: FakeAzureMLTransport, clock: FakeClock, command_job: Callable[..., Any]
) -> None:
    ml_client.jobs.create_or_update(command_job("long", command="sleep 1000"))
    start, before = clock.now, len(transport.records)
    poller = ml_client.jobs.begin_cancel("long")
    poller.result(timeout=30)
    assert poller.status() == "Succeeded"
    assert ml_client.jobs.get("long").status == "Canceled"
    routes = [(r.route, r.status) for r in transport.records[before:]]
    assert routes[0] == ("jobs.begin_cancel", 202)
    assert ("operations.status", 200) in routes and ("operations.result", 200) in routes
    assert clock.now - start >= CANCEL_DELAY


def test_cancelling_a_finished_job_completes_at_once(
    ml_client: Any, clock: FakeClock, command_job: Callable[..., Any]
) -> None:
    ml_client.jobs.create_or_update(command_job("done"))
    clock.advance(300.0)
    ml_client.jobs.begin_cancel("done").result(timeout=30)
    assert ml_client.jobs.get("done").status == "Completed"


def test_a_second_process_on_the_same_state_file_sees_the_jobs(tmp_path: Path, command_job: Callable[..., Any]) -> None:
    """The workspace's persistence sits under the transport: a restarted orchestrator finds its jobs."""
    from rjobs.backends.azureml.workspace import SDK_RETRY
    from rjobs.testing.fake_azureml.transport import fake_ml_client

    state = tmp_path / "workspace.json"
    from azure.ai.ml.entities import Environment

    first = fake_ml_client(FakeAzureMLTransport(FakeMLClient(FakeClock(), persist_path=state)), **SDK_RETRY)
    first.environments.create_or_update(Environment(name="r-env", version="1", image="rocker/r-ver:4.4.1"))
    first.jobs.create_or_update(command_job("survivor"), skip_validation=True)
    second = FakeAzureMLTransport(FakeMLClient(FakeClock(), persist_path=state))
    assert fake_ml_client(second, **SDK_RETRY).jobs.get("survivor").name == "survivor"


def test_concurrent_clients_share_one_service(
    ml_client: Any, transport: FakeAzureMLTransport, command_job: Callable[..., Any]
) -> None:
    """The orchestrator calls one MLClient from many threads; every request is answered and recorded."""
    from concurrent.futures import ThreadPoolExecutor

    def submit_and_read(index: int) -> str:
        ml_client.jobs.create_or_update(command_job(f"par-{index}"), skip_validation=True)
        return str(ml_client.jobs.get(f"par-{index}").name)

    with ThreadPoolExecutor(max_workers=8) as pool:
        names = sorted(pool.map(submit_and_read, range(16)))
    assert names == sorted(f"par-{index}" for index in range(16))
    assert transport.count("jobs.create_or_update", status=201) == 16 and transport.count("jobs.get") == 16
