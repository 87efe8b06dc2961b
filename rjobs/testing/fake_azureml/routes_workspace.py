"""Workspace, discovery and datastore routes: what the SDK reads to find the regional API and the storage account it
uploads to and downloads from (the workspace's blob store for assets, its artifact store for job logs)."""

from __future__ import annotations

import base64
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from rjobs.testing.fake_azureml.http import (
    API_HOST,
    LOCATION,
    STORAGE_ACCOUNT,
    Handler,
    Reply,
    Request,
    RouteSpec,
    error_reply,
    json_reply,
)
from rjobs.testing.fake_azureml.wire import RESOURCE_GROUP, SUBSCRIPTION, WORKSPACE, WORKSPACE_ID

if TYPE_CHECKING:
    from rjobs.testing.fake_azureml.service import FakeAzureMLService

WS = (
    r"/subscriptions/(?P<sub>[^/]+)/resourceGroups/(?P<rg>[^/]+)"
    r"/providers/Microsoft\.MachineLearningServices/workspaces/(?P<ws>[^/]+)"
)
"""A workspace-scoped path; the route checks the names against the fake's one workspace (404 otherwise)."""
WORKSPACE_GUID = "11111111-2222-3333-4444-555555555555"
BLOB_CONTAINER = f"azureml-blobstore-{WORKSPACE_GUID}"
ARTIFACT_CONTAINER = "azureml"
DATASTORES = {"workspaceblobstore": BLOB_CONTAINER, "workspaceartifactstore": ARTIFACT_CONTAINER}
DEFAULT_DATASTORE = "workspaceblobstore"
ACCOUNT_KEY = base64.b64encode(b"fake-account-key-not-a-secret").decode()
SYSTEM_DATA = {"createdAt": "2025-01-01T00:00:00Z", "createdBy": "fake", "createdByType": "User"}


def in_workspace(handler: Handler) -> Handler:
    """The handler, answering 404 as ARM does for a subscription, group or workspace this fake does not hold."""

    def scoped(request: Request) -> Reply:
        params = request.params
        if "sub" in params and params["sub"].lower() != SUBSCRIPTION:
            return error_reply(404, "SubscriptionNotFound", f"The subscription '{params['sub']}' could not be found.")
        if "rg" in params and params["rg"].lower() != RESOURCE_GROUP.lower():
            return error_reply(404, "ResourceGroupNotFound", f"Resource group '{params['rg']}' could not be found.")
        if "ws" in params and params["ws"].lower() != WORKSPACE.lower():
            message = f"The Resource 'Microsoft.MachineLearningServices/workspaces/{params['ws']}' was not found."
            return error_reply(404, "ResourceNotFound", message)
        return handler(request)

    return scoped


def workspace_resource() -> dict[str, Any]:
    return {
        "id": WORKSPACE_ID,
        "name": WORKSPACE,
        "type": "Microsoft.MachineLearningServices/workspaces",
        "location": LOCATION,
        "kind": "Default",
        "identity": {"type": "SystemAssigned", "principalId": WORKSPACE_GUID, "tenantId": WORKSPACE_GUID},
        "sku": {"name": "Basic", "tier": "Basic"},
        "tags": {},
        "systemData": SYSTEM_DATA,
        "properties": {
            "workspaceId": WORKSPACE_GUID,
            "friendlyName": WORKSPACE,
            "provisioningState": "Succeeded",
            "discoveryUrl": f"https://{API_HOST}/discovery",
            "mlFlowTrackingUri": (
                f"azureml://{API_HOST}/mlflow/v1.0/subscriptions/{SUBSCRIPTION}/resourceGroups/{RESOURCE_GROUP}"
                f"/providers/Microsoft.MachineLearningServices/workspaces/{WORKSPACE}"
            ),
            "storageAccount": (
                f"/subscriptions/{SUBSCRIPTION}/resourceGroups/{RESOURCE_GROUP}"
                f"/providers/Microsoft.Storage/storageAccounts/{STORAGE_ACCOUNT}"
            ),
            "containerRegistry": (
                f"/subscriptions/{SUBSCRIPTION}/resourceGroups/{RESOURCE_GROUP}"
                "/providers/Microsoft.ContainerRegistry/registries/fakeacr"
            ),
            "hbiWorkspace": False,
            "publicNetworkAccess": "Enabled",
            "v1LegacyMode": False,
        },
    }


def datastore_resource(name: str) -> dict[str, Any]:
    return {
        "id": f"{WORKSPACE_ID}/datastores/{name}",
        "name": name,
        "type": "Microsoft.MachineLearningServices/workspaces/datastores",
        "systemData": SYSTEM_DATA,
        "properties": {
            "datastoreType": "AzureBlob",
            "accountName": STORAGE_ACCOUNT,
            "containerName": DATASTORES[name],
            "endpoint": "core.windows.net",
            "protocol": "https",
            "serviceDataAccessAuthIdentity": "WorkspaceSystemAssignedIdentity",
            "credentials": {"credentialsType": "AccountKey"},
            "isDefault": name == DEFAULT_DATASTORE,
            "properties": {},
            "tags": {},
        },
    }


class WorkspaceRoutes:
    """The workspace resource, the discovery document and the two datastores every workspace has."""

    def __init__(self, service: FakeAzureMLService) -> None:
        self.service = service

    def routes(self) -> list[RouteSpec]:
        return [
            ("workspaces.get", "arm", "GET", WS, in_workspace(self.get_workspace)),
            ("discovery.get", "api", "GET", r"/discovery", self.discovery),
            ("datastores.list", "arm", "GET", WS + r"/datastores", in_workspace(self.list_datastores)),
            ("datastores.get", "arm", "GET", WS + r"/datastores/(?P<name>[^/]+)", in_workspace(self.get_datastore)),
            (
                "datastores.list_secrets",
                "arm",
                "POST",
                WS + r"/datastores/(?P<name>[^/]+)/listSecrets",
                in_workspace(self.list_secrets),
            ),
        ]

    def get_workspace(self, request: Request) -> Reply:
        """The workspace; its MLflow tracking URI the fake's job-run store when it keeps one."""
        resource = workspace_resource()
        job_runs = self.service.workspace.job_runs
        if job_runs is not None:
            resource["properties"]["mlFlowTrackingUri"] = job_runs.tracking_uri
        return json_reply(200, resource)

    def discovery(self, request: Request) -> Reply:
        base = f"https://{API_HOST}"
        keys = ("api", "catalog", "experimentation", "gallery", "history", "hyperdrive", "labeling", "modelmanagement")
        document = {key: base for key in (*keys, "pipelines")}
        document["studio"] = "https://ml.azure.com"
        return json_reply(200, document)

    def list_datastores(self, request: Request) -> Reply:
        default_only = request.query.get("isDefault", "").lower() == "true"
        names = [DEFAULT_DATASTORE] if default_only else sorted(DATASTORES)
        return json_reply(200, {"value": [datastore_resource(name) for name in names]})

    def get_datastore(self, request: Request) -> Reply:
        return self._known(request, lambda name: json_reply(200, datastore_resource(name)))

    def list_secrets(self, request: Request) -> Reply:
        return self._known(request, lambda _name: json_reply(200, {"secretsType": "AccountKey", "key": ACCOUNT_KEY}))

    @staticmethod
    def _known(request: Request, answer: Callable[[str], Reply]) -> Reply:
        name = request.params["name"]
        if name not in DATASTORES:
            return error_reply(404, "UserError", f"Datastore {name} not found in workspace {WORKSPACE}.")
        return answer(name)
