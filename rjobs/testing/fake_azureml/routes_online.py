"""Managed online endpoints and deployments, and the endpoints' scoring host.

ARM: endpoints and deployments (PUT answers provisioningState Succeeded at once, or Failed when the deployment's image
was never pushed to the registry), listKeys / token by auth mode, traffic checked against the deployments that exist,
a deployment with traffic refused deletion. Scoring (`https://<endpoint>.<region>.inference.ml.azure.com/score`): the
key or token checked, the request routed by the azureml-model-deployment header or by traffic, and answered by the
container a test attached to the deployment's image (`OnlineState.containers`), since no container runs here.
"""

from __future__ import annotations

import copy
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from rjobs.core.azure_names import refusal
from rjobs.testing.fake_azureml.http import LOCATION, Reply, Request, RouteSpec, error_reply, json_reply
from rjobs.testing.fake_azureml.routes_workspace import SYSTEM_DATA, WS, in_workspace
from rjobs.testing.fake_azureml.wire import WORKSPACE_ID

if TYPE_CHECKING:
    from rjobs.testing.fake_azureml.service import FakeAzureMLService

ENDPOINT = WS + r"/onlineEndpoints/(?P<endpoint>[^/]+)"
DEPLOYMENTS = ENDPOINT + r"/deployments"
DEPLOYMENT = DEPLOYMENTS + r"/(?P<deployment>[^/]+)"
INFERENCE_SUFFIX = f".{LOCATION}.inference.ml.azure.com"
ONLINE_SYSTEM_DATA = {**SYSTEM_DATA, "lastModifiedAt": SYSTEM_DATA["createdAt"], "lastModifiedBy": "fake"}
"""The SDK's OnlineEndpoint reads lastModifiedAt, which the service always sends for online resources."""
PRIMARY_KEY, SECONDARY_KEY, TOKEN = "fake-primary-key", "fake-secondary-key", "fake-aml-token"

Container = Callable[[bytes, dict[str, str]], tuple[int, bytes]]
"""What answers a scoring request for an image: (body, headers) -> (status, body)."""


@dataclass
class OnlineState:
    """The workspace's endpoints and deployments (REST bodies), the images pushed, and the containers tests attach."""

    endpoints: dict[str, dict[str, Any]] = field(default_factory=dict)
    deployments: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)
    images: set[str] = field(default_factory=set)
    containers: dict[str, Container] = field(default_factory=dict)
    container_factory: Callable[[str], Container] | None = None
    """Starts the container of an image on its first scoring request (a test runs the image's serve.R under R)."""
    scored: list[tuple[str, str, int]] = field(default_factory=list)
    """(endpoint, deployment, status) of every scoring request, in order."""
    lock: threading.RLock = field(default_factory=threading.RLock)


def scoring_host(endpoint: str) -> str:
    return f"{endpoint}{INFERENCE_SUFFIX}"


def _parse(kind: str, body: dict[str, Any]) -> str | None:
    """The SDK's own reading of the body, as the service refuses what does not parse; None when it does."""
    from azure.ai.ml._restclient.arm_ml_service import models
    from azure.ai.ml.entities import OnlineDeployment, OnlineEndpoint

    try:
        if kind == "endpoint":
            OnlineEndpoint._from_rest_object(models.OnlineEndpoint(copy.deepcopy(body)))
        else:
            OnlineDeployment._from_rest_object(models.OnlineDeployment(copy.deepcopy(body)))
    except Exception as exc:  # the service refuses what the SDK cannot read back
        return f"Invalid online {kind}: {exc}"
    return None


