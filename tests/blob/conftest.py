"""Azurite for the blob tests: one emulator per session, a fresh container per test, a recording transport."""

from __future__ import annotations

import tempfile
import threading
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import pytest
from azure.core.pipeline.transport import RequestsTransport
from azure.storage.blob import BlobServiceClient, LinearRetry

from rjobs.storage.clients import make_service_client
from rjobs.testing.azurite import AZURITE_BIN, INSTALL_HINT, in_ci, start_azurite, stop_azurite


@pytest.fixture(scope="session")
def azurite() -> Iterator[str]:
    """Connection string of a session-wide in-memory Azurite; skip (or fail in CI) when not installed."""
    if not AZURITE_BIN.exists():
        message = f"Azurite not installed ({AZURITE_BIN}): {INSTALL_HINT}"
        if in_ci():
            pytest.fail(message)
        pytest.skip(message)
    with tempfile.TemporaryDirectory(prefix="azurite-") as workdir:
        server = start_azurite(Path(workdir))
        try:
            yield server.connection_string()
        finally:
            stop_azurite(server)


@pytest.fixture
def container() -> str:
    """A container name no other test uses, so tests share one emulator without interfering."""
    return f"t-{uuid.uuid4().hex[:16]}"


@dataclass(frozen=True)
class Call:
    """One HTTP request as the emulator saw it."""

    method: str
    path: str
    query: dict[str, list[str]]

    @property
    def kind(self) -> str:
        """put_blob, block, blocklist, create_container, ... : what the request did, for counting."""
        comp = self.query.get("comp", [""])[0]
        restype = self.query.get("restype", [""])[0]
        if self.method == "PUT" and restype == "container":
            return "create_container"
        if self.method == "PUT":
            return comp or "put_blob"
        return f"{self.method.lower()}_{comp or restype or 'blob'}"


Fault = Callable[[Call, int], BaseException | None]


class RecordingTransport(RequestsTransport):
    """Records every request; `fault(call, n)` may return an exception to raise instead of sending it."""

    def __init__(self, fault: Fault | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.calls: list[Call] = []
        self.fault = fault
        self._lock = threading.Lock()

    def send(self, request: Any, **kwargs: Any) -> Any:
        parts = urlsplit(request.url)
        call = Call(request.method, unquote(parts.path), parse_qs(parts.query))
        with self._lock:
            self.calls.append(call)
            error = self.fault(call, len(self.calls)) if self.fault is not None else None
        if error is not None:
            raise error
        return super().send(request, **kwargs)

    def count(self, *kinds: str) -> int:
        return sum(1 for c in self.calls if c.kind in kinds)

    def uploads(self) -> int:
        """Requests that carry file data: single puts and staged blocks."""
        return self.count("put_blob", "block")


@pytest.fixture
def make_client(azurite: str) -> Callable[..., tuple[BlobServiceClient, RecordingTransport]]:
    """Build an engine client on Azurite with a recording transport and instant retries."""

    def build(
        fault: Fault | None = None,
        connection_string: str | None = None,
        retry_total: int = 3,
        account_url: str | None = None,
    ) -> tuple[BlobServiceClient, RecordingTransport]:
        transport = RecordingTransport(fault=fault)
        client = make_service_client(
            account_url,
            connection_string=None if account_url else connection_string or azurite,
            transport=transport,
            retry_policy=LinearRetry(backoff=0, random_jitter_range=0, retry_total=retry_total),
        )
        return client, transport

    return build
