"""Versioned asset routes (environments, data, codes, models): containers, versions, listings and the code's pending
upload. A PUT of a version that exists answers 200 when the definition is the same (create-or-update, as the service
does) and 409 when it differs; versions are immutable."""

from __future__ import annotations

import copy
import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from rjobs.core.azure_names import ASSET_KINDS, refusal
from rjobs.testing.fake_azureml.http import BLOB_HOST, Handler, Reply, Request, RouteSpec, error_reply, json_reply
from rjobs.testing.fake_azureml.routes_workspace import ARTIFACT_CONTAINER, WORKSPACE_GUID, WS, in_workspace
from rjobs.testing.fake_azureml.wire import arm_id, iso

if TYPE_CHECKING:
    from rjobs.testing.fake_azureml.service import FakeAzureMLService

KINDS = r"(?P<kind>environments|data|codes|models)"
CONTAINER = WS + "/" + KINDS + r"/(?P<name>[^/]+)"
VERSIONS = CONTAINER + r"/versions"
VERSION = VERSIONS + r"/(?P<version>[^/]+)"
MUTABLE = frozenset({"description", "tags", "isArchived", "stage"})
"""What a PUT may change on an existing version; anything else it sends differently is a conflict (versions are
immutable). What it leaves out keeps the stored value, as the fields the service fills in (environmentType, ...)."""
SEQUENCE = "_sequence"
"""Creation order, kept beside the REST body and never answered."""


def sequence(rest: Mapping[str, Any]) -> int:
    """Creation order of a version, also of one the operation-level fake stored (it keeps it in a property)."""
    own = rest.get(SEQUENCE)
    return int(own if own is not None else (rest["properties"].get("properties") or {}).get("fake.sequence", 0))


JOB_OUTPUT = re.compile(r"^azureml://jobs/(?P<job>[^/]+)/outputs/artifacts/paths/(?P<path>.+)$")
SAS = "sv=2021-08-06&sr=c&sp=racwl&sig=fake"
ROUTE_KIND = {"environments": "environments", "data": "data", "codes": "code", "models": "models"}


def defaults(kind: str, properties: dict[str, Any]) -> None:
    """The fields the service fills in when a version is created and answers with afterwards."""
    properties.setdefault("provisioningState", "Succeeded")
    if kind == "environments":
        properties.setdefault("environmentType", "UserCreated")
        properties.setdefault("osType", "Linux")
    if kind == "models" and properties.get("flavors") is None:
        properties["flavors"] = {}


def route_names(verb: str, pattern: str, method: str, handler: Handler) -> list[RouteSpec]:
    """One route per kind, named like the SDK's operation groups (environments.get, data.get, code.get, ...)."""
    routes = []
    for segment, operation in ROUTE_KIND.items():
        specific = pattern.replace(KINDS, f"(?P<kind>{segment})")
        routes.append((f"{operation}.{verb}", "arm", method, specific, in_workspace(handler)))
    return routes


