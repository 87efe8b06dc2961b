"""Job routes: create-or-update (parsed and checked as the service does), get, list (filtered, paged by $skip and
nextLink, from an index that lags creation) and cancel (202, then an operation the SDK's ARM poller follows)."""

from __future__ import annotations

import copy
import re
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode, urlsplit, urlunsplit

from rjobs.core.azure_names import refusal
from rjobs.testing.fake_azureml.http import ARM_HOST, LOCATION, Reply, Request, RouteSpec, error_reply, json_reply
from rjobs.testing.fake_azureml.lifecycle import FINAL, TERMINAL, failed_image_build
from rjobs.testing.fake_azureml.routes_workspace import WORKSPACE_GUID, WS, in_workspace
from rjobs.testing.fake_azureml.wire import SUBSCRIPTION, WORKSPACE_ID, arm_id, iso

if TYPE_CHECKING:
    from rjobs.testing.fake_azureml.service import FakeAzureMLService

JOBS = WS + r"/jobs"
JOB = JOBS + r"/(?P<name>[^/]+)"
OPERATIONS = r"/subscriptions/(?P<sub>[^/]+)/providers/Microsoft\.MachineLearningServices/locations/(?P<loc>[^/]+)"
MUTABLE = frozenset({"tags", "description", "displayName"})
"""What a PUT may change on an existing job; any other difference is a conflict."""
ASSET_ID = re.compile(
    r"/workspaces/[^/]+/(?P<kind>environments|codes|data|models)/(?P<name>[^/]+)/versions/(?P<version>[^/]+)$",
    re.IGNORECASE,
)
SHORT_ASSET = re.compile(r"^azureml:(?P<name>[^:/@]+)(?::(?P<version>[^:/@]+)|@(?P<label>[^:/@]+))$")
API_VERSION = "2024-01-01-preview"


def asset_reference(reference: str) -> tuple[str, str | None] | None:
    """(name, version) of a workspace asset an id names (version None for a label such as @latest), or None when it
    names no workspace asset."""
    found = ASSET_ID.search(reference) or SHORT_ASSET.match(reference)
    return (found.group("name"), found.group("version")) if found else None


