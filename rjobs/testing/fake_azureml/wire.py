"""What the fake workspace looks like from the SDK's side: its ids, the HTTP errors it raises, its cancel poller."""

from __future__ import annotations

import json
from collections.abc import Mapping

from azure.core.exceptions import HttpResponseError, ResourceExistsError, ResourceNotFoundError
from azure.core.utils import CaseInsensitiveDict

from rjobs.core.azure_names import RULES

SUBSCRIPTION = "00000000-0000-0000-0000-000000000000"
RESOURCE_GROUP = "rg-fake"
WORKSPACE = "ws-fake"
WORKSPACE_ID = (
    f"/subscriptions/{SUBSCRIPTION}/resourceGroups/{RESOURCE_GROUP}"
    f"/providers/Microsoft.MachineLearningServices/workspaces/{WORKSPACE}"
)
JOB_NAME = RULES["job"].pattern
"""The service's job-name rule (rjobs.core.azure_names): the fake refuses what the service refuses."""

REASONS = {
    400: "Bad Request",
    404: "Not Found",
    409: "Conflict",
    429: "Too Many Requests",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Timeout",
}


class ErrorResponse:
    """Just enough of an azure-core HTTP response for HttpResponseError to read status, reason, body, headers."""

    def __init__(self, status: int, reason: str, message: str, headers: Mapping[str, str] | None = None) -> None:
        self.status_code = status
        self.reason = reason
        self.headers = CaseInsensitiveDict(headers or {})
        self.request = None
        self.content_type = "application/json"
        self._body = json.dumps({"error": {"code": reason.replace(" ", ""), "message": message}})

    def text(self, encoding: str | None = None) -> str:
        return self._body

    def body(self) -> bytes:
        return self._body.encode()


def http_error(status: int, message: str, headers: Mapping[str, str] | None = None) -> HttpResponseError:
    """The azure-core error the SDK raises for this status, as the real pipeline maps it."""
    response = ErrorResponse(status, REASONS.get(status, "Error"), message, headers)
    kind = {404: ResourceNotFoundError, 409: ResourceExistsError}.get(status, HttpResponseError)
    return kind(response=response)  # type: ignore[arg-type]


class DonePoller:
    """begin_cancel's LROPoller stand-in: the request is accepted, the job stops later on the clock."""

    def result(self, timeout: float | None = None) -> None:
        return None

    def done(self) -> bool:
        return True

    def wait(self, timeout: float | None = None) -> None:
        return None

    def status(self) -> str:
        return "Succeeded"


def arm_id(kind: str, name: str, version: str | None = None) -> str:
    base = f"{WORKSPACE_ID}/{kind}/{name}"
    return f"{base}/versions/{version}" if version is not None else base


def iso(seconds: float) -> str:
    return f"2025-01-01T00:{int(seconds // 60) % 60:02d}:{int(seconds % 60):02d}Z"
