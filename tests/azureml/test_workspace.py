"""Finding the workspace: config.json first, then environment variables, else one line saying what to do."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from rjobs.backends.azureml.workspace import HTTP_RETRIES, find_config, make_ml_client, workspace_settings
from rjobs.core.errors import InputError

pytestmark = pytest.mark.azure_fake

REPO = Path(__file__).resolve().parents[2]
CONFIG = {"subscription_id": "11111111-2222-3333-4444-555555555555", "resource_group": "rg", "workspace_name": "ws"}
ENV = {"AZURE_SUBSCRIPTION_ID": "sub-env", "AZURE_RESOURCE_GROUP": "rg-env", "AZUREML_WORKSPACE_NAME": "ws-env"}


class Credential:
    """Never asked for a token: building an MLClient makes no request."""

    def get_token(self, *scopes: str, **kwargs: object) -> object:
        raise AssertionError("no token should be requested")


@pytest.fixture
def clean(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    for name in ENV:
        monkeypatch.delenv(name, raising=False)
    folder = tmp_path / "work" / "deeper"
    folder.mkdir(parents=True)
    monkeypatch.chdir(folder)
    return folder


def test_config_json_in_a_parent_folder_is_found(clean: Path) -> None:
    config = clean.parent / ".azureml" / "config.json"
    config.parent.mkdir()
    config.write_text(json.dumps(CONFIG))
    assert find_config() == config
    client = make_ml_client(credential=Credential())
    assert (client.subscription_id, client.resource_group_name, client.workspace_name) == tuple(CONFIG.values())


def test_an_unrelated_config_json_is_ignored(clean: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (clean / "config.json").write_text(json.dumps({"theme": "dark"}))
    for name, value in ENV.items():
        monkeypatch.setenv(name, value)
    assert find_config() is None
    assert workspace_settings() == {
        "subscription_id": "sub-env",
        "resource_group": "rg-env",
        "workspace_name": "ws-env",
    }
    client = make_ml_client(credential=Credential())
    assert client.workspace_name == "ws-env"
    with pytest.raises(InputError, match="does not name a workspace"):
        find_config(clean / "config.json")


def test_an_explicit_path_must_exist(clean: Path) -> None:
    with pytest.raises(InputError, match=r"has no Azure ML workspace config\.json"):
        make_ml_client(clean / "nowhere", credential=Credential())


def test_missing_configuration_says_what_and_how(clean: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AZURE_SUBSCRIPTION_ID", "sub")
    with pytest.raises(InputError) as caught:
        make_ml_client(credential=Credential())
    message = str(caught.value)
    assert "AZURE_RESOURCE_GROUP, AZUREML_WORKSPACE_NAME not set" in message
    assert "Download config file" in message and "\n" not in message
    assert "sub" not in message.split("not set")[1]


def test_importing_the_backend_does_not_import_the_sdk() -> None:
    code = (
        "import sys, rjobs.backends.azureml.workspace, rjobs.backends.azureml.backend, rjobs.backends.azureml.jobs;"
        "print(sorted(m for m in ('azure.ai.ml', 'azure.identity') if m in sys.modules))"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"


def test_http_retries_are_the_sdks_and_bounded(clean: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """azure-core's retry policy in every service client the MLClient builds carries our bound, not its default 10."""
    for name, value in ENV.items():
        monkeypatch.setenv(name, value)
    from_env = make_ml_client(credential=Credential())
    (clean / "config.json").write_text(json.dumps(CONFIG))
    from_config = make_ml_client(credential=Credential())
    for client in (from_env, from_config):
        policies = [
            getattr(getattr(getattr(client, attribute), "_config", None), "retry_policy", None)
            for attribute in dir(client)
            if attribute.startswith("_service_client")
        ]
        assert policies and all(policy is not None for policy in policies)
        assert {policy.total_retries for policy in policies} == {HTTP_RETRIES} == {3}
        assert {(policy.backoff_factor, policy.backoff_max) for policy in policies} == {(1.0, 30)}