class JobRoutes:
    """Jobs live in the workspace's records (FakeMLClient._jobs), so their states come from the shared state
    machine; the REST body the SDK sent is what is stored and answered back, with the fields the service adds."""

    def __init__(self, service: FakeAzureMLService) -> None:
        self.service = service
        self.workspace = service.workspace

    def routes(self) -> list[RouteSpec]:
        return [
            ("jobs.create_or_update", "arm", "PUT", JOB, in_workspace(self.put)),
            ("jobs.get", "arm", "GET", JOB, in_workspace(self.get)),
            ("jobs.list", "arm", "GET", JOBS, in_workspace(self.list)),
            ("jobs.begin_cancel", "arm", "POST", JOB + r"/cancel", in_workspace(self.cancel)),
            ("operations.status", "arm", "GET", OPERATIONS + r"/mfeOperationsStatus/(?P<op>[^/]+)", self.status),
            ("operations.result", "arm", "GET", OPERATIONS + r"/mfeOperationResults/(?P<op>[^/]+)", self.result),
        ]

    # -- resources ------------------------------------------------------------------------------------------------

    def resource(self, record: dict[str, Any]) -> dict[str, Any]:
        """The job as GET answers it now: the stored body plus id, status, services, default output, systemData."""
        rest = copy.deepcopy(record["rest"])
        name = rest["name"]
        rest["id"] = arm_id("jobs", name)
        rest["type"] = "Microsoft.MachineLearningServices/workspaces/jobs"
        properties = rest["properties"]
        properties["status"] = self.workspace._state(record)
        properties.setdefault("experimentName", "Default")
        properties["services"] = {
            "Studio": {"jobServiceType": "Studio", "endpoint": f"https://ml.azure.com/runs/{name}?wsid={WORKSPACE_ID}"},
        }
        outputs = properties.get("outputs") or {}
        outputs["default"] = {
            "jobOutputType": "uri_folder",
            "mode": "ReadWriteMount",
            "uri": f"azureml://datastores/workspaceartifactstore/paths/ExperimentRun/dcid.{name}",
        }
        properties["outputs"] = outputs
        rest["systemData"] = {"createdAt": iso(record["created"]), "createdBy": "fake", "createdByType": "User"}
        return rest

    # -- handlers -------------------------------------------------------------------------------------------------

    def put(self, request: Request) -> Reply:
        """201 for a new job; 200 for the same definition again (tags, description, display name updated); 409 for
        a different one; 400 for a body the SDK's own parser rejects or that names assets the workspace lacks."""
        from azure.ai.ml._restclient.arm_ml_service.models import JobBase
        from azure.ai.ml.entities import Job

        name = request.params["name"]
        body = request.json()
        if not isinstance(body, dict) or not isinstance(body.get("properties"), dict):
            return error_reply(400, "UserError", "The request body must be a job resource with properties.")
        experiment = body["properties"].get("experimentName")
        refused = refusal("job", name) or (refusal("experiment", experiment) if experiment is not None else None)
        if refused:
            return error_reply(400, "UserError", refused)
        body["name"] = name
        try:
            Job._from_rest_object(JobBase(copy.deepcopy(body)))
        except Exception as exc:  # the service refuses what the SDK cannot read back
            return error_reply(400, "UserError", f"Invalid job definition: {exc}")
        problem = self.check(body["properties"])
        if problem:
            return error_reply(400, "UserError", problem)
        workspace = self.workspace
        existing = workspace._jobs.get(name)
        if existing is not None:
            stored = existing["rest"]["properties"]
            changed = {k for k in set(stored) | set(body["properties"]) if stored.get(k) != body["properties"].get(k)}
            if changed - MUTABLE:
                message = f"A job named {name} already exists; {', '.join(sorted(changed - MUTABLE))} cannot change."
                return error_reply(409, "UserError", message)
            for key in changed:
                stored[key] = body["properties"].get(key)
            workspace._save()
            return json_reply(200, self.resource(existing))
        workspace._sequence += 1
        record: dict[str, Any] = {
            "rest": body,
            "created": workspace.clock.now,
            "seq": workspace._sequence,
            "final": None,
            "cancel_at": None,
            "exit_code": None,
        }
        record.update(workspace.planner.plan(name, workspace.clock.now))
        if workspace.planner.cluster is not None:
            workspace.clock.advance(workspace.planner.cluster.submit_s)
        environment = asset_reference(str(body["properties"].get("environmentId") or ""))
        if environment is not None and environment[0] in workspace.broken_images:
            record.update(failed_image_build(workspace.broken_images[environment[0]]))
        workspace._jobs[name] = record
        workspace._job_created(record)
        workspace._save()
        return json_reply(201, self.resource(record))

    def check(self, properties: dict[str, Any]) -> str | None:
        """What the service refuses in a parsed job: a command job without command or environment, or a reference
        to an environment, code or data version the workspace does not hold."""
        if properties.get("jobType") == "Command":
            if not properties.get("command"):
                return "A command job needs a command."
            if not properties.get("environmentId"):
                return "A command job needs an environment."
        checks = [("environments", properties.get("environmentId")), ("codes", properties.get("codeId"))]
        for value in (properties.get("inputs") or {}).values():
            if isinstance(value, dict) and value.get("jobInputType") != "literal":
                checks.append(("data", value.get("uri")))
        for kind, reference in checks:
            if not reference or str(reference).startswith("azureml://registries/"):
                continue
            found = asset_reference(str(reference))
            if found is None:
                continue
            name, version = found
            versions = self.workspace._assets[kind].get(name, {})
            if not versions or (version is not None and version not in versions):
                return f"{kind} asset {name}:{version or 'latest'} (from {reference}) was not found in the workspace."
        return None

    def get(self, request: Request) -> Reply:
        record = self.workspace._jobs.get(request.params["name"])
        if record is None:
            return error_reply(404, "UserError", f"Job {request.params['name']} not found.")
        return json_reply(200, self.resource(record))

    def list(self, request: Request) -> Reply:
        """Newest first; only jobs created at least list_lag fake seconds ago; `$skip` offsets, nextLink continues."""
        workspace = self.workspace
        now = workspace.clock.now
        lag = self.service.options.list_lag
        query = request.query
        visible = [r for r in workspace._jobs.values() if now - r["created"] >= lag and self._matches(r, query)]
        visible.sort(key=lambda r: (-r["created"], -r["seq"]))
        skip = int(query.get("$skip") or 0)
        size = workspace.page_size
        page = visible[skip : skip + size]
        body: dict[str, Any] = {"value": [self.resource(r) for r in page]}
        if skip + size < len(visible):
            parts = urlsplit(request.url)
            following = {**query, "$skip": str(skip + size)}
            body["nextLink"] = urlunsplit((parts.scheme, parts.netloc, parts.path, urlencode(following), ""))
        return json_reply(200, body)

    @staticmethod
    def _matches(record: dict[str, Any], query: dict[str, str]) -> bool:
        """The service's filters: jobType, tag (name or name=value) and properties (comma-separated, same form)."""
        properties = record["rest"]["properties"]
        if query.get("jobType") and properties.get("jobType", "").lower() != query["jobType"].lower():
            return False
        for parameter, field in (("tag", "tags"), ("properties", "properties")):
            held = properties.get(field) or {}
            for item in (query.get(parameter) or "").split(","):
                key, sep, value = item.strip().partition("=")
                if key and (key not in held or (sep and held[key] != value)):
                    return False
        return True

    def cancel(self, request: Request) -> Reply:
        """202 with Location and Azure-AsyncOperation; the job is CancelRequested, then Canceled on the clock."""
        name = request.params["name"]
        workspace = self.workspace
        record = workspace._jobs.get(name)
        if record is None:
            return error_reply(404, "UserError", f"Job {name} not found.")
        if workspace._state(record) not in FINAL and record.get("cancel_at") is None:  # NotResponding too
            record["cancel_at"] = workspace.clock.now
            workspace._save()
        return Reply(202, None, self._operation_headers(f"jc:{WORKSPACE_GUID}:{name}"))

    def _operation_headers(self, operation: str) -> dict[str, str]:
        base = f"https://{ARM_HOST}/subscriptions/{SUBSCRIPTION}/providers/Microsoft.MachineLearningServices"
        query = f"?api-version={API_VERSION}"
        return {
            "Location": f"{base}/locations/{LOCATION}/mfeOperationResults/{operation}{query}",
            "Azure-AsyncOperation": f"{base}/locations/{LOCATION}/mfeOperationsStatus/{operation}{query}",
            "Retry-After": str(self.service.options.cancel_retry_after),
        }

    def _operation_done(self, operation: str) -> bool | None:
        """Whether a cancel operation finished (its job is terminal); None for an operation never started."""
        prefix = f"jc:{WORKSPACE_GUID}:"
        record = self.workspace._jobs.get(operation[len(prefix) :]) if operation.startswith(prefix) else None
        if record is None:
            return None
        return self.workspace._state(record) in FINAL or (
            self.workspace._state(record) in TERMINAL and record.get("cancel_at") is None
        )

    def status(self, request: Request) -> Reply:
        operation = request.params["op"]
        done = self._operation_done(operation)
        if done is None:
            return error_reply(404, "NotFound", f"Operation {operation} not found.")
        body = {"id": request.path, "name": operation, "status": "Succeeded" if done else "InProgress"}
        headers = {} if done else {"Retry-After": str(self.service.options.cancel_retry_after)}
        return json_reply(200, body, headers)

    def result(self, request: Request) -> Reply:
        operation = request.params["op"]
        done = self._operation_done(operation)
        if done is None:
            return error_reply(404, "NotFound", f"Operation {operation} not found.")
        return Reply(200) if done else Reply(202, None, self._operation_headers(operation))
