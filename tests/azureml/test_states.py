"""Every status string azure-ai-ml can return maps onto rjobs' JobState the way the poller needs."""

from __future__ import annotations

import pytest
from azure.ai.ml._restclient.arm_ml_service.models import JobStatus as RestJobStatus
from azure.ai.ml.operations._run_history_constants import JobStatus as RunHistoryStatus
from azure.ai.ml.operations._run_history_constants import RunHistoryConstants

from rjobs.backends.azureml.status import service_state
from rjobs.core.states import FAILED, TERMINAL, JobState
from rjobs.testing.fake_mlclient import FakeMLClient, JobScript

pytestmark = pytest.mark.azure_fake

SDK_STATUSES = sorted(
    {s.value for s in RestJobStatus}
    | {v for k, v in vars(RunHistoryStatus).items() if k.isupper() and isinstance(v, str)}
)

EXPECTED = {
    "NotStarted": JobState.NOT_STARTED,
    "Starting": JobState.STARTING,
    "Provisioning": JobState.PROVISIONING,
    "Preparing": JobState.PREPARING,
    "Queued": JobState.QUEUED,
    "Running": JobState.RUNNING,
    "Finalizing": JobState.FINALIZING,
    "CancelRequested": JobState.CANCEL_REQUESTED,
    "Completed": JobState.COMPLETED,
    "Failed": JobState.FAILED,
    "Canceled": JobState.CANCELED,
    "NotResponding": JobState.NOT_RESPONDING,
    "Paused": JobState.PAUSED,
    "Unknown": None,
}


@pytest.mark.parametrize("status", SDK_STATUSES)
def test_every_sdk_status_maps(status: str) -> None:
    assert status in EXPECTED, f"azure-ai-ml has a status {status!r} this table does not know"
    assert service_state(status) == EXPECTED[status]
    assert service_state(status.upper()) == EXPECTED[status]


def test_terminal_and_failed_sets_match_the_service() -> None:
    assert service_state("NotResponding") in TERMINAL and service_state("NotResponding") in FAILED
    assert service_state("Paused") in TERMINAL and service_state("Paused") in FAILED
    assert service_state("CancelRequested") not in TERMINAL
    assert service_state("Finalizing") not in TERMINAL
    assert service_state("Canceled") in TERMINAL and service_state("Canceled") not in FAILED
    for status in RunHistoryConstants.TERMINAL_STATUSES:
        assert service_state(status) in TERMINAL
    for status in RunHistoryConstants.IN_PROGRESS_STATUSES + RunHistoryConstants.POST_PROCESSING_STATUSES:
        assert service_state(status) not in TERMINAL


def test_a_new_service_status_is_noticed_and_polled_on(caplog: pytest.LogCaptureFixture) -> None:
    """A status the code does not know is not a finish (issue 21 defect 7): polled on, with one warning."""
    with caplog.at_level("WARNING"):
        assert service_state("Hibernating") is None
        assert service_state("Hibernating") is None
    assert [r.getMessage() for r in caplog.records].count(
        "the service reports job status 'Hibernating', unknown here: treating it as not finished"
    ) == 1


def test_unknown_keeps_the_last_known_state(fake: FakeMLClient, prepared, spec, cell_job) -> None:
    """The REST enum's 'Unknown' says nothing new: the poller sees the last state, never a crash or a finish."""
    backend, data = prepared
    fake.script("run1-*", JobScript(queue_s=100.0))
    handle = backend.submit(cell_job(spec, {"seed": 1}, data=data))
    fake.tick(10.0)
    assert backend.status([handle])[handle.job_name].state == JobState.QUEUED
    fake.job_record(handle.job_name)["final"] = "Unknown"
    status = backend.status([handle])[handle.job_name]
    assert status.state == JobState.QUEUED
    assert "Unknown" in status.detail
