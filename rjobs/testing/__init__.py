"""Test doubles shared by tests and benchmarks (nothing here is imported by the product code).

- clock: FakeClock, time that moves only when slept or advanced
- fake_mlclient: FakeMLClient, the operation-level fake Azure ML workspace (parts in fake_azureml/)
- fake_azureml.transport: FakeAzureMLTransport, the same workspace as a service behind azure-core's HTTP transport,
  so the real MLClient (serialisation, retries, paging, pollers, downloads) runs against it
- keyed_faults: KeyedFaultClient, the fake with faults keyed by call and a JSON-lines call log
- scripted, scripted_jobs: ScriptedBackend, a Backend whose jobs follow scripts on a fake clock
- azurite: a throwaway Azurite blob emulator
"""
