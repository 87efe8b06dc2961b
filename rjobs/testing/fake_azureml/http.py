"""The fake service's wire vocabulary: a parsed request, a reply, the routing table and the record of every request.

Kept free of Azure ML knowledge so the route modules (jobs, assets, run history, blobs) share one shape.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import IO, Any
from urllib.parse import parse_qs, unquote, urlsplit

from rjobs.testing.fake_azureml.wire import REASONS

ARM_HOST = "management.azure.com"
LOCATION = "eastus"
API_HOST = f"{LOCATION}.api.azureml.ms"
STORAGE_ACCOUNT = "fakestorage"
BLOB_HOST = f"{STORAGE_ACCOUNT}.blob.core.windows.net"

REASONS_MORE = {200: "OK", 201: "Created", 202: "Accepted", 204: "No Content", 206: "Partial Content"}
REASONS_MORE.update({401: "Unauthorized", 403: "Forbidden", 412: "Precondition Failed", 416: "Range Not Satisfiable"})


@dataclass
class Request:
    """One HTTP request as the service sees it: host, path and query split out, the body read whole."""

    method: str
    url: str
    headers: Mapping[str, str]
    body: bytes
    host: str = ""
    path: str = ""
    query: dict[str, str] = field(default_factory=dict)
    params: dict[str, str] = field(default_factory=dict)

    @classmethod
    def parse(cls, method: str, url: str, headers: Mapping[str, str], body: bytes) -> Request:
        parts = urlsplit(url)
        query = {key: values[-1] for key, values in parse_qs(parts.query, keep_blank_values=True).items()}
        lowered = {str(k).lower(): str(v) for k, v in headers.items()}
        return cls(method.upper(), url, lowered, body, parts.hostname or "", parts.path, query)

    def json(self) -> Any:
        return json.loads(self.body.decode("utf-8")) if self.body else None


@dataclass
class Reply:
    """What the service answers: a status, headers, and a body (JSON-able, bytes, or a stream read once)."""

    status: int
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    stream: IO[bytes] | None = None

    @property
    def reason(self) -> str:
        return REASONS_MORE.get(self.status) or REASONS.get(self.status, "Error")

    def content(self) -> bytes:
        if self.body is None:
            return b""
        if isinstance(self.body, bytes):
            return self.body
        if isinstance(self.body, str):
            return self.body.encode("utf-8")
        return json.dumps(self.body).encode("utf-8")


def json_reply(status: int, body: Any, headers: Mapping[str, str] | None = None) -> Reply:
    return Reply(status, body, {"Content-Type": "application/json; charset=utf-8", **(headers or {})})


def error_reply(status: int, code: str, message: str, headers: Mapping[str, str] | None = None) -> Reply:
    """The ARM error body azure-core's ARMErrorFormat reads (error.code, error.message)."""
    body = {"error": {"code": code, "message": message, "details": [], "additionalInfo": []}}
    return json_reply(status, body, headers)


Handler = Callable[[Request], Reply]
RouteSpec = tuple[Any, ...]
"""(name, host kind, method, path pattern, handler[, required query]): the arguments of Router.add."""


@dataclass(frozen=True)
class Route:
    """A named route: the name is what faults match (fnmatch) and what the request record counts. `when` names
    query parameters the request must carry (with that value, or any value for '*'), as blob operations need."""

    name: str
    host: str
    method: str
    pattern: re.Pattern[str]
    handler: Handler
    when: Mapping[str, str] = field(default_factory=dict)

    def accepts(self, query: Mapping[str, str]) -> bool:
        return all(key in query and value in ("*", query[key]) for key, value in self.when.items())


class Router:
    """Routes by host kind ('arm', 'api', 'blob', 'inference'), method and a path pattern (named groups: params)."""

    def __init__(self) -> None:
        self.routes: list[Route] = []

    def add(
        self, name: str, host: str, method: str, pattern: str, handler: Handler, when: Mapping[str, str] | None = None
    ) -> None:
        compiled = re.compile(pattern + r"/?$", re.IGNORECASE)
        self.routes.append(Route(name, host, method, compiled, handler, dict(when or {})))

    def extend(self, routes: Iterable[RouteSpec]) -> None:
        for route in routes:
            self.add(*route)

    def match(self, request: Request) -> Route | None:
        kind = host_kind(request.host)
        for route in self.routes:
            if route.host != kind or route.method != request.method or not route.accepts(request.query):
                continue
            found = route.pattern.match(request.path)
            if found:
                request.params = {k: unquote(v) for k, v in found.groupdict().items() if v is not None}
                return route
        return None


def host_kind(host: str) -> str:
    """Which of the service's front doors a host is: ARM, the regional API (run history, discovery), blob, or an
    online endpoint's scoring host."""
    host = host.lower()
    if host == ARM_HOST:
        return "arm"
    if host.endswith(".api.azureml.ms"):
        return "api"
    if host.endswith(".blob.core.windows.net"):
        return "blob"
    if host.endswith(".inference.ml.azure.com"):
        return "inference"
    return "other"


@dataclass(frozen=True)
class RequestRecord:
    """One request as the transport answered it: counted per route and status."""

    method: str
    route: str
    status: int
    url: str
    fault: str | None = None

    @property
    def host(self) -> str:
        """'arm', 'api' (the control plane) or 'blob' (data transfer)."""
        return host_kind(urlsplit(self.url).hostname or "")


def body_bytes(data: Any) -> bytes:
    """A requests body (bytes, text, file or iterable of chunks) as bytes."""
    if data is None:
        return b""
    if isinstance(data, bytes):
        return data
    if isinstance(data, str):
        return data.encode("utf-8")
    if hasattr(data, "read"):
        chunk = data.read()
        return chunk.encode("utf-8") if isinstance(chunk, str) else bytes(chunk)
    if isinstance(data, Iterable):
        return b"".join(part.encode("utf-8") if isinstance(part, str) else bytes(part) for part in data)
    raise TypeError(f"cannot read a request body of type {type(data).__name__}")
