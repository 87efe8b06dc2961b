"""tasks.limits against a real temporary Prefect server: the limit is created once and really caps holders."""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Iterator

import pytest
from prefect.client.orchestration import get_client
from prefect.client.schemas.actions import GlobalConcurrencyLimitCreate
from prefect.concurrency.asyncio import ConcurrencySlotAcquisitionError
from prefect.concurrency.sync import concurrency

from tasks.limits import ensure_limit, job_slot

pytestmark = pytest.mark.prefect_server


@pytest.fixture(scope="module", autouse=True)
def prefect_api() -> Iterator[None]:
    """A fresh server and database for this module, so no limit is left over from another test."""
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=120):
        yield


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def server_limit(name: str) -> tuple[int, bool]:
    with get_client(sync_client=True) as client:
        found = client.read_global_concurrency_limit_by_name(name)
    return found.limit, found.active


def test_missing_limit_is_created_with_its_size() -> None:
    name = unique("quota")
    assert ensure_limit(name, 3) == 3
    assert server_limit(name) == (3, True)


def test_existing_limit_is_kept_and_a_different_size_is_logged(caplog: pytest.LogCaptureFixture) -> None:
    name = unique("quota")
    ensure_limit(name, 4)
    with caplog.at_level(logging.WARNING, logger="tasks.limits"):
        assert ensure_limit(name, 2) == 4
    assert server_limit(name) == (4, True)
    assert any("exists with 4 slot(s), not 2" in r.getMessage() for r in caplog.records)
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="tasks.limits"):
        assert ensure_limit(name, 4) == 4
    assert not caplog.records


def test_size_below_one_is_refused_before_the_server_is_asked() -> None:
    name = unique("quota")
    with pytest.raises(ValueError, match="at least 1"):
        ensure_limit(name, 0)
    with get_client(sync_client=True) as client:
        assert name not in {limit.name for limit in client.read_global_concurrency_limits(limit=200)}


def test_never_more_holders_than_slots_and_every_holder_finishes() -> None:
    name = unique("quota")
    ensure_limit(name, 2)
    changed = threading.Condition()
    holding = 0
    peak = 0
    finished: list[int] = []
    errors: list[BaseException] = []

    def hold(index: int) -> None:
        """Holds its slot until a second holder is in (or no one else is left): both slots get used side by side
        however slowly the server hands them out."""
        nonlocal holding, peak
        try:
            with job_slot(name, timeout_s=90), changed:
                holding += 1
                peak = max(peak, holding)
                changed.notify_all()
                changed.wait_for(lambda: holding >= 2 or len(finished) + holding == 5, timeout=60)
                holding -= 1
            with changed:
                finished.append(index)
                changed.notify_all()
        except BaseException as exc:  # reported below, a thread would swallow it
            errors.append(exc)

    threads = [threading.Thread(target=hold, args=(i,)) for i in range(5)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not errors
    assert sorted(finished) == [0, 1, 2, 3, 4]
    assert peak == 2  # capped at the size, and the two slots were really used side by side
    with get_client(sync_client=True) as client:
        assert client.read_global_concurrency_limit_by_name(name).active_slots == 0


def test_a_slot_that_never_frees_times_out() -> None:
    name = unique("quota")
    ensure_limit(name, 1)
    with concurrency(name, occupy=1, strict=True):
        started = time.monotonic()
        with pytest.raises(TimeoutError), job_slot(name, timeout_s=1):
            pytest.fail("acquired a slot the only holder still has")
        assert time.monotonic() - started < 30


def test_a_missing_limit_fails_instead_of_limiting_nothing() -> None:
    with (
        pytest.raises(ConcurrencySlotAcquisitionError, match="must be created"),
        job_slot(unique("absent"), timeout_s=5),
    ):
        pytest.fail("ran without a limit")


def test_an_inactive_limit_is_kept_and_reported(caplog: pytest.LogCaptureFixture) -> None:
    name = unique("quota")
    with get_client(sync_client=True) as client:
        client.create_global_concurrency_limit(GlobalConcurrencyLimitCreate(name=name, limit=2, active=False))
    with caplog.at_level(logging.WARNING, logger="tasks.limits"):
        assert ensure_limit(name, 2) == 2
    assert server_limit(name) == (2, False)
    assert any("inactive" in r.getMessage() for r in caplog.records)
