"""Find the Azure ML workspace (config.json or environment variables) and build an MLClient for it.

HTTP-level retries are azure-core's, inside the SDK, and this is where they are bounded: SDK_RETRY gives every request
at most HTTP_RETRIES retries on 408/429/5xx and connection errors (at once, then after 2 and 4 s, or the service's
Retry-After), so one SDK call costs at most 1 + HTTP_RETRIES = 4 requests instead of azure-core's default of 11.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rjobs.core.errors import InputError

if TYPE_CHECKING:
    from azure.ai.ml import MLClient

CONFIG_NAMES = ("config.json", ".azureml/config.json")
ENV_VARS = ("AZURE_SUBSCRIPTION_ID", "AZURE_RESOURCE_GROUP", "AZUREML_WORKSPACE_NAME")
CONFIG_KEYS = ("subscription_id", "resource_group", "workspace_name")
HTTP_RETRIES = 3
SDK_RETRY: dict[str, Any] = {"retry_total": HTTP_RETRIES, "retry_backoff_factor": 1.0, "retry_backoff_max": 30}
"""azure-core RetryPolicy options, passed through MLClient's keyword arguments to every service client it builds."""
FIX = (
    "download config.json from the Azure ML studio (workspace menu > Download config file) into this folder "
    "or .azureml/, or set AZURE_SUBSCRIPTION_ID, AZURE_RESOURCE_GROUP and AZUREML_WORKSPACE_NAME"
)


def _is_workspace_config(path: Path) -> bool:
    """Only a config.json naming a workspace counts: other tools write config.json files too."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(data, Mapping) and all(data.get(key) for key in CONFIG_KEYS)


def find_config(config_path: str | Path | None = None, start: Path | None = None) -> Path | None:
    """The workspace config file: the given file or folder, else the nearest one from start upwards."""
    if config_path is not None:
        path = Path(config_path)
        candidates = [path] if path.is_file() else [path / name for name in CONFIG_NAMES]
        for candidate in candidates:
            if candidate.is_file():
                if not _is_workspace_config(candidate):
                    raise InputError(candidate, None, f"does not name a workspace ({', '.join(CONFIG_KEYS)})", FIX)
                return candidate
        raise InputError(path, None, "has no Azure ML workspace config.json", FIX)
    folder = (start or Path.cwd()).resolve()
    for directory in (folder, *folder.parents):
        for name in CONFIG_NAMES:
            candidate = directory / name
            if candidate.is_file() and _is_workspace_config(candidate):
                return candidate
    return None


def workspace_settings(
    config_path: str | Path | None = None, environ: Mapping[str, str] | None = None
) -> dict[str, Any]:
    """Where the workspace is (never credentials): from a config file, else environment variables."""
    found = find_config(config_path)
    if found is not None:
        data = json.loads(found.read_text(encoding="utf-8"))
        return {"config": str(found), **{key: data[key] for key in CONFIG_KEYS}}
    environ = os.environ if environ is None else environ
    missing = [name for name in ENV_VARS if not environ.get(name)]
    if missing:
        raise InputError(None, "Azure ML workspace", f"no config.json found and {', '.join(missing)} not set", FIX)
    return dict(zip(CONFIG_KEYS, (environ[name] for name in ENV_VARS), strict=True))


def make_ml_client(config_path: str | Path | None = None, credential: Any = None) -> MLClient:
    """MLClient for the configured workspace with DefaultAzureCredential and SDK_RETRY; imports azure lazily for
    start-up time."""
    settings = workspace_settings(config_path)
    from azure.ai.ml import MLClient

    if credential is None:
        from azure.identity import DefaultAzureCredential

        credential = DefaultAzureCredential()
    if "config" in settings:
        return MLClient.from_config(credential, path=settings["config"], **SDK_RETRY)
    return MLClient(
        credential,
        subscription_id=settings["subscription_id"],
        resource_group_name=settings["resource_group"],
        workspace_name=settings["workspace_name"],
        **SDK_RETRY,
    )


def workspace_tracking_uri(ml_client: Any) -> str:
    """The workspace's own MLflow tracking URI (one workspaces.get)."""
    return str(ml_client.workspaces.get(ml_client.workspace_name).mlflow_tracking_uri)
