"""Shared fixtures: a copy of the demo project per test, one Prefect test server per session, a fake Azure ML
workspace for flow runs."""

from __future__ import annotations

import shutil
import socket
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from hypothesis import HealthCheck, settings

if TYPE_CHECKING:
    from rjobs.testing.fake_mlclient import FakeMLClient

REPO = Path(__file__).resolve().parent.parent
DEMO_FILES = ("job.yml", "grid.yml", "environment-job.yml")
DEMO_DIRS = ("r_src", "data", "docker-context")


# Generated inputs are judged on what they find, never on how fast they come: no per-example deadline and no
# too-slow health check, which fail on a loaded machine (a test that sets its own suppress list adds too_slow).
settings.register_profile("loaded-machine", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("loaded-machine")


@pytest.fixture(autouse=True)
def no_prefect_events_worker_under_hypothesis(request: pytest.FixtureRequest) -> None:
    """Prefect's events worker outlives the flow test that started it and pings its websocket with the global
    `random`: stopped before each property test, or Hypothesis warns that its strategies use `random` (seen under
    load, when a ping fell inside a long test). The next flow starts a new one."""
    worker = sys.modules.get("prefect.events.worker")
    if worker is not None and getattr(request.function, "is_hypothesis_test", False):
        worker.EventsWorker.drain_all(timeout=60)


TIER_FIXTURES = {"prefect_server": "prefect_server", "azurite": "azurite", "fake_workspace": "azure_fake"}
SLOW_TIERS = ("r", "azurite", "prefect_server")


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Tiers as markers that select alone (-m r, -m azurite, ...): a test using a tier's fixture is in that tier,
    every real-R, Azurite or Prefect-server test is slow, and an R test is skipped (not failed) without R."""
    has_r = shutil.which("Rscript") is not None
    for item in items:
        for fixture, marker in TIER_FIXTURES.items():
            if fixture in getattr(item, "fixturenames", ()):
                item.add_marker(marker)
        if any(item.get_closest_marker(tier) for tier in SLOW_TIERS):
            item.add_marker("slow")
        if item.get_closest_marker("r") and not has_r:
            item.add_marker(pytest.mark.skip(reason="needs Rscript: make setup installs R"))


@pytest.fixture
def demo_project(tmp_path: Path) -> Path:
    """The demo project copied to tmp_path, so each test has its own results folder and files to break."""
    project = tmp_path / "project"
    project.mkdir()
    for name in DEMO_FILES:
        shutil.copy2(REPO / name, project / name)
    for name in DEMO_DIRS:
        shutil.copytree(REPO / name, project / name)
    return project


@pytest.fixture(scope="session")
def prefect_server() -> Iterator[None]:
    """One temporary Prefect server and database for every flow test in the session."""
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=120):
        yield


@pytest.fixture
def fake_workspace(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> FakeMLClient:
    """Every MLClient a flow makes is this fake (real R, state persisted); each call moves its clock 20 s on.

    Imported here, not at the top, so tests that never touch Azure don't load azure-ai-ml."""
    from rjobs.testing.fake_mlclient import FakeClock, FakeMLClient

    fake = FakeMLClient(
        FakeClock(),
        seed=3,
        store=tmp_path / "fake-store",
        run_commands=True,
        advance_per_call=20.0,
        persist_path=tmp_path / "fake-state.json",
    )
    monkeypatch.setattr("rjobs.backends.azureml.workspace.make_ml_client", lambda *args, **kwargs: fake)
    return fake


@pytest.fixture
def sockets() -> Iterator[list[socket.socket]]:
    """UNIX sockets bound by a test, closed after it."""
    opened: list[socket.socket] = []
    yield opened
    for sock in opened:
        sock.close()
