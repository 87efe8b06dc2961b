"""The serving image built by ACR Tasks through ARM (no local Docker): the build context uploaded as a tar.gz, a quick
build of <login server>/rjobs-serve:<context tag> waited on with the fake clock, then deployable; a failed build names
the run to read the log of, and nothing is deployed."""

from __future__ import annotations

import io
import tarfile
from pathlib import Path
from typing import Any

import pytest

from rjobs.serving.azure_endpoint import EndpointPlan, deploy
from rjobs.serving.context import write_context
from rjobs.serving.image_build import AcrTaskBuilder, ImageBuildError, workspace_registry
from rjobs.serving.model_source import ServedModel
from rjobs.testing.fake_azureml.routes_registry import LOGIN_SERVER, REGISTRY_ID, SOURCES
from rjobs.testing.fake_azureml.transport import FakeAzureMLTransport, FakeCredential
from tests.azure_transport.test_online_endpoint import ROWS, container

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def context(tmp_path: Path) -> Any:
    model = tmp_path / "model.rds"
    model.write_bytes(b"a model")
    return write_context(
        tmp_path / "ctx", ServedModel(model, "r-penguins", "3"), REPO / "docker-context" / "Dockerfile"
    )


def builder(transport: FakeAzureMLTransport, ml_client: Any) -> AcrTaskBuilder:
    return AcrTaskBuilder(FakeCredential(), workspace_registry(ml_client), transport=transport, clock=transport.clock)


def test_the_context_is_built_and_pushed_then_deployable(
    ml_client: Any, transport: FakeAzureMLTransport, context: Any
) -> None:
    assert workspace_registry(ml_client) == REGISTRY_ID
    image = builder(transport, ml_client).build(context)
    assert image == f"{LOGIN_SERVER}/rjobs-serve:{context.tag}"
    assert image in transport.service.online.images
    run = transport.service.registry.runs["ca1"]
    assert run["request"]["imageNames"] == [f"rjobs-serve:{context.tag}"]
    assert run["request"]["dockerFilePath"] == "Dockerfile" and run["request"]["isPushEnabled"] is True
    blob = transport.service.blobs.get(SOURCES, run["request"]["sourceLocation"])
    assert blob is not None
    with blob.open() as handle, tarfile.open(fileobj=io.BytesIO(handle.read()), mode="r:gz") as tar:
        assert sorted(tar.getnames()) == ["Dockerfile", "model.rds", "serve.R"]
        assert {m.uid for m in tar.getmembers()} == {0}
    assert transport.count("registries.get_run") >= 2  # waited through Queued and Running on the fake clock
    transport.service.online.containers[image] = container()
    outcome = deploy(ml_client, EndpointPlan("penguins", image, context.tag), ROWS)
    assert ml_client.online_endpoints.get("penguins").traffic == {outcome.deployment: 100}


def test_a_failed_build_names_its_run_and_deploys_nothing(
    ml_client: Any, transport: FakeAzureMLTransport, context: Any
) -> None:
    transport.service.registry.fail_next = True
    with pytest.raises(ImageBuildError, match=r"build run ca1 ended Failed.*az acr task logs --registry fakeacr"):
        builder(transport, ml_client).build(context)
    assert transport.service.online.images == set()


def test_a_context_missing_a_file_fails_as_docker_would(
    ml_client: Any, transport: FakeAzureMLTransport, context: Any
) -> None:
    (context.path / "serve.R").unlink()
    with pytest.raises(ImageBuildError, match="ended Failed"):
        builder(transport, ml_client).build(context)
    assert "serve.R not found" in transport.service.registry.runs["ca1"]["problem"]
