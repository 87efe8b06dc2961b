"""Versioned assets (data, environments, models, code): stored as REST dicts, uploads copied into the fake's store,
and the operation groups client.data, .environments, .models and .code (MLClient._code)."""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from azure.ai.ml._restclient.arm_ml_service.models import (
    CodeVersion,
    DataVersionBase,
    EnvironmentVersion,
    ModelVersion,
)
from azure.ai.ml.entities import Data, Environment, Model
from azure.ai.ml.entities._assets import Code

from rjobs.testing.fake_azureml.ops import Ops
from rjobs.testing.fake_azureml.wire import arm_id, http_error

if TYPE_CHECKING:
    from rjobs.testing.fake_azureml.client import FakeMLClient

ENTITY_TYPES: Mapping[str, Any] = {"data": Data, "environments": Environment, "models": Model, "codes": Code}

# -- the asset store, on the client's records (callers hold the client's lock) ---------------------------------------


def next_version(client: FakeMLClient, kind: str, name: str) -> str:
    versions = [v for v in client._assets[kind].get(name, {}) if v.isdigit()]
    return str(max((int(v) for v in versions), default=0) + 1)


def store_asset(client: FakeMLClient, kind: str, entity: Any, rest_type: type) -> Any:
    rest = entity._to_rest_object().as_dict()
    rest["id"] = arm_id(kind, entity.name, entity.version)
    rest["name"] = entity.version
    client._sequence += 1
    rest["properties"].setdefault("properties", {})
    rest["properties"]["properties"]["fake.sequence"] = str(client._sequence)
    if kind == "models":
        rest["properties"].setdefault("flavors", {})
    client._assets[kind].setdefault(entity.name, {})[entity.version] = rest
    client._save()
    return asset_entity(kind, rest, rest_type)


def asset_entity(kind: str, rest: Mapping[str, Any], rest_type: type) -> Any:
    """A fresh SDK entity from the stored REST dict, as the SDK would build it from the service's answer."""
    return ENTITY_TYPES[kind]._from_rest_object(rest_type(json.loads(json.dumps(rest))))


def upload(client: FakeMLClient, kind: str, name: str, version: str, source: Path) -> Path:
    """The datastore upload, as a copy into the fake's store; returns where the asset now lives."""
    target = client.store / kind / name / version
    if target.exists():
        shutil.rmtree(target)
    target.mkdir(parents=True)
    if source.is_dir():
        shutil.copytree(source, target / source.name, symlinks=True)
    else:
        shutil.copy2(source, target / source.name)
    return target / source.name


def get_asset(
    client: FakeMLClient, kind: str, rest_type: type, name: str, version: str | None, label: str | None
) -> Any:
    versions = client._assets[kind].get(name, {})
    if version is None and label is None:
        raise ValueError("give a version or a label")
    if label is not None:
        if label != "latest" or not versions:
            raise http_error(404, f"{kind} {name}@{label} not found")
        latest = max(versions.values(), key=lambda r: int(r["properties"]["properties"]["fake.sequence"]))
        return asset_entity(kind, latest, rest_type)
    if str(version) not in versions:
        raise http_error(404, f"{kind} {name}:{version} not found")
    return asset_entity(kind, versions[str(version)], rest_type)


def list_assets(client: FakeMLClient, kind: str, rest_type: type, name: str | None) -> list[Any]:
    names = [name] if name else sorted(client._assets[kind])
    return [asset_entity(kind, rest, rest_type) for n in names for rest in client._assets[kind].get(n, {}).values()]


# -- the operation groups ----------------------------------------------------------------------------------------


class Environments(Ops):
    def create_or_update(self, environment: Environment) -> Environment:
        client = self._client
        client._request("environments.create_or_update", environment.name, version=environment.version)
        version = str(environment.version or next_version(client, "environments", environment.name))
        existing = client._assets["environments"].get(environment.name, {}).get(version)
        if existing is not None:
            raise http_error(409, f"environment {environment.name}:{version} exists and is immutable")
        if environment.build is not None and environment.build.path:
            context = Path(environment.build.path)
            if not context.is_absolute():
                context = Path(environment.base_path or ".") / context
            if not (context / (environment.build.dockerfile_path or "Dockerfile")).is_file():
                raise http_error(400, f"build context {context} has no Dockerfile")
            environment.build.path = str(upload(client, "environments", environment.name, version, context))
        environment.version = version
        return store_asset(client, "environments", environment, EnvironmentVersion)

    def get(self, name: str, version: str | None = None, label: str | None = None) -> Environment:
        self._client._request("environments.get", name, version=version, label=label)
        return get_asset(self._client, "environments", EnvironmentVersion, name, version, label)

    def list(self, name: str | None = None, **kwargs: Any) -> Iterable[Environment]:
        self._client._request("environments.list", name)
        return list_assets(self._client, "environments", EnvironmentVersion, name)


