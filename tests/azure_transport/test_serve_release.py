"""`python -m flows.deploy --backend azureml` over the fake service, with the image's own serve.R answering: the build
context is uploaded and built, and the fake endpoint's "container" is that uploaded context's serve.R run under real R
(no Docker here), so the smoke request and later requests through the endpoint are real HTTP to real R."""

from __future__ import annotations

import io
import json
import shutil
import tarfile
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from flows.deploy import main
from rjobs.serving.image_build import AcrTaskBuilder, workspace_registry
from rjobs.serving.local_server import LocalServer
from rjobs.testing.fake_azureml.routes_online import Container
from rjobs.testing.fake_azureml.routes_registry import LOGIN_SERVER, SOURCES
from rjobs.testing.fake_azureml.transport import FakeAzureMLTransport, FakeCredential
from tests.results.conftest import Cell, build_ledger
from tests.serving.support import DATA, REPO, offline_predictions, penguin_rows, train_model

pytestmark = pytest.mark.r


@pytest.fixture
def running_images(transport: FakeAzureMLTransport, tmp_path: Path) -> Iterator[list[LocalServer]]:
    """Each pushed image, on its first request, runs as its build context's serve.R under local R."""
    servers: list[LocalServer] = []

    def start(image: str) -> Container:
        run = next(r for r in transport.service.registry.runs.values() if image in r["images"])
        blob = transport.service.blobs.get(SOURCES, run["request"]["sourceLocation"])
        assert blob is not None
        folder = tmp_path / "containers" / image.rsplit(":", 1)[-1]
        with blob.open() as handle, tarfile.open(fileobj=io.BytesIO(handle.read()), mode="r:gz") as tar:
            tar.extractall(folder, filter="data")
        server = LocalServer(
            folder / "serve.R", folder / "model.rds", folder / "serve.log", sleep=lambda s: threading.Event().wait(s)
        )
        servers.append(server.__enter__())

        def answer(body: bytes, headers: dict[str, str]) -> tuple[int, bytes]:
            request = urllib.request.Request(server.url + "/score", data=body, method="POST")
            try:
                with urllib.request.urlopen(request, timeout=90) as response:
                    return response.status, response.read()
            except urllib.error.HTTPError as exc:
                return exc.code, exc.read()

        return answer

    transport.service.online.container_factory = start
    yield servers
    for server in servers:
        server.stop()


def test_deploy_builds_releases_and_the_endpoint_answers_as_r_does(
    ml_client: Any,
    transport: FakeAzureMLTransport,
    running_images: list[LocalServer],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    results = tmp_path / "results"
    ledger, _ = build_ledger(results, "sweep", [Cell("rf1", {"model": "ranger"}, metrics={"rmse": 290.0})])
    shutil.copyfile(train_model(tmp_path / "rf", "ranger"), ledger.outputs_dir("rf1") / "model.rds")
    monkeypatch.setattr("rjobs.backends.azureml.workspace.make_ml_client", lambda *a, **k: ml_client)
    monkeypatch.setattr(
        "rjobs.serving.azure_release.make_builder",
        lambda client: AcrTaskBuilder(FakeCredential(), workspace_registry(client), transport=transport),
    )
    argv = ["--run", "sweep", "--endpoint", "penguins", "--backend", "azureml", "--results", str(results),
            "--smoke-data", str(DATA), "--docker-context", str(REPO / "docker-context")]  # fmt: skip
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert f"built {LOGIN_SERVER}/rjobs-serve:" in out
    assert "fake-primary-key" not in out  # the key is fetched for the smoke request, never printed
    [(endpoint, deployment, status)] = transport.service.online.scored
    assert (endpoint, status) == ("penguins", 200) and deployment.startswith("d-")
    assert ml_client.online_endpoints.get("penguins").traffic == {deployment: 100}

    rows = penguin_rows()[:40]
    request_file = tmp_path / "rows.json"
    request_file.write_text(json.dumps(rows))
    answer = json.loads(ml_client.online_endpoints.invoke(endpoint_name="penguins", request_file=str(request_file)))
    model = ledger.outputs_dir("rf1") / "model.rds"
    assert answer["predictions"] == offline_predictions(model, penguin_rows(), tmp_path / "offline")[:40]

    assert main(argv) == 0  # the same model again: no build, the same deployment, smoke-tested again
    assert "already runs" in capsys.readouterr().out
    assert len(transport.service.registry.runs) == 1 and len(running_images) == 1
