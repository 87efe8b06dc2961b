"""The fake Azure ML workspace behind `rjobs.testing.fake_mlclient.FakeMLClient`, one concern per module.

- client: FakeMLClient, the state owner (jobs, assets, call log, lock) and its test controls
- wire: workspace ids, the azure-core errors the SDK raises, the cancel poller
- faults: scripted and seeded control-plane faults (429, 5xx, connection, lost responses)
- lifecycle: JobScript and the per-job phases drawn on the fake clock
- commands: running a job's command locally, as the service would run it
- persistence: the workspace's state in one JSON file, shared by processes
- ops, jobs, assets: the operation groups (jobs; data, environments, models, code)

Import it through `rjobs.testing.fake_mlclient`, the public entry point.
"""
