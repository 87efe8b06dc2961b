"""`--upload-to` end to end: the flow uploads local data to Azurite, skips it when unchanged, and the Azure
backend's jobs read the uploaded reference instead of a data asset."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from azure.storage.blob import BlobServiceClient

from flows.cli import main
from rjobs.storage.clients import CONNECTION_STRING_ENV

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("prefect_server")]


def blob_etag(connection_string: str, container: str, name: str) -> str:
    with BlobServiceClient.from_connection_string(connection_string) as service:
        return service.get_blob_client(container, name).get_blob_properties().etag


@pytest.mark.skipif(shutil.which("Rscript") is None, reason="needs Rscript")
def test_local_sweep_uploads_data_once_and_skips_it_when_unchanged(
    demo_project: Path, azurite: str, container: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(CONNECTION_STRING_ENV, azurite)
    (demo_project / "grid.yml").write_text("model: [lm]\nseed: [1]\n")
    args = [
        "--job",
        str(demo_project / "job.yml"),
        "--results",
        str(demo_project / "results"),
        "--upload-to",
        f"{container}/demo",
    ]
    assert main([*args, "--run-name", "up1"]) == 0
    etag = blob_etag(azurite, container, "demo/penguins/penguins.csv")
    assert main([*args, "--run-name", "up2"]) == 0
    assert blob_etag(azurite, container, "demo/penguins/penguins.csv") == etag
    secret = azurite.split("AccountKey=")[1].split(";")[0]
    for written in (demo_project / "results").rglob("*"):
        if written.is_file() and written.suffix in (".json", ".csv", ".txt"):
            assert secret not in written.read_text(errors="replace"), written


@pytest.mark.azure_fake
def test_azure_jobs_read_the_uploaded_reference(
    demo_project: Path, azurite: str, container: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from rjobs.testing.fake_mlclient import FakeClock, FakeMLClient

    fake = FakeMLClient(FakeClock(), store=tmp_path / "fake-store", advance_per_call=30.0)
    monkeypatch.setattr("rjobs.backends.azureml.workspace.make_ml_client", lambda *args, **kwargs: fake)
    monkeypatch.setenv(CONNECTION_STRING_ENV, azurite)
    (demo_project / "grid.yml").write_text("model: [lm]\nseed: [1, 2]\n")
    code = main(
        [
            "--job",
            str(demo_project / "job.yml"),
            "--results",
            str(demo_project / "results"),
            "--backend",
            "azureml",
            "--run-name",
            "upaz",
            "--poll-interval",
            "0.05",
            "--upload-to",
            f"{container}/demo",
            "--datastore",
            "workspaceblobstore",
            "--no-mlflow",
        ]
    )
    assert code in (0, 1)
    assert fake.count("data.create_or_update") == 0
    cell_jobs = [name for name in fake.names("jobs.create_or_update") if name and name.startswith("upaz-")]
    assert len(cell_jobs) == 2
    for name in cell_jobs:
        inputs = fake.job_record(name)["rest"]["properties"]["inputs"]
        assert inputs["penguins"]["uri"] == "azureml://datastores/workspaceblobstore/paths/demo/penguins/penguins.csv"
