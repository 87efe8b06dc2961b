"""The real azure-ai-ml MLClient over the fake Azure ML service at the HTTP transport layer, on a fake clock.

Every test here is `azure_fake`; none may sleep for real: the SDK's retry policy and pollers sleep through the
transport, which moves the fake clock, and a real `time.sleep` fails the test.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    import azure.ai.ml  # noqa: F401  (its marshmallow schemas warn at import; not ours to fix)

from rjobs.backends.azureml.workspace import SDK_RETRY
from rjobs.testing.clock import FakeClock
from rjobs.testing.fake_azureml.client import FakeMLClient
from rjobs.testing.fake_azureml.transport import FakeAzureMLTransport, blob_clients_through, fake_ml_client

HERE = Path(__file__).parent
ENVIRONMENT = "azureml:r-env:1"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark this folder azure_fake and hide azure-ai-ml's marshmallow deprecation warnings for it."""
    for item in items:
        if HERE in Path(str(item.path)).parents:
            item.add_marker(pytest.mark.azure_fake)
            item.add_marker(pytest.mark.filterwarnings("ignore::DeprecationWarning:marshmallow"))
            item.add_marker(pytest.mark.filterwarnings("ignore::DeprecationWarning:azure"))


@pytest.fixture(autouse=True)
def no_real_sleep(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[float]]:
    """A real time.sleep long enough to be a wait (a retry, a poll: over 0.1 s) fails the test at teardown; the
    millisecond naps of subprocess waits (a job's command run locally) pass."""
    slept: list[float] = []
    real = time.sleep

    def recorded(seconds: float) -> None:
        if seconds > 0.1:
            slept.append(seconds)
            if len(slept) > 1000:  # a loop sleeping until something happens (the SDK's upload wait): fail, not spin
                raise RuntimeError(f"over 1000 real sleeps of {seconds} s: a wait that never ends")
            return
        real(seconds)

    monkeypatch.setattr(time, "sleep", recorded)
    yield slept
    assert slept == [], f"real sleeps: {slept}"


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def workspace(tmp_path: Path, clock: FakeClock) -> FakeMLClient:
    """The service's state: the operation-level fake's records, state machine, faults and store."""
    return FakeMLClient(clock, seed=11, store=tmp_path / "service")


@pytest.fixture
def transport(workspace: FakeMLClient) -> Iterator[FakeAzureMLTransport]:
    """The transport, with the SDK's storage clients routed through it for the test."""
    transport = FakeAzureMLTransport(workspace)
    with blob_clients_through(transport):
        yield transport


@pytest.fixture
def ml_client(transport: FakeAzureMLTransport) -> Any:
    """The real MLClient with the project's own retry settings (workspace.SDK_RETRY)."""
    return fake_ml_client(transport, show_progress=False, **SDK_RETRY)


@pytest.fixture
def environment(ml_client: Any) -> str:
    """An image environment in the workspace, as a job references it."""
    from azure.ai.ml.entities import Environment

    ml_client.environments.create_or_update(Environment(name="r-env", version="1", image="rocker/r-ver:4.4.1"))
    return ENVIRONMENT


@pytest.fixture
def command_job(environment: str) -> Callable[..., Any]:
    """A small command job entity on the workspace's environment."""
    from azure.ai.ml import command

    def build(name: str, **fields: Any) -> Any:
        settings: dict[str, Any] = {"command": "echo hello", "environment": environment, "compute": "cpu-cluster"}
        settings.update(fields)
        return command(name=name, **settings)

    return build
