"""The fake Azure ML workspace behind `rjobs.testing.fake_mlclient.FakeMLClient`, one concern per module.

- client: FakeMLClient, the state owner (jobs, assets, call log, lock) and its test controls
- wire: workspace ids, the azure-core errors the SDK raises, the cancel poller
- faults: scripted and seeded control-plane faults (429, 5xx, connection, lost responses)
- lifecycle: JobScript and the per-job phases drawn on the fake clock
- commands: running a job's command locally, as the service would run it
- persistence: the workspace's state in one JSON file, shared by processes
- ops, jobs, assets: the operation groups (jobs; data, environments, models, code)
- transport, http, service: the workspace as an HTTP service behind azure-core's transport (the real MLClient)
- routes_workspace, routes_jobs, routes_assets, routes_runs, routes_blobs, blobs: that service's REST routes

Import the operation-level fake through `rjobs.testing.fake_mlclient`; the HTTP one through `transport`.
"""
