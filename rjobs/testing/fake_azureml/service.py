"""The fake Azure ML service behind FakeAzureMLTransport: routes every request, records it, and turns the workspace's
scripted or seeded faults into the HTTP answers (429/5xx with Retry-After) or broken connections the SDK would meet.

State (jobs, assets, clock, faults, persistence) is the operation-level fake's FakeMLClient, so both fakes share one
job state machine; the routes answer in the service's REST JSON, which the real SDK then deserialises.
"""

from __future__ import annotations

import fnmatch
import threading
from collections import Counter
from dataclasses import dataclass

from rjobs.testing.fake_azureml.blobs import BlobStore, LocalizingCommandRunner
from rjobs.testing.fake_azureml.client import FakeMLClient
from rjobs.testing.fake_azureml.http import Reply, Request, RequestRecord, Router, error_reply
from rjobs.testing.fake_azureml.routes_assets import AssetRoutes
from rjobs.testing.fake_azureml.routes_blobs import BlobRoutes
from rjobs.testing.fake_azureml.routes_jobs import JobRoutes
from rjobs.testing.fake_azureml.routes_online import OnlineRoutes, OnlineState
from rjobs.testing.fake_azureml.routes_registry import RegistryRoutes, RegistryState
from rjobs.testing.fake_azureml.routes_runs import RunRoutes
from rjobs.testing.fake_azureml.routes_workspace import WorkspaceRoutes


class ConnectionFault(Exception):
    """The request never reached the service (connection reset): the adapter raises requests' ConnectionError."""


class LostResponse(Exception):
    """The service did the work (or never answered) and the client timed out reading: a requests ReadTimeout."""


@dataclass
class ServiceOptions:
    """How the fake service behaves beyond the workspace's own settings.

    list_lag: fake seconds before a new job shows in listings (the service's index lags creation).
    cancel_retry_after: the Retry-After of a cancel's 202 and its operation polls.
    """

    list_lag: float = 0.0
    cancel_retry_after: int = 5


class FakeAzureMLService:
    """One workspace as the SDK reaches it over HTTP: ARM (workspace, jobs, assets, datastores), the regional API
    (discovery, run history, dataset resolution), the workspace's blob storage and its online endpoints' scoring
    hosts."""

    def __init__(self, workspace: FakeMLClient, options: ServiceOptions | None = None) -> None:
        self.workspace = workspace
        self.options = options or ServiceOptions()
        self.blobs = BlobStore(workspace)
        self.online = OnlineState()
        self.registry = RegistryState()
        workspace.commands = LocalizingCommandRunner(workspace.commands, self.blobs)
        self.records: list[RequestRecord] = []
        self._records_lock = threading.Lock()
        self.router = Router()
        for routes in (
            WorkspaceRoutes(self),
            JobRoutes(self),
            AssetRoutes(self),
            RunRoutes(self),
            BlobRoutes(self),
            OnlineRoutes(self),
            RegistryRoutes(self),
        ):
            self.router.extend(routes.routes())

    def answer(self, request: Request) -> Reply:
        """The reply to one request; raises ConnectionFault or LostResponse for the faults that have no reply."""
        workspace = self.workspace
        route = self.router.match(request)
        name = route.name if route is not None else "unrouted"
        with workspace.lock:
            kind, retry_after = workspace.faults.pick(name, workspace._fault_draw)
            if kind is not None:
                workspace.faults_raised.append((name, kind))
            if kind is not None and kind != "lost_response":
                return self._fault(request, name, kind, retry_after)
            if route is None:
                reply = error_reply(404, "NoRoute", f"the fake service has no route for {request.method} {request.url}")
            else:
                if workspace.advance_per_call and name in ("jobs.get", "jobs.list"):
                    workspace.clock.advance(workspace.advance_per_call)
                reply = route.handler(request)
        self._record(request, name, reply.status, kind)
        if kind == "lost_response":
            if reply.stream is not None:
                reply.stream.close()
            raise LostResponse(f"{name}: read timed out (fake)")
        return reply

    def _fault(self, request: Request, name: str, kind: str, retry_after: float | None) -> Reply:
        if kind == "connection":
            self._record(request, name, 0, kind)
            raise ConnectionFault(f"{name}: connection reset by peer (fake)")
        if kind == "response":
            self._record(request, name, 0, kind)
            raise LostResponse(f"{name}: read timed out (fake)")
        status = int(kind)
        headers = {"Retry-After": f"{retry_after:g}"} if retry_after is not None and status in (429, 503) else {}
        code = "TooManyRequests" if status == 429 else "ServiceError"
        reply = error_reply(status, code, f"{name}: fake {status}", headers)
        self._record(request, name, status, kind)
        return reply

    def _record(self, request: Request, route: str, status: int, fault: str | None) -> None:
        with self._records_lock:
            self.records.append(RequestRecord(request.method, route, status, request.url, fault))

    # -- what tests read ------------------------------------------------------------------------------------------

    def count(self, route: str = "*", *, status: int | None = None) -> int:
        """Requests answered on routes matching `route` (fnmatch), optionally of one status (0: no answer)."""
        with self._records_lock:
            return sum(
                1 for r in self.records if fnmatch.fnmatch(r.route, route) and (status is None or r.status == status)
            )

    def counts(self) -> Counter[str]:
        with self._records_lock:
            return Counter(r.route for r in self.records)
