"""Defect 6: azure-ai-ml 1.35 has no public code-asset operations, so CodeAssets.upload uses MLClient._code. The SDK
is pinned below the next minor release (pyproject.toml) and these tests hold the private operations to what the
upload relies on, so a release that changes them fails here, not in a user's sweep."""

from __future__ import annotations

import tomllib
from importlib.metadata import version
from pathlib import Path
from typing import Any

import pytest
from azure.core.exceptions import ResourceNotFoundError
from packaging.requirements import Requirement
from packaging.version import Version

from rjobs.testing.fake_azureml.transport import FakeAzureMLTransport
from tests.azure_transport.support import transport_backend
from tests.reliability.support import load_sweep, write_project

REPO = Path(__file__).resolve().parents[2]


def sdk_requirement() -> Requirement:
    project = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    found = [Requirement(text) for text in project["dependencies"] if Requirement(text).name == "azure-ai-ml"]
    assert len(found) == 1
    return found[0]


def test_the_sdk_is_pinned_below_its_next_minor_release() -> None:
    """Private attributes change without notice between minor releases: only the tested minor may be installed."""
    installed = Version(version("azure-ai-ml"))
    specifier = sdk_requirement().specifier
    assert installed in specifier
    assert Version(f"{installed.major}.{installed.minor + 1}.0") not in specifier
    assert Version(f"{installed.major + 1}.0.0") not in specifier


def test_the_code_upload_through_the_private_operations(transport: FakeAzureMLTransport, tmp_path: Path) -> None:
    """What CodeAssets.upload relies on: get(name, version) raises ResourceNotFoundError when absent;
    create_or_update(Code) uploads the folder and returns the version's ARM id; a second process finds it with one
    get and uploads nothing; a job referencing the id is accepted."""
    job = write_project(tmp_path / "project", azure=True, grid={"seed": [1]})
    spec, _ = load_sweep(job)
    first = transport_backend(transport, job)
    with pytest.raises(ResourceNotFoundError):
        first.ml_client._code.get(name="absent", version="1")
    code_id = str(first.code_id(spec))
    assert "/codes/" in code_id and "/versions/" in code_id
    assert transport.count("code.create_or_update", status=201) == 1 and transport.count("blob.upload") >= 1

    before = len(transport.records)
    second = transport_backend(transport, job)
    assert second.code_id(spec) == code_id
    again: list[Any] = transport.records[before:]
    assert [r.route for r in again] == ["code.get"]

    name, code_version = code_id.split("/codes/")[1].split("/versions/")
    stored = second.ml_client._code.get(name=name, version=code_version)
    assert transport.service.blobs.local_path(str(stored.path)) is not None
