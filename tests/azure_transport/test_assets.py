"""Versioned assets through the real MLClient: uploads go to the fake storage account through the SDK's own blob
code, and a create-or-update of a version that exists with the same definition answers 200 (not 409), as the service
does, while a changed definition of an existing version is refused."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from azure.core.exceptions import ResourceExistsError, ResourceNotFoundError

from rjobs.testing.fake_azureml.transport import FakeAzureMLTransport


@pytest.fixture
def files(tmp_path: Path) -> Path:
    root = tmp_path / "project"
    (root / "docker-context").mkdir(parents=True)
    (root / "docker-context" / "Dockerfile").write_text("FROM rocker/r-ver:4.4.1\n")
    (root / "src").mkdir()
    (root / "src" / "train.R").write_text("cat('hello')\n")
    (root / "data.csv").write_text("a,b\n1,2\n")
    return root


def test_an_environment_version_is_created_once_then_answered_200(
    ml_client: Any, transport: FakeAzureMLTransport, files: Path
) -> None:
    from azure.ai.ml.entities import BuildContext, Environment

    def environment() -> Any:
        return Environment(name="r-env", version="abc", build=BuildContext(path=str(files / "docker-context")))

    first = ml_client.environments.create_or_update(environment())
    second = ml_client.environments.create_or_update(environment())
    assert first.id == second.id and second.build.path == first.build.path
    assert [r.status for r in transport.records if r.route == "environments.create_or_update"] == [201, 200]
    assert transport.count("blob.upload") == 1
    assert ml_client.environments.get("r-env", label="latest").version == "abc"


def test_a_changed_definition_of_an_existing_version_is_a_conflict(ml_client: Any) -> None:
    from azure.ai.ml.entities import Environment

    ml_client.environments.create_or_update(Environment(name="img", version="1", image="rocker/r-ver:4.4.1"))
    with pytest.raises(ResourceExistsError):
        ml_client.environments.create_or_update(Environment(name="img", version="1", image="rocker/r-ver:4.5.0"))


def test_a_data_version_is_uploaded_once_and_answered_200_again(
    ml_client: Any, transport: FakeAzureMLTransport, files: Path
) -> None:
    from azure.ai.ml.entities import Data

    def data() -> Any:
        return Data(name="penguins", version="1", path=str(files / "data.csv"), type="uri_file")

    first = ml_client.data.create_or_update(data())
    second = ml_client.data.create_or_update(data())
    assert first.path == second.path and first.path.startswith("azureml://datastores/workspaceblobstore/paths/")
    assert [r.status for r in transport.records if r.route == "data.create_or_update"] == [201, 200]
    assert transport.count("blob.upload") == 1
    assert ml_client.data.get("penguins", version="1").path == first.path
    with pytest.raises(ResourceNotFoundError):
        ml_client.data.get("penguins", version="2")


def test_a_code_version_is_found_by_its_content_hash(
    ml_client: Any, transport: FakeAzureMLTransport, files: Path
) -> None:
    """The SDK lists code versions by the folder's hash and reuses a match: one upload, one PUT."""
    from azure.ai.ml.entities._assets import Code

    first = ml_client._code.create_or_update(Code(name="src", version="1", path=str(files / "src")))
    second = ml_client._code.create_or_update(Code(name="src", version="1", path=str(files / "src")))
    assert first.id == second.id
    assert transport.count("code.start_pending_upload") == 1 and transport.count("code.create_or_update") == 1
    assert transport.count("blob.upload") == 1
    assert ml_client._code.get(name="src", version="1").path == first.path


def test_an_uploaded_code_folder_is_where_the_service_keeps_it(
    ml_client: Any, transport: FakeAzureMLTransport, files: Path
) -> None:
    from azure.ai.ml.entities._assets import Code

    code = ml_client._code.create_or_update(Code(name="src", version="1", path=str(files / "src")))
    local = transport.service.blobs.local_path(str(code.path))
    assert local is not None and (Path(local) / "train.R").read_text() == "cat('hello')\n"


def test_a_model_version_from_a_local_file(ml_client: Any, transport: FakeAzureMLTransport, files: Path) -> None:
    from azure.ai.ml.entities import Model

    made = ml_client.models.create_or_update(Model(name="m", version="1", path=str(files / "data.csv")))
    assert made.version == "1"
    assert ml_client.models.get("m", version="1").id == made.id
    assert [r.status for r in transport.records if r.route == "models.create_or_update"] == [201]