class OnlineRoutes:
    def __init__(self, service: FakeAzureMLService) -> None:
        self.service = service
        self.state: OnlineState = service.online

    def routes(self) -> list[RouteSpec]:
        w = in_workspace
        return [
            ("online_endpoints.create_or_update", "arm", "PUT", ENDPOINT, w(self.put_endpoint)),
            ("online_endpoints.get", "arm", "GET", ENDPOINT, w(self.get_endpoint)),
            ("online_endpoints.list_keys", "arm", "POST", ENDPOINT + r"/listKeys", w(self.list_keys)),
            ("online_endpoints.get_token", "arm", "POST", ENDPOINT + r"/token", w(self.get_token)),
            ("online_deployments.create_or_update", "arm", "PUT", DEPLOYMENT, w(self.put_deployment)),
            ("online_deployments.get", "arm", "GET", DEPLOYMENT, w(self.get_deployment)),
            ("online_deployments.list", "arm", "GET", DEPLOYMENTS, w(self.list_deployments)),
            ("online_deployments.delete", "arm", "DELETE", DEPLOYMENT, w(self.delete_deployment)),
            ("online_endpoints.score", "inference", "POST", r"/score", self.score),
        ]

    # -- endpoints ------------------------------------------------------------------------------------------------

    def put_endpoint(self, request: Request) -> Reply:
        name, body = request.params["endpoint"], request.json()
        if refusal("online_endpoint", name):
            return error_reply(400, "UserError", str(refusal("online_endpoint", name)))
        if not isinstance(body, dict) or not isinstance(body.get("properties"), dict):
            return error_reply(400, "UserError", "The online endpoint body must be a resource with properties.")
        with self.state.lock:
            deployments = self.state.deployments.get(name, {})
            traffic = {k: int(v) for k, v in (body["properties"].get("traffic") or {}).items()}
            unknown = sorted(set(traffic) - set(deployments))
            if unknown:
                return error_reply(400, "BadArgument", f"Traffic names deployment(s) that do not exist: {unknown}.")
            if traffic and sum(traffic.values()) != 100:
                return error_reply(400, "BadArgument", f"Traffic must add up to 100, got {sum(traffic.values())}.")
            existing = self.state.endpoints.get(name)
            properties = copy.deepcopy(body["properties"])
            if existing is not None and properties.get("authMode") != existing["properties"]["authMode"]:
                return error_reply(400, "BadArgument", "The auth mode of an endpoint cannot be changed.")
            properties.update(
                provisioningState="Succeeded",
                scoringUri=f"https://{scoring_host(name)}/score",
                swaggerUri=f"https://{scoring_host(name)}/swagger.json",
                traffic=traffic,
            )
            rest = {
                "id": f"{WORKSPACE_ID}/onlineEndpoints/{name}",
                "name": name,
                "type": "Microsoft.MachineLearningServices/workspaces/onlineEndpoints",
                "location": body.get("location") or LOCATION,
                "identity": body.get("identity") or {"type": "SystemAssigned"},
                "tags": body.get("tags") or {},
                "systemData": ONLINE_SYSTEM_DATA,
                "properties": properties,
            }
            problem = _parse("endpoint", rest)
            if problem:
                return error_reply(400, "UserError", problem)
            self.state.endpoints[name] = rest
            self.state.deployments.setdefault(name, {})
            return json_reply(200 if existing else 201, copy.deepcopy(rest))

    def get_endpoint(self, request: Request) -> Reply:
        with self.state.lock:
            rest = self.state.endpoints.get(request.params["endpoint"])
            if rest is None:
                return error_reply(404, "ResourceNotFound", f"Online endpoint {request.params['endpoint']} not found.")
            return json_reply(200, copy.deepcopy(rest))

    def _auth(self, request: Request, mode: str) -> Reply | None:
        rest = self.state.endpoints.get(request.params["endpoint"])
        if rest is None:
            return error_reply(404, "ResourceNotFound", f"Online endpoint {request.params['endpoint']} not found.")
        if str(rest["properties"].get("authMode", "")).lower() != mode:
            return error_reply(400, "BadArgument", f"The endpoint does not use {mode} auth.")
        return None

    def list_keys(self, request: Request) -> Reply:
        with self.state.lock:
            return self._auth(request, "key") or json_reply(
                200, {"primaryKey": PRIMARY_KEY, "secondaryKey": SECONDARY_KEY}
            )

    def get_token(self, request: Request) -> Reply:
        now = int(self.service.workspace.clock.now)
        token = {"accessToken": TOKEN, "tokenType": "Bearer", "expiryTimeUtc": now + 3600, "refreshAfterTimeUtc": now}
        with self.state.lock:
            return self._auth(request, "amltoken") or json_reply(200, token)

    # -- deployments ----------------------------------------------------------------------------------------------

    def image_of(self, properties: dict[str, Any]) -> str | None:
        """The image of the deployment's environment asset, as the service resolves it."""
        environment_id = str(properties.get("environmentId") or "")
        parts = environment_id.split("/environments/")
        if len(parts) != 2 or "/versions/" not in parts[1]:
            return None
        name, version = parts[1].split("/versions/")
        rest = self.service.workspace._assets["environments"].get(name, {}).get(version)
        return None if rest is None else rest["properties"].get("image")

    def put_deployment(self, request: Request) -> Reply:
        endpoint, name, body = request.params["endpoint"], request.params["deployment"], request.json()
        if refusal("online_deployment", name):
            return error_reply(400, "UserError", str(refusal("online_deployment", name)))
        with self.state.lock:
            if endpoint not in self.state.endpoints:
                return error_reply(404, "ResourceNotFound", f"Online endpoint {endpoint} not found.")
            if not isinstance(body, dict) or not isinstance(body.get("properties"), dict):
                return error_reply(400, "UserError", "The online deployment body must be a resource with properties.")
            properties = copy.deepcopy(body["properties"])
            image = self.image_of(properties)
            if image is None:
                return error_reply(400, "BadArgument", f"Environment {properties.get('environmentId')} not found.")
            pulled = image in self.state.images
            properties.setdefault("scaleSettings", {"scaleType": "Default"})  # what the service fills in
            properties["provisioningState"] = "Succeeded" if pulled else "Failed"
            rest = {
                "id": f"{WORKSPACE_ID}/onlineEndpoints/{endpoint}/deployments/{name}",
                "name": name,
                "type": "Microsoft.MachineLearningServices/workspaces/onlineEndpoints/deployments",
                "location": body.get("location") or LOCATION,
                "kind": body.get("kind") or "Managed",
                "sku": body.get("sku") or {"name": "Default", "capacity": 1},
                "tags": body.get("tags") or {},
                "systemData": ONLINE_SYSTEM_DATA,
                "properties": properties,
            }
            problem = _parse("deployment", rest)
            if problem:
                return error_reply(400, "UserError", problem)
            if not pulled:
                return error_reply(400, "ImagePullFailure", f"Image {image} could not be pulled: not in the registry.")
            self.state.deployments[endpoint][name] = rest
            return json_reply(201, copy.deepcopy(rest))

    def get_deployment(self, request: Request) -> Reply:
        with self.state.lock:
            rest = self.state.deployments.get(request.params["endpoint"], {}).get(request.params["deployment"])
            if rest is None:
                return error_reply(404, "ResourceNotFound", f"Deployment {request.params['deployment']} not found.")
            return json_reply(200, copy.deepcopy(rest))

    def list_deployments(self, request: Request) -> Reply:
        with self.state.lock:
            found = self.state.deployments.get(request.params["endpoint"], {})
            return json_reply(200, {"value": [copy.deepcopy(rest) for _, rest in sorted(found.items())]})

    def delete_deployment(self, request: Request) -> Reply:
        endpoint, name = request.params["endpoint"], request.params["deployment"]
        with self.state.lock:
            found = self.state.deployments.get(endpoint, {})
            if name not in found:
                return Reply(204)
            traffic = (self.state.endpoints[endpoint]["properties"].get("traffic") or {}).get(name, 0)
            if int(traffic) > 0:
                return error_reply(400, "BadArgument", f"Deployment {name} takes {traffic}% of traffic; move it first.")
            del found[name]
            return Reply(200)

    # -- scoring --------------------------------------------------------------------------------------------------

    def score(self, request: Request) -> Reply:
        endpoint = request.host.removesuffix(INFERENCE_SUFFIX)
        with self.state.lock:
            rest = self.state.endpoints.get(endpoint)
            if rest is None or not request.host.endswith(INFERENCE_SUFFIX):
                return error_reply(404, "NotFound", f"No endpoint at {request.host}.")
            mode = str(rest["properties"].get("authMode", "")).lower()
            accepted = {PRIMARY_KEY, SECONDARY_KEY} if mode == "key" else {TOKEN}
            if request.headers.get("authorization", "").removeprefix("Bearer ") not in accepted:
                self.state.scored.append((endpoint, "", 401))
                return error_reply(401, "Unauthorized", "Key or token missing or invalid.")
            deployments = self.state.deployments.get(endpoint, {})
            name = request.headers.get("azureml-model-deployment") or self._by_traffic(rest)
            if name not in deployments:
                self.state.scored.append((endpoint, str(name or ""), 404))
                return error_reply(404, "NotFound", "No valid deployments to route to.")
            image = self.image_of(deployments[name]["properties"])
            container = self.state.containers.get(str(image))
            if container is None and self.state.container_factory is not None:
                container = self.state.containers[str(image)] = self.state.container_factory(str(image))
        if container is None:
            status, body = 502, b'{"error": "the container is not running"}'
        else:
            status, body = container(request.body, dict(request.headers))
        with self.state.lock:
            self.state.scored.append((endpoint, name, status))
        return Reply(status, body, {"Content-Type": "application/json"})

    @staticmethod
    def _by_traffic(rest: dict[str, Any]) -> str | None:
        traffic = {k: int(v) for k, v in (rest["properties"].get("traffic") or {}).items() if int(v) > 0}
        return max(sorted(traffic), key=lambda k: traffic[k]) if traffic else None
