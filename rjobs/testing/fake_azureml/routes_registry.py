"""The workspace's container registry as ACR Tasks' quick build reaches it through ARM: the registry, an upload URL for
the source (a blob of the fake storage account), scheduleRun and the run's status.

A run is Queued, then Running, then done on the fake clock. It succeeds when the uploaded tar.gz holds a Dockerfile
whose COPY sources are all in it, and the image (login server/name:tag) is then pushed: online deployments of it can
be created. `RegistryState.fail_next` makes the next build fail, as a broken Dockerfile would.
"""

from __future__ import annotations

import io
import tarfile
import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from rjobs.testing.fake_azureml.http import BLOB_HOST, Reply, Request, RouteSpec, error_reply, json_reply
from rjobs.testing.fake_azureml.wire import RESOURCE_GROUP, SUBSCRIPTION

if TYPE_CHECKING:
    from rjobs.testing.fake_azureml.service import FakeAzureMLService

REGISTRY_NAME = "fakeacr"
LOGIN_SERVER = f"{REGISTRY_NAME}.azurecr.io"
REGISTRY_ID = (
    f"/subscriptions/{SUBSCRIPTION}/resourceGroups/{RESOURCE_GROUP}"
    f"/providers/Microsoft.ContainerRegistry/registries/{REGISTRY_NAME}"
)
REGISTRY = (
    r"/subscriptions/(?P<sub>[^/]+)/resourceGroups/(?P<rg>[^/]+)"
    r"/providers/Microsoft\.ContainerRegistry/registries/(?P<registry>[^/]+)"
)
SOURCES = "acr-build-sources"
QUEUED_S, RUNNING_S = 10.0, 60.0


@dataclass
class RegistryState:
    """Uploads handed out, runs scheduled (with their request and outcome), and a switch to fail the next build."""

    uploads: int = 0
    runs: dict[str, dict[str, Any]] = field(default_factory=dict)
    fail_next: bool = False
    lock: threading.RLock = field(default_factory=threading.RLock)


def check_source(archive: bytes) -> str | None:
    """Why a build of this source fails (no Dockerfile, a COPY of a file not in it), or None."""
    try:
        with tarfile.open(fileobj=io.BytesIO(archive), mode="r:gz") as tar:
            names = set(tar.getnames())
            member = tar.extractfile("Dockerfile") if "Dockerfile" in names else None
            dockerfile = member.read().decode("utf-8") if member is not None else None
    except (tarfile.TarError, OSError) as exc:
        return f"the source is not a tar.gz: {exc}"
    if dockerfile is None:
        return "the source has no Dockerfile"
    for line in dockerfile.splitlines():
        words = line.split()
        if words and words[0].upper() == "COPY":
            missing = [name for name in words[1:-1] if not name.startswith("--") and name not in names]
            if missing:
                return f"COPY failed: {', '.join(missing)} not found in the build context"
    return None


class RegistryRoutes:
    def __init__(self, service: FakeAzureMLService) -> None:
        self.service = service
        self.state: RegistryState = service.registry

    def routes(self) -> list[RouteSpec]:
        return [
            ("registries.get", "arm", "GET", REGISTRY, self.get_registry),
            ("registries.upload_url", "arm", "POST", REGISTRY + r"/listBuildSourceUploadUrl", self.upload_url),
            ("registries.schedule_run", "arm", "POST", REGISTRY + r"/scheduleRun", self.schedule_run),
            ("registries.get_run", "arm", "GET", REGISTRY + r"/runs/(?P<run>[^/]+)", self.get_run),
        ]

    @staticmethod
    def _unknown(request: Request) -> Reply | None:
        if request.params["registry"] != REGISTRY_NAME or request.params["sub"] != SUBSCRIPTION:
            return error_reply(404, "ResourceNotFound", f"Registry {request.params['registry']} not found.")
        return None

    def get_registry(self, request: Request) -> Reply:
        properties = {"loginServer": LOGIN_SERVER, "provisioningState": "Succeeded", "adminUserEnabled": False}
        body = {"id": REGISTRY_ID, "name": REGISTRY_NAME, "location": "eastus", "properties": properties}
        return self._unknown(request) or json_reply(200, body)

    def upload_url(self, request: Request) -> Reply:
        with self.state.lock:
            self.state.uploads += 1
            relative = f"source/{self.state.uploads:04d}.tar.gz"
        url = f"https://{BLOB_HOST}/{SOURCES}/{relative}?sv=2021-08-06&sr=b&sp=cw&sig=fake"
        return self._unknown(request) or json_reply(200, {"uploadUrl": url, "relativePath": relative})

    def schedule_run(self, request: Request) -> Reply:
        unknown = self._unknown(request)
        if unknown:
            return unknown
        body = request.json() or {}
        if body.get("type") != "DockerBuildRequest" or not body.get("imageNames"):
            return error_reply(400, "InvalidRequest", "Expected a DockerBuildRequest with imageNames.")
        blob = self.service.blobs.get(SOURCES, str(body.get("sourceLocation")))
        if blob is None:
            return error_reply(400, "InvalidRequest", f"Source {body.get('sourceLocation')} was never uploaded.")
        with blob.open() as handle:
            problem = check_source(handle.read())
        with self.state.lock:
            if self.state.fail_next:
                problem, self.state.fail_next = "the build failed (fake)", False
            run_id = f"ca{len(self.state.runs) + 1}"
            self.state.runs[run_id] = {
                "request": body,
                "started": self.service.workspace.clock.now,
                "problem": problem,
                "images": [f"{LOGIN_SERVER}/{name}" for name in body["imageNames"]],
            }
        return json_reply(200, self._run(run_id))

    def _run(self, run_id: str) -> dict[str, Any]:
        run = self.state.runs[run_id]
        elapsed = self.service.workspace.clock.now - run["started"]
        if elapsed < QUEUED_S:
            status = "Queued"
        elif elapsed < RUNNING_S:
            status = "Running"
        else:
            status = "Failed" if run["problem"] else "Succeeded"
            if status == "Succeeded":
                self.service.online.images.update(run["images"])
        properties = {"runId": run_id, "status": status, "outputImages": [], "runErrorMessage": run["problem"] or ""}
        return {"id": f"{REGISTRY_ID}/runs/{run_id}", "name": run_id, "properties": properties}

    def get_run(self, request: Request) -> Reply:
        unknown = self._unknown(request)
        if unknown:
            return unknown
        with self.state.lock:
            if request.params["run"] not in self.state.runs:
                return error_reply(404, "ResourceNotFound", f"Run {request.params['run']} not found.")
            return json_reply(200, self._run(request.params["run"]))
