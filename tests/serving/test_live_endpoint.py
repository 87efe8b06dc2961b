"""A real release to a real workspace: image built by ACR Tasks, endpoint and deployment created, smoke request, traffic
moved, the endpoint answering as R does, then the endpoint deleted. Costs a VM for some minutes, so it needs
RJOBS_LIVE_ENDPOINT (the endpoint name to use) as well as a workspace; skipped otherwise."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from rjobs.core.errors import InputError
from rjobs.serving.azure_release import release, smoke_rows_from_csv
from rjobs.serving.context import write_context
from rjobs.serving.model_source import ServedModel
from tests.serving.support import DATA, REPO, offline_predictions, penguin_rows, train_model


def _configured() -> bool:
    from rjobs.backends.azureml.workspace import workspace_settings

    try:
        workspace_settings()
    except InputError:
        return False
    return bool(os.environ.get("RJOBS_LIVE_ENDPOINT"))


pytestmark = [
    pytest.mark.azure_live,
    pytest.mark.r,
    pytest.mark.skipif(not _configured(), reason="needs an Azure ML workspace and RJOBS_LIVE_ENDPOINT"),
]


def test_release_to_a_real_endpoint(tmp_path: Path) -> None:
    from rjobs.backends.azureml.workspace import make_ml_client

    endpoint = os.environ["RJOBS_LIVE_ENDPOINT"]
    model = train_model(tmp_path / "outputs", "ranger")
    context = write_context(tmp_path / "ctx", ServedModel(model, "live", "1"), REPO / "docker-context" / "Dockerfile")
    ml_client = make_ml_client()
    try:
        outcome = release(ml_client, context, endpoint, smoke_rows_from_csv(DATA), report=print)
        rows = penguin_rows()[:20]
        request_file = tmp_path / "rows.json"
        request_file.write_text(json.dumps(rows))
        answer = json.loads(ml_client.online_endpoints.invoke(endpoint_name=endpoint, request_file=str(request_file)))
        expected = offline_predictions(model, penguin_rows(), tmp_path / "offline")[:20]
        assert answer["predictions"] == pytest.approx(expected, rel=1e-12)  # the image's R and ranger may differ
        assert ml_client.online_endpoints.get(endpoint).traffic == {outcome.deployment: 100}
    finally:
        ml_client.online_endpoints.begin_delete(name=endpoint).result()
