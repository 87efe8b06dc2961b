"""Build the serving image in the workspace's container registry without a local Docker engine: an ACR Tasks quick
build (what `az acr build` does), through ARM with the user's Azure credential.

Why ACR Tasks rather than the workspace's environment build: the environment build gives no image URI to hand to an
online deployment and no way to wait for it, while a quick build is one call that names the image (the context's
content hash as its tag), pushes it where the deployment pulls from, and reports a run that can be waited on.
The source goes up as a tar.gz to the upload URL ACR hands out; it holds the build context only (no secret).
"""

from __future__ import annotations

import io
import tarfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from rjobs.core.errors import ServingError
from rjobs.serving.context import BuildContext

ARM = "https://management.azure.com"
ACR_API_VERSION = "2019-06-01-preview"
TERMINAL = frozenset({"Succeeded", "Failed", "Canceled", "Error", "Timeout"})
BUILD_DEADLINE_S = 3600.0
POLL_S = 10.0
REPOSITORY = "rjobs-serve"


class ImageBuildError(ServingError):
    """The registry's build ended other than Succeeded: names the run to read the log of."""


@dataclass(frozen=True)
class Registry:
    """The workspace's container registry: its ARM id and login server (what an image URI starts with)."""

    arm_id: str
    login_server: str

    @property
    def name(self) -> str:
        return self.arm_id.rstrip("/").rsplit("/", 1)[-1]


def context_archive(context: BuildContext) -> bytes:
    """The build context as the tar.gz ACR Tasks takes: sorted, owned by root, fixed times, so it is reproducible."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz", format=tarfile.PAX_FORMAT) as archive:
        for path in sorted(context.path.iterdir()):
            info = archive.gettarinfo(str(path), arcname=path.name)
            info.uid = info.gid = 0
            info.uname = info.gname = "root"
            info.mtime = 0
            with path.open("rb") as handle:
                archive.addfile(info, handle)
    return buffer.getvalue()


class AcrTaskBuilder:
    """Quick builds in one registry through ARM. The HTTP transport, clock and sleep are injected (the tests' fake)."""

    def __init__(
        self,
        credential: Any,
        registry_id: str,
        *,
        transport: Any = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] | None = None,
    ) -> None:
        from azure.core import PipelineClient
        from azure.core.pipeline.policies import BearerTokenCredentialPolicy, RetryPolicy

        self.registry_id = registry_id.rstrip("/")
        self.transport = transport
        self.clock = clock
        self.sleep = sleep or (transport.sleep if transport is not None else time.sleep)
        policies = [RetryPolicy(retry_total=3), BearerTokenCredentialPolicy(credential, f"{ARM}/.default")]
        options = {"transport": transport} if transport is not None else {}
        self.client = PipelineClient(ARM, policies=policies, **options)

    def _call(self, method: str, suffix: str, body: Any = None) -> dict[str, Any]:
        from azure.core.rest import HttpRequest

        url = f"{ARM}{self.registry_id}{suffix}?api-version={ACR_API_VERSION}"
        response = self.client.send_request(HttpRequest(method, url, json=body))
        if response.status_code >= 400:
            detail = f"{method} {suffix or '/'} answered {response.status_code}: {response.text()[:300]}"
            raise ServingError(self.registry_id, detail)
        return dict(response.json()) if response.content else {}

    def registry(self) -> Registry:
        found = self._call("GET", "")
        return Registry(self.registry_id, str(found["properties"]["loginServer"]))

    def upload_source(self, archive: bytes) -> str:
        """Upload the archive to the URL ACR hands out; its relative path is the build's source location."""
        from azure.storage.blob import BlobClient

        target = self._call("POST", "/listBuildSourceUploadUrl")
        options = {"transport": self.transport} if self.transport is not None else {}
        BlobClient.from_blob_url(target["uploadUrl"], **options).upload_blob(archive, overwrite=True)
        return str(target["relativePath"])

    def build(self, context: BuildContext, repository: str = REPOSITORY, deadline_s: float = BUILD_DEADLINE_S) -> str:
        """Build and push <login server>/<repository>:<context tag>; the image URI once the run Succeeded."""
        registry = self.registry()
        image = f"{repository}:{context.tag}"
        source = self.upload_source(context_archive(context))
        request = {
            "type": "DockerBuildRequest",
            "imageNames": [image],
            "isPushEnabled": True,
            "sourceLocation": source,
            "dockerFilePath": "Dockerfile",
            "platform": {"os": "Linux", "architecture": "amd64"},
            "timeout": int(deadline_s),
        }
        run = self._call("POST", "/scheduleRun", request)
        run_id = str(run["properties"]["runId"])
        end = self.clock() + deadline_s
        status = str(run["properties"].get("status", ""))
        while status not in TERMINAL:
            if self.clock() >= end:
                raise ImageBuildError(registry.name, f"build run {run_id} not done after {deadline_s:.0f} s")
            self.sleep(POLL_S)
            status = str(self._call("GET", f"/runs/{run_id}")["properties"].get("status", ""))
        if status != "Succeeded":
            where = f"az acr task logs --registry {registry.name} --run-id {run_id}"
            raise ImageBuildError(registry.name, f"build run {run_id} ended {status}", where)
        return f"{registry.login_server}/{image}"


def workspace_registry(ml_client: Any) -> str:
    """The ARM id of the workspace's container registry (created with the workspace on first image build)."""
    workspace = ml_client.workspaces.get(ml_client.workspace_name)
    registry = getattr(workspace, "container_registry", None)
    if not registry:
        fix = "build any environment once, or attach one: az ml workspace update --container-registry <id>"
        raise ServingError(f"workspace {ml_client.workspace_name}", f"has no container registry yet; {fix}")
    return str(registry)
