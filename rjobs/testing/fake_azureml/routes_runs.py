"""Regional API routes jobs.download reads before it touches storage: the run's data from run history (which named
outputs the finished job registered) and the dataset dataplane's resolution of those outputs to datastore paths."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from rjobs.testing.fake_azureml.http import LOCATION, Reply, Request, RouteSpec, error_reply, json_reply
from rjobs.testing.fake_azureml.lifecycle import TERMINAL
from rjobs.testing.fake_azureml.routes_workspace import WORKSPACE_GUID, WS, in_workspace
from rjobs.testing.fake_azureml.wire import RESOURCE_GROUP, SUBSCRIPTION, WORKSPACE, iso

if TYPE_CHECKING:
    from rjobs.testing.fake_azureml.service import FakeAzureMLService

OUTPUT_ASSET = re.compile(r"/data/azureml_(?P<job>.+)_output_data_(?P<output>[^/]+)/versions/1$")
DATASTORE_ROOT = (
    f"azureml://subscriptions/{SUBSCRIPTION}/resourcegroups/{RESOURCE_GROUP}/workspaces/{WORKSPACE}"
    "/datastores/workspaceblobstore/paths"
)


def output_asset_id(job: str, output: str) -> str:
    """The id run history gives a job's named output, registered as a data asset when the job ends."""
    return (
        f"azureml://locations/{LOCATION}/workspaces/{WORKSPACE_GUID}/data/azureml_{job}_output_data_{output}/versions/1"
    )


class RunRoutes:
    """Run history and dataset resolution over the shared job records."""

    def __init__(self, service: FakeAzureMLService) -> None:
        self.service = service
        self.workspace = service.workspace

    def routes(self) -> list[RouteSpec]:
        return [
            ("runs.get_run_data", "api", "POST", r"/history/v1\.0" + WS + r"/rundata", in_workspace(self.run_data)),
            (
                "datasets.batch_get_resolved_uris",
                "api",
                "POST",
                r"/data/v1\.0" + WS + r"/dataversion/batchGetResolvedUris",
                in_workspace(self.resolve),
            ),
        ]

    def run_data(self, request: Request) -> Reply:
        """The run's metadata; a finished job lists its named outputs (not the default artifact store)."""
        body = request.json() or {}
        name = str(body.get("runId", ""))
        record = self.workspace._jobs.get(name)
        if record is None:
            return error_reply(404, "UserError", f"Run {name} was not found.")
        status = self.workspace._state(record)
        properties = record["rest"]["properties"]
        outputs: dict[str, Any] = {}
        if status in TERMINAL:
            for output, spec in (properties.get("outputs") or {}).items():
                kind = (spec or {}).get("jobOutputType", "uri_folder")
                if output != "default" and kind in ("uri_folder", "uri_file", "mltable"):
                    outputs[output] = {"assetId": output_asset_id(name, output), "type": kind}
        metadata = {
            "runId": name,
            "runUuid": f"{WORKSPACE_GUID[:-12]}{record['seq']:012d}",
            "status": status,
            "displayName": properties.get("displayName") or name,
            "experimentId": WORKSPACE_GUID,
            "createdUtc": iso(record["created"]),
            "properties": properties.get("properties") or {},
            "tags": properties.get("tags") or {},
            "outputs": outputs,
        }
        return json_reply(200, {"runMetadata": metadata, "runDefinition": None, "jobSpecification": None})

    def resolve(self, request: Request) -> Reply:
        """Each output asset id to its folder on the workspace blob store (azureml/<job>/<output>/)."""
        body = request.json() or {}
        values: dict[str, Any] = {}
        for asset_id in body.get("values") or []:
            found = OUTPUT_ASSET.search(str(asset_id))
            if found is None or found.group("job") not in self.workspace._jobs:
                continue
            path = f"{DATASTORE_ROOT}/azureml/{found.group('job')}/{found.group('output')}/"
            values[str(asset_id)] = {"uri": path, "type": "UriFolder"}
        return json_reply(200, {"values": values})