class AssetRoutes:
    """Assets are the workspace's records (FakeMLClient._assets[kind][name][version]), stored as REST bodies."""

    def __init__(self, service: FakeAzureMLService) -> None:
        self.service = service
        self.workspace = service.workspace

    def routes(self) -> list[RouteSpec]:
        return [
            *route_names("create_or_update", VERSION, "PUT", self.put_version),
            *route_names("get", VERSION, "GET", self.get_version),
            *route_names("list", VERSIONS, "GET", self.list_versions),
            *route_names("get_container", CONTAINER, "GET", self.get_container),
            *route_names("start_pending_upload", VERSION + r"/startPendingUpload", "POST", self.pending_upload),
        ]

    def _versions(self, request: Request) -> dict[str, dict[str, Any]]:
        return self.workspace._assets[request.params["kind"]].get(request.params["name"], {})

    @staticmethod
    def answer_version(rest: Mapping[str, Any]) -> dict[str, Any]:
        """The stored version as the service answers it (without the fake's bookkeeping)."""
        return {key: copy.deepcopy(value) for key, value in rest.items() if key != SEQUENCE}

    def put_version(self, request: Request) -> Reply:
        kind, name, version = request.params["kind"], request.params["name"], request.params["version"]
        refused = refusal(ASSET_KINDS[kind.lower()], name)
        if refused:
            return error_reply(400, "UserError", refused)
        body = request.json()
        if not isinstance(body, dict) or not isinstance(body.get("properties"), dict):
            return error_reply(400, "UserError", f"The {kind} version body must be a resource with properties.")
        defaults(kind, body["properties"])
        problem = self.parse(kind, name, version, body) or self.check_model_source(kind, body["properties"])
        if problem:
            return error_reply(400, "UserError", problem)
        workspace = self.workspace
        versions = workspace._assets[kind].setdefault(name, {})
        existing = versions.get(version)
        if existing is not None:
            stored, sent = existing["properties"], body["properties"]
            changed = {key for key, value in sent.items() if value is not None and stored.get(key) != value}
            if changed - MUTABLE:
                fields = ", ".join(sorted(changed - MUTABLE))
                message = f"{kind} {name}:{version} already exists and is immutable ({fields} differ)."
                return error_reply(409, "UserError", message)
            for key in changed:
                stored[key] = sent.get(key)
            workspace._save()
            return json_reply(200, self.answer_version(existing))
        workspace._sequence += 1
        properties = copy.deepcopy(body["properties"])
        rest = {
            "id": arm_id(kind, name, version),
            "name": version,
            "type": f"Microsoft.MachineLearningServices/workspaces/{kind}/versions",
            "properties": properties,
            "systemData": {"createdAt": iso(workspace.clock.now), "createdBy": "fake", "createdByType": "User"},
            SEQUENCE: workspace._sequence,
        }
        versions[version] = rest
        workspace._save()
        return json_reply(201, self.answer_version(rest))

    @staticmethod
    def parse(kind: str, name: str, version: str, body: dict[str, Any]) -> str | None:
        """The SDK's own reading of the body, as the service would refuse what does not parse; None when it does."""
        from azure.ai.ml._restclient.arm_ml_service.models import (
            CodeVersion,
            DataVersionBase,
            EnvironmentVersion,
            ModelVersion,
        )
        from azure.ai.ml.entities import Data, Environment, Model
        from azure.ai.ml.entities._assets import Code

        types: dict[str, tuple[Any, Any]] = {
            "environments": (Environment, EnvironmentVersion),
            "data": (Data, DataVersionBase),
            "codes": (Code, CodeVersion),
            "models": (Model, ModelVersion),
        }
        entity, rest_type = types[kind]
        resource = {**copy.deepcopy(body), "id": arm_id(kind, name, version), "name": version}
        try:
            entity._from_rest_object(rest_type(resource))
        except Exception as exc:  # the service refuses what the SDK cannot read back
            return f"Invalid {kind} version {name}:{version}: {exc}"
        if kind == "environments":
            properties = body["properties"]
            if not properties.get("image") and not (properties.get("build") or {}).get("contextUri"):
                return "An environment needs an image or a build context."
        return None

    def check_model_source(self, kind: str, properties: dict[str, Any]) -> str | None:
        """A model from a job's output must name a Completed job's existing artifact, as the service checks."""
        found = JOB_OUTPUT.match(str(properties.get("modelUri") or "")) if kind == "models" else None
        if found is None:
            return None
        job, relative = found.group("job"), found.group("path").rstrip("/")
        record = self.workspace._jobs.get(job)
        if record is None or self.workspace._state(record) != "Completed":
            return f"Model path {properties['modelUri']}: job {job} is not a Completed job."
        prefix = f"ExperimentRun/dcid.{job}/{relative}"
        blobs = self.service.blobs.list(ARTIFACT_CONTAINER, prefix)
        if not any(blob.name == prefix or blob.name.startswith(prefix + "/") for blob in blobs):
            return f"Model path {properties['modelUri']} does not exist."
        return None

    def get_version(self, request: Request) -> Reply:
        rest = self._versions(request).get(request.params["version"])
        if rest is None:
            kind, name, version = request.params["kind"], request.params["name"], request.params["version"]
            return error_reply(404, "UserError", f"{kind} {name}:{version} not found.")
        return json_reply(200, self.answer_version(rest))

    def list_versions(self, request: Request) -> Reply:
        """Newest first; `hash` (code) filters by content hash, `$top` bounds the page (one page: assets are few)."""
        found = sorted(self._versions(request).values(), key=lambda rest: -sequence(rest))
        wanted_hash = request.query.get("hash")
        if wanted_hash:
            found = [r for r in found if (r["properties"].get("properties") or {}).get("hash_sha256") == wanted_hash]
        top = request.query.get("$top")
        if top:
            found = found[: int(top)]
        return json_reply(200, {"value": [self.answer_version(rest) for rest in found]})

    def get_container(self, request: Request) -> Reply:
        """The container with its latest version (what `label="latest"` reads) and the next free number."""
        kind, name = request.params["kind"], request.params["name"]
        versions = self._versions(request)
        if not versions:
            return error_reply(404, "UserError", f"{kind} container {name} not found.")
        latest = max(versions.values(), key=sequence)
        numbers = [int(v) for v in versions if v.isdigit()]
        body = {
            "id": arm_id(kind, name),
            "name": name,
            "type": f"Microsoft.MachineLearningServices/workspaces/{kind}",
            "properties": {
                "latestVersion": latest["name"],
                "nextVersion": str(max(numbers, default=0) + 1),
                "isArchived": False,
                "properties": {},
                "tags": {},
            },
            "systemData": latest["systemData"],
        }
        return json_reply(200, body)

    def pending_upload(self, request: Request) -> Reply:
        """A fresh temporary container and a SAS URL for it, as the service hands out for a code upload."""
        workspace = self.workspace
        workspace._sequence += 1
        container_url = f"https://{BLOB_HOST}/{WORKSPACE_GUID}-pending-{workspace._sequence:06d}"
        body = {
            "pendingUploadId": f"pending-{workspace._sequence:06d}",
            "pendingUploadType": "TemporaryBlobReference",
            "blobReferenceForConsumption": {
                "blobUri": container_url,
                "storageAccountArmId": None,
                "credential": {"credentialType": "SAS", "sasUri": f"{container_url}?{SAS}"},
            },
        }
        workspace._save()
        return json_reply(200, body)
