"""What only the Azure backend can do, asked through capability protocols: a run's jobs, the workspace's MLflow, and a
model registry of its own."""

from __future__ import annotations

import sys
import types
from typing import Any

import pytest

from rjobs.backends.azureml.backend import AzureMLBackend
from rjobs.backends.azureml.models import job_output_uri
from rjobs.backends.base import Backend, HasWorkspaceTracking, JobsAreMlflowRuns, ListsRunJobs, RegistersModels
from rjobs.core.errors import InputError
from rjobs.testing.fake_mlclient import FakeClock, FakeMLClient, JobScript

pytestmark = pytest.mark.azure_fake


class FakeWorkspaces:
    def __init__(self) -> None:
        self.asked: list[str] = []

    def get(self, name: str) -> Any:
        self.asked.append(name)
        return types.SimpleNamespace(mlflow_tracking_uri=f"azureml://westeurope.api.azureml.ms/mlflow/v1.0/{name}")


def test_the_backend_declares_its_capabilities(backend: AzureMLBackend) -> None:
    assert isinstance(backend, Backend)
    assert isinstance(backend, ListsRunJobs)
    assert isinstance(backend, HasWorkspaceTracking)
    assert isinstance(backend, JobsAreMlflowRuns)
    assert isinstance(backend, RegistersModels)


def test_tracking_uri_without_azureml_mlflow_is_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "azureml.mlflow", None)  # import fails as if not installed
    client = types.SimpleNamespace(workspace_name="ws", workspaces=FakeWorkspaces())
    with pytest.raises(InputError) as caught:
        AzureMLBackend(client).tracking_uri()
    message = str(caught.value)
    assert "azureml-mlflow" in message and "\n" not in message
    assert client.workspaces.asked == ["ws"]  # the URI's scheme says whether the plugin is needed


def test_tracking_uri_is_the_workspaces(monkeypatch: pytest.MonkeyPatch) -> None:
    package = types.ModuleType("azureml")
    package.__path__ = []  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "azureml", package)
    monkeypatch.setitem(sys.modules, "azureml.mlflow", types.ModuleType("azureml.mlflow"))
    client = types.SimpleNamespace(workspace_name="my-ws", workspaces=FakeWorkspaces())
    assert AzureMLBackend(client).tracking_uri() == "azureml://westeurope.api.azureml.ms/mlflow/v1.0/my-ws"
    assert client.workspaces.asked == ["my-ws"]


def test_register_model_versions_a_completed_jobs_output_once(fake: FakeMLClient, clock: FakeClock) -> None:
    """Against the fake service: the model points at the job's output; the same source again is the same version."""
    from azure.ai.ml import command

    fake.script("train-*", JobScript(artifacts={"outputs/model.rds": b"m"}, queue_s=1, prepare_s=1, run_s=1))
    for name in ("train-1", "train-2"):
        fake.jobs.create_or_update(command(name=name, command="echo", environment="azureml:AzureML-x:1"))
    clock.advance(60.0)
    backend = AzureMLBackend(fake)
    tags = {"rjobs.source": "run/c1/outputs/model.rds", "rjobs.cell": "c1"}

    first = backend.register_model("penguins", "train-1", "outputs/model.rds", tags, "best cell")
    assert (first.name, first.version, first.created) == ("penguins", "1", True)
    assert first.source == job_output_uri("train-1", "outputs/model.rds")
    assert first.source == "azureml://jobs/train-1/outputs/artifacts/paths/outputs/model.rds"
    stored = fake.models.get("penguins", "1")
    assert (stored.description, stored.tags) == ("best cell", tags)

    again = backend.register_model("penguins", "train-1", "outputs/model.rds", tags, "best cell")
    assert (again.version, again.created, again.source) == ("1", False, first.source)

    untagged = backend.register_model("penguins", "train-2", "outputs/model.rds", {}, "another")
    assert (untagged.version, untagged.created) == ("2", True)
    assert fake.models.get("penguins", "2").tags == {"rjobs.source": "train-2/outputs/model.rds"}
    assert backend.register_model("penguins", "train-2", "outputs/model.rds", {}, "another").version == "2"
    assert fake.count("models.create_or_update") == 2
