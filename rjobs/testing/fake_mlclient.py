"""A fake azure-ai-ml MLClient: the SDK's real entities and REST conversion, a job state machine, faults, a call log.

The public entry point of the fake workspace; the parts live in rjobs.testing.fake_azureml (one concern per module)
and the clock in rjobs.testing.clock. Jobs go through `to_rest_job_object` (what `jobs.create_or_update` sends) and
back through `Job._from_rest_object`, so a job the SDK or service would reject fails here too. Time is an injected
FakeClock; faults and job behaviour come from a seed or a script, so every run of a test is the same.
"""

from __future__ import annotations

from rjobs.testing.clock import FakeClock
from rjobs.testing.fake_azureml.assets import Codes as _Codes
from rjobs.testing.fake_azureml.assets import DataOps as _DataOps
from rjobs.testing.fake_azureml.assets import Environments as _Environments
from rjobs.testing.fake_azureml.assets import Models as _Models
from rjobs.testing.fake_azureml.client import FakeMLClient
from rjobs.testing.fake_azureml.commands import PLACEHOLDER
from rjobs.testing.fake_azureml.faults import FAULT_KINDS
from rjobs.testing.fake_azureml.faults import Fault as _Fault
from rjobs.testing.fake_azureml.jobs import Jobs as _Jobs
from rjobs.testing.fake_azureml.lifecycle import CANCEL_DELAY, FINALIZE_SECONDS, TERMINAL, FakeSymlink, JobScript
from rjobs.testing.fake_azureml.ops import Ops as _Ops
from rjobs.testing.fake_azureml.wire import (
    JOB_NAME,
    RESOURCE_GROUP,
    SUBSCRIPTION,
    WORKSPACE,
    WORKSPACE_ID,
    http_error,
)
from rjobs.testing.fake_azureml.wire import DonePoller as _DonePoller
from rjobs.testing.fake_azureml.wire import ErrorResponse as _Response
from rjobs.testing.fake_azureml.wire import arm_id as _arm_id
from rjobs.testing.fake_azureml.wire import iso as _iso

__all__ = [
    "CANCEL_DELAY",
    "FAULT_KINDS",
    "FINALIZE_SECONDS",
    "JOB_NAME",
    "PLACEHOLDER",
    "RESOURCE_GROUP",
    "SUBSCRIPTION",
    "TERMINAL",
    "WORKSPACE",
    "WORKSPACE_ID",
    "FakeClock",
    "FakeMLClient",
    "FakeSymlink",
    "JobScript",
    "_Codes",
    "_DataOps",
    "_DonePoller",
    "_Environments",
    "_Fault",
    "_Jobs",
    "_Models",
    "_Ops",
    "_Response",
    "_arm_id",
    "_iso",
    "http_error",
]