class DataOps(Ops):
    def create_or_update(self, data: Data) -> Data:
        client = self._client
        client._request("data.create_or_update", data.name, version=data.version)
        version = str(data.version or next_version(client, "data", data.name))
        if version in client._assets["data"].get(data.name, {}):
            raise http_error(409, f"data {data.name}:{version} exists and is immutable")
        path = Path(str(data.path))
        if not str(data.path).startswith(("azureml:", "https:", "http:", "abfss:", "wasbs:")):
            if not path.exists():
                raise http_error(400, f"data path {path} does not exist")
            data.path = str(upload(client, "data", data.name, version, path))
        data.version = version
        return store_asset(client, "data", data, DataVersionBase)

    def get(self, name: str, version: str | None = None, label: str | None = None) -> Data:
        self._client._request("data.get", name, version=version, label=label)
        return get_asset(self._client, "data", DataVersionBase, name, version, label)


class Models(Ops):
    def create_or_update(self, model: Model) -> Model:
        """A model from a job's output must point at a Completed job's existing artifact, as the service checks."""
        client = self._client
        client._request("models.create_or_update", model.name, version=model.version, path=str(model.path))
        version = str(model.version or next_version(client, "models", model.name))
        if version in client._assets["models"].get(model.name, {}):
            raise http_error(409, f"model {model.name}:{version} exists")
        path = str(model.path)
        job_uri = re.match(r"^azureml://jobs/([^/]+)/outputs/artifacts/paths/(.+)$", path)
        if job_uri:
            job, relative = job_uri.groups()
            if job not in client._jobs or client._state(client._jobs[job]) != "Completed":
                raise http_error(400, f"model path {path}: job {job} is not a Completed job")
            scripted = client._jobs[job].get("artifacts") or {}
            exists = any(n == relative or n.startswith(relative.rstrip("/") + "/") for n in scripted)
            if not exists and not (client._artifact_dir(job) / relative).exists():
                raise http_error(400, f"model path {path} does not exist")
        elif not path.startswith(("azureml:", "https:", "runs:")):
            if not Path(path).exists():
                raise http_error(400, f"model path {path} does not exist")
            model.path = str(upload(client, "models", model.name, version, Path(path)))
        model.version = version
        return store_asset(client, "models", model, ModelVersion)

    def get(self, name: str, version: str | None = None, label: str | None = None) -> Model:
        self._client._request("models.get", name, version=version, label=label)
        return get_asset(self._client, "models", ModelVersion, name, version, label)

    def list(self, name: str | None = None, **kwargs: Any) -> Iterable[Model]:
        self._client._request("models.list", name)
        return list_assets(self._client, "models", ModelVersion, name)


class Codes(Ops):
    """MLClient._code: the code asset operations jobs.create_or_update uses to upload `code:`."""

    def create_or_update(self, code: Code) -> Code:
        self._client._request("code.create_or_update", code.name, version=code.version)
        return self._register(code)

    def _register(self, code: Code) -> Code:
        client = self._client
        with client.lock:
            version = str(code.version or next_version(client, "codes", code.name))
            existing = client._assets["codes"].get(code.name, {}).get(version)
            if existing is not None:
                return asset_entity("codes", existing, CodeVersion)
            source = Path(str(code.path))
            if not source.is_dir() or not any(source.iterdir()):
                raise http_error(400, f"code path {source} is missing or empty")
            code.path = str(upload(client, "codes", code.name, version, source))
            code.version = version
            return store_asset(client, "codes", code, CodeVersion)

    def get(self, name: str, version: str) -> Code:
        self._client._request("code.get", name, version=version)
        return get_asset(self._client, "codes", CodeVersion, name, version, None)
