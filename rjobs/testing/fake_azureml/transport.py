"""FakeAzureMLTransport: the fake Azure ML service as an azure-core HttpTransport, so the real MLClient runs over it.

It is azure-core's own RequestsTransport with one `requests` adapter mounted that answers from FakeAzureMLService
instead of a socket: everything above the socket (the SDK's serialisation, retry policy, paging, pollers, error
mapping) is the real code. `sleep` advances the workspace's fake clock, so Retry-After and poll delays cost no time.

    transport = FakeAzureMLTransport(FakeMLClient(clock))
    ml_client = fake_ml_client(transport, retry_total=3)
    with blob_clients_through(transport):  # the SDK builds its storage clients itself
        ml_client.jobs.download(...)
"""

from __future__ import annotations

import base64
import io
import json
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import requests
from azure.core.credentials import AccessToken
from azure.core.pipeline.transport import RequestsTransport
from requests.adapters import HTTPAdapter
from urllib3.response import HTTPResponse

from rjobs.testing.clock import FakeClock
from rjobs.testing.fake_azureml.client import FakeMLClient
from rjobs.testing.fake_azureml.http import Request, RequestRecord, body_bytes
from rjobs.testing.fake_azureml.service import ConnectionFault, FakeAzureMLService, LostResponse, ServiceOptions
from rjobs.testing.fake_azureml.wire import RESOURCE_GROUP, SUBSCRIPTION, WORKSPACE

TENANT = "99999999-8888-7777-6666-555555555555"


class FakeCredential:
    """A TokenCredential handing out an unsigned JWT with a tenant id, as the SDK decodes one for the studio URL;
    the fake service checks no token."""

    def get_token(self, *scopes: str, **kwargs: Any) -> AccessToken:
        expires = int(time.time()) + 3600
        claims = {"tid": TENANT, "oid": TENANT, "aud": scopes[0] if scopes else "", "exp": expires}
        parts = [{"alg": "none", "typ": "JWT"}, claims]
        encoded = [base64.urlsafe_b64encode(json.dumps(part).encode()).rstrip(b"=").decode() for part in parts]
        return AccessToken(".".join([*encoded, "fake"]), expires)


class ServiceAdapter(HTTPAdapter):
    """A `requests` adapter whose 'network' is the fake service: replies become urllib3 responses, as off a socket."""

    def __init__(self, service: FakeAzureMLService) -> None:
        super().__init__()
        self.service = service

    def send(  # type: ignore[override]
        self,
        request: requests.PreparedRequest,
        stream: bool = False,
        timeout: Any = None,
        verify: Any = True,
        cert: Any = None,
        proxies: Mapping[str, str] | None = None,
    ) -> requests.Response:
        parsed = Request.parse(str(request.method), str(request.url), request.headers, body_bytes(request.body))
        try:
            reply = self.service.answer(parsed)
        except ConnectionFault as exc:
            raise requests.exceptions.ConnectionError(str(exc), request=request) from None
        except LostResponse as exc:
            raise requests.exceptions.ReadTimeout(str(exc), request=request) from None
        content = reply.stream if reply.stream is not None else io.BytesIO(reply.content())
        headers = dict(reply.headers)
        if reply.stream is None:
            headers.setdefault("Content-Length", str(len(content.getbuffer())))  # type: ignore[union-attr]
        raw = HTTPResponse(
            body=content,
            headers=headers,
            status=reply.status,
            reason=reply.reason,
            preload_content=False,
            decode_content=False,
            request_method=parsed.method,
            request_url=parsed.url,
        )
        return self.build_response(request, raw)


class FakeAzureMLTransport(RequestsTransport):
    """azure-core's RequestsTransport over the fake service; share one between MLClient and the blob clients. The
    session is not the transport's own (session_owner=False), so a service client closing it leaves it usable."""

    def __init__(self, workspace: FakeMLClient | None = None, *, options: ServiceOptions | None = None) -> None:
        self.service = FakeAzureMLService(workspace if workspace is not None else FakeMLClient(), options)
        session = requests.Session()
        session.trust_env = False  # no proxies or netrc from this machine's environment
        adapter = ServiceAdapter(self.service)
        session.mount("https://", adapter)
        session.mount("http://", adapter)
        super().__init__(session=session, session_owner=False)

    @property
    def workspace(self) -> FakeMLClient:
        return self.service.workspace

    @property
    def clock(self) -> FakeClock:
        return self.service.workspace.clock

    @property
    def records(self) -> list[RequestRecord]:
        return self.service.records

    def count(self, route: str = "*", *, status: int | None = None) -> int:
        return self.service.count(route, status=status)

    def sleep(self, duration: float) -> None:
        """The retry policy's and the pollers' waits pass on the fake clock, never in real time."""
        self.clock.sleep(duration)


def fake_ml_client(transport: FakeAzureMLTransport, **kwargs: Any) -> Any:
    """The real azure.ai.ml.MLClient for the fake's workspace, every request through `transport`."""
    from azure.ai.ml import MLClient

    return MLClient(
        FakeCredential(),
        subscription_id=SUBSCRIPTION,
        resource_group_name=RESOURCE_GROUP,
        workspace_name=WORKSPACE,
        transport=transport,
        **kwargs,
    )


@contextmanager
def blob_clients_through(transport: FakeAzureMLTransport) -> Iterator[None]:
    """azure-ai-ml builds its BlobServiceClient/ContainerClient without passing MLClient's transport; inside this
    block the ones it builds for uploads and downloads send through `transport` (retry policy on the fake clock)."""
    from azure.ai.ml._artifacts import _blob_storage_helper as helper
    from azure.storage.blob import BlobServiceClient, ContainerClient

    class RoutedServiceClient(BlobServiceClient):
        def __init__(self, account_url: str, credential: Any = None, **kwargs: Any) -> None:
            kwargs.setdefault("transport", transport)
            super().__init__(account_url, credential=credential, **kwargs)

    class RoutedContainerClient(ContainerClient):
        @classmethod
        def from_container_url(cls, container_url: str, credential: Any = None, **kwargs: Any) -> Any:
            kwargs.setdefault("transport", transport)
            return ContainerClient.from_container_url(container_url, credential=credential, **kwargs)

    saved = helper.BlobServiceClient, helper.ContainerClient
    helper.BlobServiceClient, helper.ContainerClient = RoutedServiceClient, RoutedContainerClient  # type: ignore[misc]
    try:
        yield
    finally:
        helper.BlobServiceClient, helper.ContainerClient = saved  # type: ignore[misc]
