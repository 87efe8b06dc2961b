"""Faults as the SDK meets them on the wire: the workspace's scripted and seeded faults become HTTP 429/5xx (with
Retry-After) or broken connections, and azure-core's retry policy inside the SDK does the retrying, on the fake
clock. The retry budget is the project's (workspace.SDK_RETRY: 3 retries, so 4 requests at most)."""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from azure.core.exceptions import HttpResponseError, ServiceRequestError

from rjobs.backends.azureml.workspace import HTTP_RETRIES
from rjobs.testing.clock import FakeClock
from rjobs.testing.fake_azureml.client import FakeMLClient
from rjobs.testing.fake_azureml.transport import FakeAzureMLTransport


@pytest.fixture
def job(ml_client: Any, command_job: Callable[..., Any]) -> str:
    ml_client.jobs.create_or_update(command_job("job-1"))
    return "job-1"


def test_a_429_is_retried_by_the_sdk_after_retry_after_on_the_fake_clock(
    ml_client: Any, transport: FakeAzureMLTransport, workspace: FakeMLClient, clock: FakeClock, job: str
) -> None:
    workspace.inject("jobs.get", "429", retry_after=7.0)
    start, slept = clock.now, len(clock.slept)
    assert ml_client.jobs.get(job).name == job
    assert [r.status for r in transport.records if r.route == "jobs.get"] == [429, 200]
    assert clock.slept[slept:] == [7.0] and clock.now - start == 7.0


def test_a_503_burst_longer_than_the_retries_surfaces_as_http_response_error(
    ml_client: Any, transport: FakeAzureMLTransport, workspace: FakeMLClient, clock: FakeClock, job: str
) -> None:
    workspace.inject("jobs.get", "503", times=HTTP_RETRIES + 1)
    start = clock.now
    with pytest.raises(HttpResponseError) as failed:
        ml_client.jobs.get(job)
    assert failed.value.status_code == 503
    assert transport.count("jobs.get", status=503) == HTTP_RETRIES + 1
    assert clock.now - start == pytest.approx(0 + 2 + 4)  # azure-core's exponential backoff, factor 1


def test_a_burst_within_the_retries_is_invisible_to_the_caller(
    ml_client: Any, transport: FakeAzureMLTransport, workspace: FakeMLClient, job: str
) -> None:
    workspace.inject("jobs.get", "503", times=HTTP_RETRIES)
    assert ml_client.jobs.get(job).name == job
    assert transport.count("jobs.get") == HTTP_RETRIES + 1


def test_connection_resets_are_retried_then_raised_as_service_request_error(
    ml_client: Any, transport: FakeAzureMLTransport, workspace: FakeMLClient, job: str
) -> None:
    workspace.inject("jobs.get", "connection", times=2)
    assert ml_client.jobs.get(job).name == job
    workspace.inject("jobs.get", "connection", times=HTTP_RETRIES + 1)
    with pytest.raises(ServiceRequestError):
        ml_client.jobs.get(job)
    assert transport.count("jobs.get", status=0) == 2 + HTTP_RETRIES + 1


def test_a_lost_create_response_is_retried_and_answered_200_by_create_or_update(
    ml_client: Any, transport: FakeAzureMLTransport, workspace: FakeMLClient, command_job: Callable[..., Any]
) -> None:
    """The service created the job but the answer was lost: the SDK's retry PUTs the same body again."""
    workspace.inject("jobs.create_or_update", "lost_response")
    created = ml_client.jobs.create_or_update(command_job("job-2"))
    assert created.name == "job-2" and list(workspace._jobs) == ["job-2"]
    assert [(r.status, r.fault) for r in transport.records if r.route == "jobs.create_or_update"] == [
        (201, "lost_response"),
        (200, None),
    ]


def test_seeded_faults_follow_the_seed(tmp_path: Path) -> None:
    """Two services with the same seed and fault rates answer the same sequence of requests identically."""
    from rjobs.backends.azureml.workspace import SDK_RETRY
    from rjobs.testing.fake_azureml.transport import fake_ml_client

    statuses = []
    for attempt in range(2):
        workspace = FakeMLClient(
            FakeClock(), seed=5, store=tmp_path / f"s{attempt}", fault_rates={"503": 0.3}, fault_operations="jobs.get"
        )
        transport = FakeAzureMLTransport(workspace)
        client = fake_ml_client(transport, show_progress=False, **SDK_RETRY)
        for _ in range(10):
            with contextlib.suppress(HttpResponseError):
                client.jobs.get("missing")
        statuses.append([r.status for r in transport.records])
    assert statuses[0] == statuses[1] and 503 in statuses[0] and 404 in statuses[0]
