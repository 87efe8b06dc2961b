"""rjobs.core.states: every status string azure-ai-ml knows maps onto one enum with TERMINAL and FAILED sets."""

from __future__ import annotations

import warnings

import pytest

from rjobs.core.states import FAILED, TERMINAL, JobState, parse_state

DESIGN_STATUSES = [
    "NotStarted", "Starting", "Provisioning", "Preparing", "Queued", "Running", "Finalizing",
    "CancelRequested", "Completed", "Failed", "Canceled", "NotResponding", "Paused",
]  # fmt: skip
SDK_CATCH_ALL = "Unknown"  # the REST enum's "not mapped" default; the Azure backend treats it as "no news"
OURS = {"Absent", "Lost"}  # states no service reports: the job is not there / its local process vanished


def sdk_statuses() -> tuple[list[str], list[str]]:
    """(every status, terminal statuses) as installed azure-ai-ml spells them; DESIGN.md's list otherwise."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # azure-ai-ml's import warns about its marshmallow use
            from azure.ai.ml._restclient.arm_ml_service.models._enums import JobStatus as RestJobStatus
            from azure.ai.ml.operations._run_history_constants import JobStatus, RunHistoryConstants
    except ImportError:  # private modules moved: fall back to the list the design was written against
        return DESIGN_STATUSES, ["Completed", "Failed", "Canceled", "NotResponding", "Paused"]
    rest = [s.value for s in RestJobStatus if s.value != SDK_CATCH_ALL]
    history = [v for k, v in vars(JobStatus).items() if k.isupper()]
    return sorted(set(rest) | set(history)), list(RunHistoryConstants.TERMINAL_STATUSES)


ALL_SDK, TERMINAL_SDK = sdk_statuses()


@pytest.mark.parametrize("status", ALL_SDK)
def test_every_sdk_status_parses_to_itself(status: str) -> None:
    assert parse_state(status).value == status


def test_enum_is_exactly_the_sdk_statuses_plus_ours() -> None:
    assert set(ALL_SDK) == set(DESIGN_STATUSES)
    assert {s.value for s in JobState} == set(ALL_SDK) | OURS


@pytest.mark.parametrize("status", TERMINAL_SDK)
def test_sdk_terminal_statuses_are_terminal(status: str) -> None:
    assert parse_state(status).terminal


STATE_TABLE = [
    (JobState.NOT_STARTED, False, False),
    (JobState.STARTING, False, False),
    (JobState.PROVISIONING, False, False),
    (JobState.PREPARING, False, False),
    (JobState.QUEUED, False, False),
    (JobState.RUNNING, False, False),
    (JobState.FINALIZING, False, False),
    (JobState.CANCEL_REQUESTED, False, False),
    (JobState.COMPLETED, True, False),
    (JobState.FAILED, True, True),
    (JobState.CANCELED, True, False),
    (JobState.NOT_RESPONDING, True, True),
    (JobState.PAUSED, True, True),
    (JobState.ABSENT, False, False),
    (JobState.LOST, True, True),
]


@pytest.mark.parametrize(("state", "terminal", "failed"), STATE_TABLE, ids=[s.value for s, _, _ in STATE_TABLE])
def test_terminal_and_failed(state: JobState, terminal: bool, failed: bool) -> None:
    assert state.terminal is terminal
    assert state.failed is failed
    assert (state in TERMINAL) is terminal
    assert (state in FAILED) is failed


def test_table_covers_every_state_and_failed_implies_terminal() -> None:
    assert {s for s, _, _ in STATE_TABLE} == set(JobState)
    assert FAILED < TERMINAL
    assert {JobState.COMPLETED, JobState.CANCELED} == TERMINAL - FAILED


@pytest.mark.parametrize(
    ("text", "state"),
    [
        ("completed", JobState.COMPLETED),
        ("COMPLETED", JobState.COMPLETED),
        ("  Running\n", JobState.RUNNING),
        ("notresponding", JobState.NOT_RESPONDING),
        ("CANCELREQUESTED", JobState.CANCEL_REQUESTED),
        ("canceled", JobState.CANCELED),
        ("absent", JobState.ABSENT),
        (None, JobState.NOT_STARTED),
    ],
)
def test_parse_is_case_insensitive(text: str | None, state: JobState) -> None:
    assert parse_state(text) is state


@pytest.mark.parametrize("text", ["Exploded", "Cancelled", "Not Started", "", "Completed!", SDK_CATCH_ALL])
def test_unknown_status_raises_naming_the_module(text: str) -> None:
    with pytest.raises(ValueError, match=r"unknown job status .*rjobs/core/states\.py"):
        parse_state(text)


def test_state_is_a_str_enum() -> None:
    assert JobState.RUNNING == "Running"
    assert f"{JobState.COMPLETED}" == "Completed"
