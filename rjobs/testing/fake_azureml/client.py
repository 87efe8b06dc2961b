"""FakeMLClient: the fake workspace's state (jobs, assets, call log) behind one re-entrant lock, and its test controls.

Jobs go through `to_rest_job_object` (what `jobs.create_or_update` sends) and back through `Job._from_rest_object`, so
a job the SDK or service would reject fails here too. Time is an injected FakeClock; faults and job behaviour come
from a seed or a script, so every run of a test is the same.
"""

from __future__ import annotations

import fnmatch
import json
import random
import tempfile
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from azure.ai.ml._restclient.arm_ml_service.models import JobBase
from azure.ai.ml.entities import Job

from rjobs.testing.clock import FakeClock
from rjobs.testing.fake_azureml.assets import Codes, DataOps, Environments, Models
from rjobs.testing.fake_azureml.commands import CommandRunner, LiveCommand
from rjobs.testing.fake_azureml.faults import FaultPlan, fault_error
from rjobs.testing.fake_azureml.jobs import Jobs
from rjobs.testing.fake_azureml.lifecycle import (
    CANCEL_DELAY,
    FINAL,
    Cluster,
    JobPlanner,
    JobScript,
    artifact_dir,
    phase_at,
    write_default_log,
)
from rjobs.testing.fake_azureml.mlflow_runs import JobRuns
from rjobs.testing.fake_azureml.persistence import Snapshot, StateFile
from rjobs.testing.fake_azureml.wire import RESOURCE_GROUP, SUBSCRIPTION, WORKSPACE, WORKSPACE_ID, arm_id, iso

Call = tuple[str, str | None, dict[str, Any]]
LIVE_WAIT_S = 0.05
"""Real seconds a read of a live command's job waits for the command: polls on the fake clock pace real R."""


