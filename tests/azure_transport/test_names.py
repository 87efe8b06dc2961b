"""Defect 3: names are checked by the service's rules (rjobs.core.azure_names), before anything runs, and the fake
service refuses exactly what those rules refuse, as the service does (400 UserError)."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
import yaml
from azure.core.exceptions import HttpResponseError
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from flows.train import main as train_main
from rjobs.core.azure_names import RULES, valid
from rjobs.testing.fake_azureml.http import ARM_HOST
from rjobs.testing.fake_azureml.transport import FakeAzureMLTransport, fake_ml_client
from rjobs.testing.fake_azureml.wire import WORKSPACE_ID
from tests.reliability.support import write_project

WS = f"https://{ARM_HOST}{WORKSPACE_ID}"
REFUSED = "is invalid: it must match"


def put_url(kind: str, name: str) -> tuple[str, dict[str, Any]]:
    """Where and what the SDK PUTs to create a `kind` named `name` (the body is enough to reach the name check)."""
    quoted = quote(name, safe="")
    asset = {"model": "models", "environment": "environments", "data": "data", "code": "codes"}
    if kind in asset:
        return f"{WS}/{asset[kind]}/{quoted}/versions/1", {"properties": {}}
    if kind == "job":
        return f"{WS}/jobs/{quoted}", {"properties": {"jobType": "Command"}}
    if kind == "experiment":
        return f"{WS}/jobs/a-job", {"properties": {"jobType": "Command", "experimentName": name}}
    if kind == "online_endpoint":
        return f"{WS}/onlineEndpoints/{quoted}", {"properties": {}}
    return f"{WS}/onlineEndpoints/ep/deployments/{quoted}", {"properties": {}}


def refused_by_the_fake(transport: FakeAzureMLTransport, kind: str, name: str) -> bool:
    url, body = put_url(kind, name)
    reply = transport.session.put(f"{url}?api-version=2023-04-01-preview", json=body)
    return reply.status_code == 400 and REFUSED in reply.text


NAMES = st.one_of(
    st.text(min_size=1, max_size=300),
    st.from_regex(r"[a-zA-Z0-9][a-zA-Z0-9_.\- -]{0,40}", fullmatch=True),
    st.from_regex(r"[a-zA-Z0-9][a-zA-Z0-9\-_]{250,260}", fullmatch=True),
).filter(lambda name: name not in (".", ".."))  # dot segments are removed from a URL path by urllib3, as anywhere


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(kind=st.sampled_from(sorted(RULES)), name=NAMES)
def test_the_fake_refuses_exactly_what_our_check_refuses(transport: FakeAzureMLTransport, kind: str, name: str) -> None:
    assert refused_by_the_fake(transport, kind, name) is (not valid(kind, name))


@pytest.mark.parametrize(("name", "accepted"), [("my-model", True), ("my.model", False), ("my model", False)])
def test_the_real_sdk_meets_the_rule_for_a_model(ml_client: Any, tmp_path: Path, name: str, accepted: bool) -> None:
    from azure.ai.ml.entities import Model

    (tmp_path / "model.rds").write_bytes(b"model")
    model = Model(name=name, version="1", path=str(tmp_path / "model.rds"))
    if accepted:
        assert ml_client.models.create_or_update(model).name == name
    else:
        with pytest.raises(HttpResponseError, match=REFUSED):
            ml_client.models.create_or_update(model)


@pytest.fixture
def project(tmp_path: Path) -> Path:
    return write_project(tmp_path / "project", azure=True, grid={"seed": [1, 2]})


def with_experiment(job: Path, experiment: str) -> Path:
    raw = yaml.safe_load(job.read_text(encoding="utf-8"))
    raw["experiment_name"] = experiment
    job.write_text(yaml.safe_dump(raw), encoding="utf-8")
    return job


@pytest.mark.parametrize(
    ("flags", "experiment", "message"),
    [
        (["--select", "rmse:min", "--register-model", "penguins.best"], None, "--register-model: 'penguins.best'"),
        (["--run-name", "nightly\n"], None, "--run-name: nightly"),
        ([], "penguins v2", "job.yml: experiment_name: 'penguins v2' is not a valid experiment name"),
    ],
)
def test_a_bad_name_exits_2_before_any_request(
    transport: FakeAzureMLTransport,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    project: Path,
    tmp_path: Path,
    flags: list[str],
    experiment: str | None,
    message: str,
) -> None:
    """The CLI with the Azure backend on the fake: a bad name costs no request, and the error says which and why."""
    from rjobs.backends.azureml import workspace

    monkeypatch.setattr(workspace, "make_ml_client", lambda *_a, **_k: fake_ml_client(transport, show_progress=False))
    job = with_experiment(project, experiment) if experiment else project
    argv = ["--job", str(job), "--backend", "azureml", "--results", str(tmp_path / "results"), "--no-mlflow"]
    assert train_main([*argv, "--dry-run", *flags]) == 2
    assert message in capsys.readouterr().err
    assert transport.records == []


def test_good_names_pass_the_same_dry_run(
    transport: FakeAzureMLTransport, monkeypatch: pytest.MonkeyPatch, project: Path, tmp_path: Path
) -> None:
    """The control for the test above: the same command line with valid names is accepted."""
    from rjobs.backends.azureml import workspace

    monkeypatch.setattr(workspace, "make_ml_client", lambda *_a, **_k: fake_ml_client(transport, show_progress=False))
    argv = ["--job", str(project), "--backend", "azureml", "--results", str(tmp_path / "results"), "--no-mlflow"]
    flags = ["--select", "rmse:min", "--register-model", "penguins-best", "--run-name", "nightly"]
    assert train_main([*argv, "--dry-run", *flags]) == 0
