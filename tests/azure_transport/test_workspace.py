"""The workspace as the SDK finds it (resource, discovery, datastores), and the backend's workspace-level calls that
ride on it: the MLflow tracking URI and a model registered from a finished job's output."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from azure.core.exceptions import HttpResponseError, ResourceNotFoundError

from rjobs.backends.azureml.calls import ServiceCalls
from rjobs.backends.azureml.models import register_job_output
from rjobs.backends.azureml.workspace import SDK_RETRY, workspace_tracking_uri
from rjobs.testing.clock import FakeClock
from rjobs.testing.fake_azureml.client import FakeMLClient
from rjobs.testing.fake_azureml.transport import FakeAzureMLTransport
from rjobs.testing.fake_azureml.wire import RESOURCE_GROUP, SUBSCRIPTION


def test_the_workspace_gives_its_tracking_uri(ml_client: Any, transport: FakeAzureMLTransport) -> None:
    uri = workspace_tracking_uri(ml_client)
    assert uri.startswith("azureml://eastus.api.azureml.ms/mlflow/v1.0/subscriptions/")
    assert transport.count("workspaces.get") == 1


def test_another_workspace_is_not_found(transport: FakeAzureMLTransport) -> None:
    from azure.ai.ml import MLClient

    from rjobs.testing.fake_azureml.transport import FakeCredential

    other = MLClient(
        FakeCredential(),
        subscription_id=SUBSCRIPTION,
        resource_group_name=RESOURCE_GROUP,
        workspace_name="not-this-one",
        transport=transport,
        **SDK_RETRY,
    )
    with pytest.raises(ResourceNotFoundError):
        other.jobs.get("anything")


def test_the_default_datastore_is_the_workspace_blob_store(ml_client: Any) -> None:
    default = ml_client.datastores.get_default()
    assert default.name == "workspaceblobstore" and default.account_name == "fakestorage"


def test_a_model_registers_from_a_completed_jobs_output_once(
    ml_client: Any,
    transport: FakeAzureMLTransport,
    workspace: FakeMLClient,
    clock: FakeClock,
    command_job: Callable[..., Any],
) -> None:
    workspace.script("trained", artifacts={"outputs/model.rds": b"model"})
    ml_client.jobs.create_or_update(command_job("trained"))
    clock.advance(600.0)
    calls = ServiceCalls(ml_client)
    first = register_job_output(calls, "penguins", "trained", "outputs/model.rds", {}, "a model")
    again = register_job_output(calls, "penguins", "trained", "outputs/model.rds", {}, "a model")
    assert (first.version, first.created, again.version, again.created) == ("1", True, "1", False)
    assert transport.count("models.create_or_update") == 1
    with pytest.raises(HttpResponseError) as refused:
        register_job_output(calls, "penguins", "trained", "outputs/missing.rds", {}, "no such file")
    assert refused.value.status_code == 400