class FakeMLClient:
    """Stands in for azure.ai.ml.MLClient in tests; `calls` records (operation, name, args) for every request.

    Every request and every change of a record happens under `lock` (re-entrant): the orchestrator calls one client
    from many threads, and a job's state moves (and may finish, run its command, be saved) when it is read.
    """

    def __init__(
        self,
        clock: FakeClock | None = None,
        *,
        seed: int = 0,
        store: Path | None = None,
        persist_path: Path | None = None,
        run_commands: bool = False,
        rscript_env: Mapping[str, str] | None = None,
        advance_per_call: float = 0.0,
        page_size: int = 20,
        queue_range: tuple[float, float] = (1.0, 5.0),
        prepare_range: tuple[float, float] = (1.0, 3.0),
        run_range: tuple[float, float] = (5.0, 20.0),
        failure_rate: float = 0.0,
        preemption_rate: float = 0.0,
        not_responding_rate: float = 0.0,
        fault_rates: Mapping[str, float] | None = None,
        fault_operations: str = "*",
        retry_after: float | None = 3.0,
        command_timeout: float = 300.0,
        mlflow_store: Path | None = None,
        live_commands: bool = False,
        cluster: Cluster | None = None,
    ) -> None:
        self.clock = clock or FakeClock()
        self.seed = seed
        self.rng = random.Random(seed)
        self.persist_path = Path(persist_path) if persist_path else None
        if store is None:
            store = (
                self.persist_path.with_suffix(".store")
                if self.persist_path
                else Path(tempfile.mkdtemp(prefix="fake-azureml-"))
            )
        self.store = Path(store)
        self.store.mkdir(parents=True, exist_ok=True)
        self.advance_per_call = advance_per_call
        self.page_size = page_size
        self.subscription_id, self.resource_group_name, self.workspace_name = SUBSCRIPTION, RESOURCE_GROUP, WORKSPACE
        self.planner = JobPlanner(
            seed=seed,
            queue_range=queue_range,
            prepare_range=prepare_range,
            run_range=run_range,
            failure_rate=failure_rate,
            preemption_rate=preemption_rate,
            not_responding_rate=not_responding_rate,
            run_commands=run_commands,
            cluster=cluster,
        )
        self.faults = FaultPlan(fault_rates, fault_operations, retry_after)
        self.commands = CommandRunner(self.store, rscript_env or {}, command_timeout)
        self.live_commands = live_commands
        """Commands start when their job is Running and it stays Running until they end (while their rw_mount
        outputs sync to the blobs), instead of running whole when the job's planned phases are over."""
        self._live: dict[str, LiveCommand] = {}
        self.calls: list[Call] = []
        self.lock = threading.RLock()
        self.faults_raised: list[tuple[str, str]] = []
        self.broken_images: dict[str, str] = {}
        """Environment name -> the build log of its image, which fails to build (break_image)."""
        self._jobs: dict[str, dict[str, Any]] = {}
        self._assets: dict[str, dict[str, dict[str, dict[str, Any]]]] = {
            "data": {},
            "environments": {},
            "models": {},
            "codes": {},
        }
        self._sequence = 0
        self._state_file = StateFile(self.persist_path) if self.persist_path else None
        self.job_runs = JobRuns(mlflow_store, self.store) if mlflow_store is not None else None
        """The workspace's MLflow (a sqlite store), a run per job named as the job; None: not modelled."""
        self._load()
        self.jobs = Jobs(self)
        self.environments = Environments(self)
        self.data = DataOps(self)
        self.models = Models(self)
        self.code = Codes(self)
        self._code = self.code

    # -- test controls -------------------------------------------------------------------------------

    def script(self, pattern: str, script: JobScript | None = None, **fields: Any) -> None:
        """Jobs whose name matches pattern (fnmatch) behave as scripted; later scripts win."""
        with self.lock:
            self.planner.script(pattern, script or JobScript(**fields))

    def break_image(self, environment: str, log: str) -> None:
        """Jobs on any version of `environment` created from now on fail building its image, leaving `log`."""
        with self.lock:
            self.broken_images[environment] = log

    def inject(self, operation: str, kind: str, times: int = 1, retry_after: float | None = None) -> None:
        """The next `times` calls matching operation (fnmatch, e.g. 'jobs.*') fail with kind."""
        with self.lock:
            self.faults.inject(operation, kind, times, retry_after)

    def stop_commands(self) -> None:
        """Kill every live command still running (a test's teardown): no R outlives the fake."""
        with self.lock:
            live, self._live = dict(self._live), {}
        for command in live.values():
            command.kill()
            command.log.close()

    def tick(self, seconds: float) -> None:
        self.clock.advance(seconds)

    def count(self, operation: str | None = None) -> int:
        """Requests made, all or of one operation (fnmatch pattern)."""
        with self.lock:
            return sum(1 for op, _, _ in self.calls if operation is None or fnmatch.fnmatch(op, operation))

    def names(self, operation: str) -> list[str | None]:
        with self.lock:
            return [name for op, name, _ in self.calls if op == operation]

    def job_record(self, name: str) -> dict[str, Any]:
        with self.lock:
            return self._jobs[name]

    def state_of(self, name: str) -> str:
        with self.lock:
            return self._state(self._jobs[name])

    # -- request plumbing ----------------------------------------------------------------------------

    def _request(self, operation: str, name: str | None = None, **args: Any) -> str | None:
        """Record the call, move the clock if asked, and raise a scripted or seeded fault; returns a late fault."""
        with self.lock:
            self.calls.append((operation, name, args))
            if self.advance_per_call and operation in ("jobs.get", "jobs.list"):
                self.clock.advance(self.advance_per_call)
            kind, retry_after = self._pick_fault(operation)
            self._save()
            if kind is None:
                return None
            self.faults_raised.append((operation, kind))
            if kind == "lost_response":
                return kind
            raise self._fault_error(operation, kind, retry_after)

    def _pick_fault(self, operation: str) -> tuple[str | None, float | None]:
        return self.faults.pick(operation, self._fault_draw)

    def _fault_draw(self) -> float:
        """The number a seeded fault is drawn from: the client's rng, so faults follow the order of calls."""
        return self.rng.random()

    def _fault_error(self, operation: str, kind: str, retry_after: float | None) -> Exception:
        return fault_error(operation, kind, retry_after)

    # -- persistence ---------------------------------------------------------------------------------

    def _load(self) -> None:
        if self._state_file is None:
            return
        snapshot = self._state_file.read(self.rng)
        if snapshot is None:
            return
        self._jobs, self._assets, self._sequence = snapshot.jobs, snapshot.assets, snapshot.sequence
        if snapshot.now > self.clock.now:
            self.clock.now = snapshot.now

    def _save(self) -> None:
        """One writer at a time: the orchestrator's threads make requests concurrently."""
        if self._state_file is None:
            return
        with self.lock:
            self._state_file.write(Snapshot(self.clock.now, self.rng, self._jobs, self._assets, self._sequence))

    # -- the job state machine -----------------------------------------------------------------------

    def _state(self, record: dict[str, Any]) -> str:
        """The job's status now: walk its phases on the clock; cancellation and the outcome are sticky."""
        with self.lock:
            now = self.clock.now
            final = record.get("final")
            if final is not None and (final in FINAL or record.get("cancel_at") is None):
                return str(final)
            current = phase_at(record, now)
            cancel_at = record.get("cancel_at")
            if cancel_at is not None:
                if now < cancel_at + CANCEL_DELAY:
                    return "CancelRequested"
                live = self._live.pop(record["rest"]["name"], None)
                if live is not None:  # the node stops: the command is killed, its mounts synced a last time
                    self.commands.finish(record, live)
                record["final"] = "Canceled"
                self._finish(record, "Canceled")
                self._run_ended(record, "Canceled")
                self._save()
                return "Canceled"
            if self.live_commands and record["outcome"] == "Completed" and record["run_command"]:
                return self._live_state(record, current)
            if current is not None:
                return current
            outcome = str(record["outcome"])
            if outcome == "Completed" and record["run_command"]:
                outcome = self.commands.run(record, self._assets)
            else:
                self._finish(record, outcome)
            record["final"] = outcome
            self._run_ended(record, outcome)
            self._save()
            return outcome

    def _job_created(self, record: dict[str, Any]) -> None:
        """A new job is a new run in the workspace's MLflow, in the job's experiment."""
        if self.job_runs is not None:
            properties = record["rest"]["properties"]
            experiment = properties.get("experimentName") or properties.get("experiment_name") or "Default"
            self.job_runs.start(record["rest"]["name"], str(experiment), record["created"])

    def _run_ended(self, record: dict[str, Any], outcome: str) -> None:
        if self.job_runs is not None:
            self.job_runs.finish(record["rest"]["name"], outcome, self.clock.now)

    def _live_state(self, record: dict[str, Any], current: str | None) -> str:
        """A live command's job: started once it is Running, Running while the command runs (each read waits a
        moment for it and syncs its mounts), then the rest of its planned phases and the command's outcome."""
        name = record["rest"]["name"]
        live = self._live.get(name)
        if live is None and record.get("command_outcome") is None and current in (None, "Running", "Finalizing"):
            started = self.commands.start(record, self._assets)
            if isinstance(started, str):
                record["command_outcome"] = started
            else:
                live = self._live[name] = started
        if live is not None:
            if live.running(wait=LIVE_WAIT_S):
                live.sync()
                return "Running"
            record["command_outcome"] = self.commands.finish(record, self._live.pop(name))
        if current is not None or record.get("command_outcome") is None:
            return current or "Running"
        record["final"] = str(record["command_outcome"])
        self._run_ended(record, record["final"])
        self._save()
        return str(record["final"])

    def _artifact_dir(self, name: str) -> Path:
        return artifact_dir(self.store, name)

    def _finish(self, record: dict[str, Any], outcome: str) -> None:
        """A job that did not run locally still leaves a log and its scripted artifacts, as Azure would."""
        write_default_log(self._artifact_dir(record["rest"]["name"]), record, outcome)

    def _job_entity(self, record: dict[str, Any]) -> Job:
        """The SDK's Job for a record, as `jobs.get` would return it now."""
        with self.lock:
            rest = json.loads(json.dumps(record["rest"]))
            name = rest["name"]
            rest["id"] = arm_id("jobs", name)
            rest["type"] = "Microsoft.MachineLearningServices/workspaces/jobs"
            rest["properties"]["status"] = self._state(record)
            rest["properties"]["services"] = {
                "Studio": {
                    "jobServiceType": "Studio",
                    "endpoint": f"https://ml.azure.com/runs/{name}?wsid={WORKSPACE_ID}",
                }
            }
            rest["systemData"] = {"createdAt": iso(record["created"]), "createdBy": "fake"}
        return Job._from_rest_object(JobBase(rest))
