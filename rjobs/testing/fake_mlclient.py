"""A fake azure-ai-ml MLClient: the SDK's real entities and REST conversion, a job state machine, faults, a call log.

Jobs go through `to_rest_job_object` (what `jobs.create_or_update` sends) and back through
`Job._from_rest_object`, so a job the SDK or service would reject fails here too. Time is an injected
FakeClock; faults and job behaviour come from a seed or a script, so every run of a test is the same.
"""

from __future__ import annotations

import base64
import fnmatch
import json
import os
import random
import re
import shutil
import subprocess
import tempfile
import threading
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from azure.ai.ml._restclient.arm_ml_service.models import (
    CodeVersion,
    DataVersionBase,
    EnvironmentVersion,
    JobBase,
    ModelVersion,
)
from azure.ai.ml.entities import Data, Environment, Job, Model
from azure.ai.ml.entities._assets import Code
from azure.ai.ml.entities._job.to_rest_functions import to_rest_job_object
from azure.ai.ml.exceptions import ErrorCategory, ErrorTarget, JobException
from azure.core.exceptions import (
    HttpResponseError,
    ResourceExistsError,
    ResourceNotFoundError,
    ServiceRequestError,
    ServiceResponseError,
)
from azure.core.paging import ItemPaged
from azure.core.utils import CaseInsensitiveDict

SUBSCRIPTION = "00000000-0000-0000-0000-000000000000"
RESOURCE_GROUP = "rg-fake"
WORKSPACE = "ws-fake"
WORKSPACE_ID = (
    f"/subscriptions/{SUBSCRIPTION}/resourceGroups/{RESOURCE_GROUP}"
    f"/providers/Microsoft.MachineLearningServices/workspaces/{WORKSPACE}"
)
JOB_NAME = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9\-_]{0,254}$")
PLACEHOLDER = re.compile(r"\$\{\{\s*(inputs|outputs)\.([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")
TERMINAL = frozenset({"Completed", "Failed", "Canceled", "NotResponding", "Paused"})
CANCEL_DELAY = 5.0
FINALIZE_SECONDS = 1.0
FAULT_KINDS = ("429", "500", "502", "503", "504", "connection", "response", "lost_response")


class FakeClock:
    """Monotonic seconds that only move when a test (or the fake, per call) moves them."""

    def __init__(self, start: float = 1000.0) -> None:
        self.now = start
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.advance(seconds)

    def advance(self, seconds: float) -> None:
        self.now += max(0.0, float(seconds))


@dataclass(frozen=True)
class FakeSymlink:
    """An artifact that downloads as a symlink: what a hostile or broken store could hand a client."""

    target: str


@dataclass
class JobScript:
    """How jobs whose name matches a pattern behave; None fields come from the client's seeded ranges."""

    outcome: str | None = None
    queue_s: float | None = None
    prepare_s: float | None = None
    run_s: float | None = None
    preemptions: int | None = None
    log: str | None = None
    artifacts: Mapping[str, bytes | str | FakeSymlink] | None = None
    run_command: bool | None = None


@dataclass
class _Fault:
    operation: str
    kind: str
    times: int = 1
    retry_after: float | None = None


class _Response:
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
    reasons = {
        400: "Bad Request",
        404: "Not Found",
        409: "Conflict",
        429: "Too Many Requests",
        500: "Internal Server Error",
        502: "Bad Gateway",
        503: "Service Unavailable",
        504: "Gateway Timeout",
    }
    response = _Response(status, reasons.get(status, "Error"), message, headers)
    kind = {404: ResourceNotFoundError, 409: ResourceExistsError}.get(status, HttpResponseError)
    return kind(response=response)  # type: ignore[arg-type]


class _DonePoller:
    """begin_cancel's LROPoller stand-in: the request is accepted, the job stops later on the clock."""

    def result(self, timeout: float | None = None) -> None:
        return None

    def done(self) -> bool:
        return True

    def wait(self, timeout: float | None = None) -> None:
        return None

    def status(self) -> str:
        return "Succeeded"


def _arm_id(kind: str, name: str, version: str | None = None) -> str:
    base = f"{WORKSPACE_ID}/{kind}/{name}"
    return f"{base}/versions/{version}" if version is not None else base


def _iso(seconds: float) -> str:
    return f"2025-01-01T00:{int(seconds // 60) % 60:02d}:{int(seconds % 60):02d}Z"


class FakeMLClient:
    """Stands in for azure.ai.ml.MLClient in tests; `calls` records (operation, name, args) for every request."""

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
        self.run_commands = run_commands
        self.rscript_env = dict(rscript_env or {})
        self.advance_per_call = advance_per_call
        self.page_size = page_size
        self.queue_range, self.prepare_range, self.run_range = queue_range, prepare_range, run_range
        self.failure_rate = failure_rate
        self.preemption_rate = preemption_rate
        self.not_responding_rate = not_responding_rate
        self.fault_rates = dict(fault_rates or {})
        self.fault_operations = fault_operations
        self.retry_after = retry_after
        self.command_timeout = command_timeout
        self.subscription_id, self.resource_group_name, self.workspace_name = SUBSCRIPTION, RESOURCE_GROUP, WORKSPACE
        self.calls: list[tuple[str, str | None, dict[str, Any]]] = []
        self.lock = threading.RLock()
        self.faults_raised: list[tuple[str, str]] = []
        self._scripts: list[tuple[str, JobScript]] = []
        self._faults: list[_Fault] = []
        self._jobs: dict[str, dict[str, Any]] = {}
        self._assets: dict[str, dict[str, dict[str, dict[str, Any]]]] = {
            "data": {},
            "environments": {},
            "models": {},
            "codes": {},
        }
        self._sequence = 0
        self._load()
        self.jobs = _Jobs(self)
        self.environments = _Environments(self)
        self.data = _DataOps(self)
        self.models = _Models(self)
        self.code = _Codes(self)
        self._code = self.code

    # -- test controls -------------------------------------------------------------------------------

    def script(self, pattern: str, script: JobScript | None = None, **fields: Any) -> None:
        """Jobs whose name matches pattern (fnmatch) behave as scripted; later scripts win."""
        self._scripts.append((pattern, script or JobScript(**fields)))

    def inject(self, operation: str, kind: str, times: int = 1, retry_after: float | None = None) -> None:
        """The next `times` calls matching operation (fnmatch, e.g. 'jobs.*') fail with kind."""
        if kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault {kind!r}; known: {FAULT_KINDS}")
        self._faults.append(_Fault(operation, kind, times, retry_after))

    def tick(self, seconds: float) -> None:
        self.clock.advance(seconds)

    def count(self, operation: str | None = None) -> int:
        """Requests made, all or of one operation (fnmatch pattern)."""
        return sum(1 for op, _, _ in self.calls if operation is None or fnmatch.fnmatch(op, operation))

    def names(self, operation: str) -> list[str | None]:
        return [name for op, name, _ in self.calls if op == operation]

    def job_record(self, name: str) -> dict[str, Any]:
        return self._jobs[name]

    def state_of(self, name: str) -> str:
        return self._state(self._jobs[name])

    # -- request plumbing ----------------------------------------------------------------------------

    def _request(self, operation: str, name: str | None = None, **args: Any) -> str | None:
        """Record the call, move the clock if asked, and raise a scripted or seeded fault; returns a late fault."""
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
        for fault in self._faults:
            if fault.times > 0 and fnmatch.fnmatch(operation, fault.operation):
                fault.times -= 1
                return fault.kind, fault.retry_after
        if self.fault_rates and fnmatch.fnmatch(operation, self.fault_operations):
            draw = self.rng.random()
            for kind, rate in sorted(self.fault_rates.items()):
                if draw < rate:
                    return kind, self.retry_after
                draw -= rate
        return None, None

    def _fault_error(self, operation: str, kind: str, retry_after: float | None) -> Exception:
        if kind == "connection":
            return ServiceRequestError(f"{operation}: connection reset by peer (fake)")
        if kind in ("response", "lost_response"):
            return ServiceResponseError(f"{operation}: read timed out (fake)")
        status = int(kind)
        headers = {"Retry-After": f"{retry_after:g}"} if status == 429 and retry_after is not None else {}
        return http_error(status, f"{operation}: fake {status}", headers)

    # -- persistence ---------------------------------------------------------------------------------

    def _load(self) -> None:
        if self.persist_path is None or not self.persist_path.is_file():
            return
        state = json.loads(self.persist_path.read_text())
        self._jobs, self._assets, self._sequence = state["jobs"], state["assets"], state["sequence"]
        version, internal, gauss = state["rng"]
        self.rng.setstate((version, tuple(internal), gauss))
        if state["now"] > self.clock.now:
            self.clock.now = state["now"]

    def _save(self) -> None:
        """One writer at a time: the orchestrator's threads make requests concurrently."""
        if self.persist_path is None:
            return
        with self.lock:
            version, internal, gauss = self.rng.getstate()
            state = {
                "now": self.clock.now,
                "rng": [version, list(internal), gauss],
                "jobs": self._jobs,
                "assets": self._assets,
                "sequence": self._sequence,
            }
            temporary = self.persist_path.with_suffix(".tmp")
            temporary.write_text(json.dumps(state))
            os.replace(temporary, self.persist_path)

    # -- the job state machine -----------------------------------------------------------------------

    def _script_for(self, name: str) -> JobScript:
        for pattern, script in reversed(self._scripts):
            if fnmatch.fnmatch(name, pattern):
                return script
        return JobScript()

    def _plan(self, name: str) -> dict[str, Any]:
        """Phases and outcome for a new job: scripted fields first, the rest drawn from a per-job seed."""
        script = self._script_for(name)
        draw = random.Random(f"{self.seed}:{name}")
        queue = script.queue_s if script.queue_s is not None else draw.uniform(*self.queue_range)
        prepare = script.prepare_s if script.prepare_s is not None else draw.uniform(*self.prepare_range)
        run = script.run_s if script.run_s is not None else draw.uniform(*self.run_range)
        outcome_draw, preempt_draw = draw.random(), draw.random()
        outcome = script.outcome
        if outcome is None:
            if outcome_draw < self.failure_rate:
                outcome = "Failed"
            elif outcome_draw < self.failure_rate + self.not_responding_rate:
                outcome = "NotResponding"
            else:
                outcome = "Completed"
        preemptions = script.preemptions
        if preemptions is None:
            preemptions = 1 if preempt_draw < self.preemption_rate else 0
        slice_s = run / (preemptions + 1)
        phases: list[list[Any]] = [["NotStarted", 0.5], ["Queued", queue], ["Preparing", prepare]]
        for _ in range(preemptions):
            phases += [["Running", slice_s], ["Queued", queue], ["Preparing", prepare]]
        phases.append(["Running", slice_s])
        if outcome == "Completed" or outcome == "Failed":
            phases.append(["Finalizing", FINALIZE_SECONDS])
        artifacts = {}
        for key, value in (script.artifacts or {}).items():
            if isinstance(value, FakeSymlink):
                artifacts[key] = {"symlink": value.target}
            else:
                raw = value.encode() if isinstance(value, str) else value
                artifacts[key] = {"b64": base64.b64encode(raw).decode()}
        run_command = self.run_commands if script.run_command is None else script.run_command
        return {
            "phases": phases,
            "outcome": outcome,
            "log": script.log,
            "artifacts": artifacts,
            "run_command": run_command,
        }

    def _state(self, record: dict[str, Any]) -> str:
        """The job's status now: walk its phases on the clock; cancellation and the outcome are sticky."""
        now = self.clock.now
        if record.get("final") is not None:
            return str(record["final"])
        elapsed = now - record["created"]
        offset, current = 0.0, None
        for state, duration in record["phases"]:
            if elapsed < offset + duration:
                current = state
                break
            offset += duration
        cancel_at = record.get("cancel_at")
        if cancel_at is not None:
            if now < cancel_at + CANCEL_DELAY:
                return "CancelRequested"
            record["final"] = "Canceled"
            self._finish(record, "Canceled")
            self._save()
            return "Canceled"
        if current is not None:
            return current
        outcome = str(record["outcome"])
        if outcome == "Completed" and record["run_command"]:
            outcome = self._run_command(record)
        else:
            self._finish(record, outcome)
        record["final"] = outcome
        self._save()
        return outcome

    def _artifact_dir(self, name: str) -> Path:
        return self.store / "artifacts" / name

    def _finish(self, record: dict[str, Any], outcome: str) -> None:
        """A job that did not run locally still leaves a log and its scripted artifacts, as Azure would."""
        folder = self._artifact_dir(record["rest"]["name"])
        log = folder / "user_logs" / "std_log.txt"
        if not log.exists():
            log.parent.mkdir(parents=True, exist_ok=True)
            text = record.get("log")
            if text is None:
                text = f"fake job {record['rest']['name']}: {record['rest']['properties'].get('command', '')}\n"
                if outcome != "Completed":
                    text += f"fake job ended {outcome}\n"
            log.write_text(text)

    # -- running a job's command locally -------------------------------------------------------------

    def _resolve_input(self, value: Mapping[str, Any]) -> str:
        if value.get("jobInputType") == "literal":
            return str(value.get("value", ""))
        uri = str(value.get("uri", ""))
        if uri.startswith("azureml:") and not uri.startswith("azureml://"):
            body = uri[len("azureml:") :]
            if body.startswith("/subscriptions/"):
                parts = body.split("/")
                name, version = parts[-3], parts[-1]
            else:
                name, _, version = body.partition(":")
            asset = self._assets["data"].get(name, {}).get(version)
            if asset is None:
                raise FileNotFoundError(f"data asset {body} does not exist")
            return str(asset["properties"]["dataUri"])
        if os.path.isabs(uri):
            return uri
        raise FileNotFoundError(f"the fake cannot mount {uri}")

    def _code_path(self, code_id: str | None) -> Path | None:
        if not code_id:
            return None
        parts = code_id.rstrip("/").split("/")
        name, version = (parts[-3], parts[-1]) if code_id.startswith("/subscriptions/") else code_id.split(":")[-2:]
        asset = self._assets["codes"][name][version]
        return Path(asset["properties"]["codeUri"])

    def _run_command(self, record: dict[str, Any]) -> str:
        """Run the job as Azure would: inputs substituted into the text, through bash, in a copy of the code."""
        rest = record["rest"]
        name, properties = rest["name"], rest["properties"]
        artifacts = self._artifact_dir(name)
        work = self.store / "runs" / name
        if work.exists():
            shutil.rmtree(work)
        log_path = artifacts / "user_logs" / "std_log.txt"
        log_path.parent.mkdir(parents=True, exist_ok=True)
        try:
            code = self._code_path(properties.get("codeId"))
            if code is not None:
                shutil.copytree(code, work)
            else:
                work.mkdir(parents=True)
            inputs = {k: self._resolve_input(v) for k, v in (properties.get("inputs") or {}).items()}
        except (FileNotFoundError, KeyError, OSError) as exc:
            log_path.write_text(f"fake azureml: cannot prepare the job: {exc}\n")
            return "Failed"
        outputs = {}
        for output in properties.get("outputs") or {}:
            outputs[output] = str(self.store / "named" / name / output)
            Path(outputs[output]).mkdir(parents=True, exist_ok=True)

        def substitute(match: re.Match[str]) -> str:
            table = inputs if match.group(1) == "inputs" else outputs
            return table.get(match.group(2), match.group(0))

        command = PLACEHOLDER.sub(substitute, str(properties["command"]))
        environment = {**os.environ, **self.rscript_env, **(properties.get("environmentVariables") or {})}
        environment["AZUREML_RUN_ID"] = name
        (work / "outputs").mkdir(exist_ok=True)
        with log_path.open("wb") as log:
            try:
                result = subprocess.run(
                    ["bash", "-c", command],
                    cwd=work,
                    env=environment,
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    timeout=self.command_timeout,
                    check=False,
                )
                code_returned = result.returncode
            except subprocess.TimeoutExpired:
                log.write(b"\nfake azureml: command timed out\n")
                code_returned = -1
        record["exit_code"] = code_returned
        if (work / "outputs").is_dir():
            shutil.copytree(work / "outputs", artifacts / "outputs", dirs_exist_ok=True, symlinks=True)
        shutil.rmtree(work, ignore_errors=True)
        return "Completed" if code_returned == 0 else "Failed"

    # -- entities in and out -------------------------------------------------------------------------

    def _job_entity(self, record: dict[str, Any]) -> Job:
        rest = json.loads(json.dumps(record["rest"]))
        name = rest["name"]
        rest["id"] = _arm_id("jobs", name)
        rest["type"] = "Microsoft.MachineLearningServices/workspaces/jobs"
        rest["properties"]["status"] = self._state(record)
        rest["properties"]["services"] = {
            "Studio": {"jobServiceType": "Studio", "endpoint": f"https://ml.azure.com/runs/{name}?wsid={WORKSPACE_ID}"}
        }
        rest["systemData"] = {"createdAt": _iso(record["created"]), "createdBy": "fake"}
        return Job._from_rest_object(JobBase(rest))

    def _next_version(self, kind: str, name: str) -> str:
        versions = [v for v in self._assets[kind].get(name, {}) if v.isdigit()]
        return str(max((int(v) for v in versions), default=0) + 1)

    def _store_asset(self, kind: str, entity: Any, rest_type: type) -> Any:
        rest = entity._to_rest_object().as_dict()
        rest["id"] = _arm_id(kind, entity.name, entity.version)
        rest["name"] = entity.version
        self._sequence += 1
        rest["properties"].setdefault("properties", {})
        rest["properties"]["properties"]["fake.sequence"] = str(self._sequence)
        if kind == "models":
            rest["properties"].setdefault("flavors", {})
        self._assets[kind].setdefault(entity.name, {})[entity.version] = rest
        self._save()
        return self._asset_entity(kind, rest, rest_type)

    @staticmethod
    def _asset_entity(kind: str, rest: Mapping[str, Any], rest_type: type) -> Any:
        entity_type = {"data": Data, "environments": Environment, "models": Model, "codes": Code}[kind]
        return entity_type._from_rest_object(rest_type(json.loads(json.dumps(rest))))

    def _upload(self, kind: str, name: str, version: str, source: Path) -> Path:
        """The datastore upload, as a copy into the fake's store; returns where the asset now lives."""
        target = self.store / kind / name / version
        if target.exists():
            shutil.rmtree(target)
        target.mkdir(parents=True)
        if source.is_dir():
            shutil.copytree(source, target / source.name, symlinks=True)
        else:
            shutil.copy2(source, target / source.name)
        return target / source.name

    def _get_asset(self, kind: str, rest_type: type, name: str, version: str | None, label: str | None) -> Any:
        versions = self._assets[kind].get(name, {})
        if version is None and label is None:
            raise ValueError("give a version or a label")
        if label is not None:
            if label != "latest" or not versions:
                raise http_error(404, f"{kind} {name}@{label} not found")
            latest = max(versions.values(), key=lambda r: int(r["properties"]["properties"]["fake.sequence"]))
            return self._asset_entity(kind, latest, rest_type)
        if str(version) not in versions:
            raise http_error(404, f"{kind} {name}:{version} not found")
        return self._asset_entity(kind, versions[str(version)], rest_type)


class _Ops:
    """Operations serialise on the client's lock: the flow calls one MLClient from many task threads."""

    def __init__(self, client: FakeMLClient) -> None:
        self._client = client

    def __getattribute__(self, name: str) -> Any:
        attribute = object.__getattribute__(self, name)
        if name.startswith("_") or not callable(attribute):
            return attribute
        lock = object.__getattribute__(self, "_client").lock

        def locked(*args: Any, **kwargs: Any) -> Any:
            with lock:
                return attribute(*args, **kwargs)

        return locked


class _Jobs(_Ops):
    def create_or_update(self, job: Any, **kwargs: Any) -> Job:
        """Validate and serialise as the SDK does; the same name again is a conflict, as on the service."""
        client = self._client
        for key in ("description", "compute", "tags", "experiment_name"):
            if kwargs.get(key) is not None:
                setattr(job, key, kwargs[key])
        if not kwargs.get("skip_validation"):  # the SDK's own local validation, as JobOperations does
            job._validate(raise_error=True)
        to_rest_job_object(job)
        self._resolve_code(job)
        late = client._request("jobs.create_or_update", job.name, skip_validation=bool(kwargs.get("skip_validation")))
        if not job.name or not JOB_NAME.match(job.name):
            raise http_error(400, f"invalid job name {job.name!r}")
        if job.name in client._jobs:
            raise http_error(409, f"a job named {job.name} already exists")
        self._check_environment(job)
        rest = to_rest_job_object(job).as_dict()
        client._sequence += 1
        record = {
            "rest": rest,
            "created": client.clock.now,
            "seq": client._sequence,
            "final": None,
            "cancel_at": None,
            "exit_code": None,
        }
        record.update(client._plan(job.name))
        client._jobs[job.name] = record
        client._save()
        if late:
            raise client._fault_error("jobs.create_or_update", late, None)
        return client._job_entity(record)

    def _resolve_code(self, job: Any) -> None:
        """A local code folder is uploaded per job, as the SDK does: counted, because it's the race we avoid."""
        code = getattr(job, "code", None)
        if not code or str(code).startswith(("/subscriptions/", "azureml:")):
            if code and str(code).startswith("azureml:") and not str(code).startswith("azureml://"):
                name, _, version = str(code)[len("azureml:") :].partition(":")
                if version not in self._client._assets["codes"].get(name, {}):
                    raise http_error(404, f"code {code} not found")
            elif code:
                parts = str(code).split("/")
                if parts[-1] not in self._client._assets["codes"].get(parts[-3], {}):
                    raise http_error(404, f"code {code} not found")
            return
        path = Path(str(code))
        if not path.is_absolute():
            path = Path(job._base_path or ".") / path
        self._client.calls.append(("code.upload", job.name, {"path": str(path)}))
        created = self._client.code._register(Code(name=f"anon-{job.name}", version="1", path=str(path)))
        job.code = created.id

    def _check_environment(self, job: Any) -> None:
        environment = str(job.environment or "")
        if not environment:
            raise http_error(400, "the job has no environment")
        if environment.startswith(("azureml://", "azureml:AzureML-")):
            return
        body = environment[len("azureml:") :] if environment.startswith("azureml:") else environment
        if body.startswith("/subscriptions/"):
            parts = body.split("/")
            name, version = parts[-3], parts[-1]
        elif "@" in body:
            name, version = body.split("@", 1)[0], None
        else:
            name, _, version = body.partition(":")
        versions = self._client._assets["environments"].get(name, {})
        if not versions or (version is not None and version not in versions):
            raise http_error(404, f"environment {environment} not found")

    def get(self, name: str) -> Job:
        client = self._client
        client._request("jobs.get", name)
        if name not in client._jobs:
            raise http_error(404, f"job {name} not found")
        return client._job_entity(client._jobs[name])

    def list(
        self,
        *,
        parent_job_name: str | None = None,
        list_view_type: Any = None,
        tag: str | None = None,
        properties: str | None = None,
        **kwargs: Any,
    ) -> ItemPaged[Job]:
        """Newest first, page by page; each page is one request, filtered by tag key and properties name=value."""
        client = self._client
        filters = {"tag": tag, "properties": properties}

        def matches(record: dict[str, Any]) -> bool:
            props = record["rest"]["properties"]
            if tag:
                key, _, value = tag.partition("=")
                tags = props.get("tags") or {}
                if key not in tags or (value and tags[key] != value):
                    return False
            for item in (properties or "").split(","):
                if not item:
                    continue
                key, _, value = item.partition("=")
                own = props.get("properties") or {}
                if key not in own or (value and own[key] != value):
                    return False
            return True

        def get_next(token: str | None) -> dict[str, Any]:
            with client.lock:
                return next_page(token)

        def next_page(token: str | None) -> dict[str, Any]:
            page = int(token or 0)
            client._request("jobs.list", None, page=page, **filters)
            ordered = sorted(client._jobs.values(), key=lambda r: (-r["created"], -r["seq"]))
            selected = [r for r in ordered if matches(r)]
            size = client.page_size
            return {
                "page": page,
                "records": selected[page * size : (page + 1) * size],
                "more": (page + 1) * size < len(selected),
            }

        def extract(response: dict[str, Any]) -> tuple[str | None, Iterator[Job]]:
            entities = [client._job_entity(r) for r in response["records"]]
            return (str(response["page"] + 1) if response["more"] else None), iter(entities)

        return ItemPaged(get_next, extract)

    def begin_cancel(self, name: str, **kwargs: Any) -> _DonePoller:
        client = self._client
        client._request("jobs.begin_cancel", name)
        if name not in client._jobs:
            raise http_error(404, f"job {name} not found")
        record = client._jobs[name]
        if client._state(record) not in TERMINAL and record.get("cancel_at") is None:
            record["cancel_at"] = client.clock.now
            client._save()
        return _DonePoller()

    def download(
        self,
        name: str,
        *,
        download_path: str | os.PathLike[str] = ".",
        output_name: str | None = None,
        all: bool = False,
    ) -> None:
        """Logs and ./outputs under artifacts/, named outputs under named-outputs/, skipping escaping names."""
        client = self._client
        client._request("jobs.download", name, output_name=output_name, all=all)
        if name not in client._jobs:
            raise http_error(404, f"job {name} not found")
        record = client._jobs[name]
        state = client._state(record)
        if state not in TERMINAL:
            message = f"This job is in state {state}. Download is allowed only in states {sorted(TERMINAL)}"
            raise JobException(
                message=message,
                no_personal_data_message=message,
                target=ErrorTarget.JOB,
                error_category=ErrorCategory.USER_ERROR,
            )
        destination = Path(download_path)
        if not output_name:
            self._write_tree(destination / "artifacts", self._artifacts(record))
        named = client.store / "named" / name
        if (all or output_name) and named.is_dir():
            for folder in sorted(named.iterdir()):
                if output_name and folder.name != output_name:
                    continue
                entries = {p.relative_to(folder).as_posix(): {"path": str(p)} for p in folder.rglob("*") if p.is_file()}
                self._write_tree(destination / "named-outputs" / folder.name, entries)

    def _artifacts(self, record: dict[str, Any]) -> dict[str, dict[str, str]]:
        folder = self._client._artifact_dir(record["rest"]["name"])
        entries: dict[str, dict[str, str]] = {}
        if folder.is_dir():
            for path in folder.rglob("*"):
                if path.is_file() and not path.is_symlink():
                    entries[path.relative_to(folder).as_posix()] = {"path": str(path)}
        entries.update(record.get("artifacts") or {})
        return entries

    @staticmethod
    def _write_tree(destination: Path, entries: Mapping[str, Mapping[str, str]]) -> None:
        """What azure-ai-ml 1.35's blob download does: names resolving outside the destination are skipped."""
        root = destination.resolve()
        for name, entry in sorted(entries.items()):
            target = Path(destination, name).resolve()
            try:
                target.relative_to(root)
            except ValueError:
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            if "symlink" in entry:
                if target.is_symlink() or target.exists():
                    target.unlink()
                target.symlink_to(entry["symlink"])
            elif "b64" in entry:
                target.write_bytes(base64.b64decode(entry["b64"]))
            else:
                shutil.copyfile(entry["path"], target)

    def stream(self, name: str) -> None:
        """Print the log once the job is terminal, moving the fake clock as the real call would wait."""
        client = self._client
        client._request("jobs.stream", name)
        if name not in client._jobs:
            raise http_error(404, f"job {name} not found")
        record = client._jobs[name]
        while client._state(record) not in TERMINAL:
            client.clock.advance(5.0)
        log = client._artifact_dir(name) / "user_logs" / "std_log.txt"
        print(log.read_text() if log.is_file() else "")


class _Environments(_Ops):
    def create_or_update(self, environment: Environment) -> Environment:
        client = self._client
        client._request("environments.create_or_update", environment.name, version=environment.version)
        version = str(environment.version or client._next_version("environments", environment.name))
        existing = client._assets["environments"].get(environment.name, {}).get(version)
        if existing is not None:
            raise http_error(409, f"environment {environment.name}:{version} exists and is immutable")
        if environment.build is not None and environment.build.path:
            context = Path(environment.build.path)
            if not context.is_absolute():
                context = Path(environment.base_path or ".") / context
            if not (context / (environment.build.dockerfile_path or "Dockerfile")).is_file():
                raise http_error(400, f"build context {context} has no Dockerfile")
            environment.build.path = str(client._upload("environments", environment.name, version, context))
        environment.version = version
        return client._store_asset("environments", environment, EnvironmentVersion)

    def get(self, name: str, version: str | None = None, label: str | None = None) -> Environment:
        self._client._request("environments.get", name, version=version, label=label)
        return self._client._get_asset("environments", EnvironmentVersion, name, version, label)

    def list(self, name: str | None = None, **kwargs: Any) -> Iterable[Environment]:
        client = self._client
        client._request("environments.list", name)
        names = [name] if name else sorted(client._assets["environments"])
        return [
            client._asset_entity("environments", rest, EnvironmentVersion)
            for n in names
            for rest in client._assets["environments"].get(n, {}).values()
        ]


class _DataOps(_Ops):
    def create_or_update(self, data: Data) -> Data:
        client = self._client
        client._request("data.create_or_update", data.name, version=data.version)
        version = str(data.version or client._next_version("data", data.name))
        if version in client._assets["data"].get(data.name, {}):
            raise http_error(409, f"data {data.name}:{version} exists and is immutable")
        path = Path(str(data.path))
        if not str(data.path).startswith(("azureml:", "https:", "http:", "abfss:", "wasbs:")):
            if not path.exists():
                raise http_error(400, f"data path {path} does not exist")
            data.path = str(client._upload("data", data.name, version, path))
        data.version = version
        return client._store_asset("data", data, DataVersionBase)

    def get(self, name: str, version: str | None = None, label: str | None = None) -> Data:
        self._client._request("data.get", name, version=version, label=label)
        return self._client._get_asset("data", DataVersionBase, name, version, label)


class _Models(_Ops):
    def create_or_update(self, model: Model) -> Model:
        """A model from a job's output must point at a Completed job's existing artifact, as the service checks."""
        client = self._client
        client._request("models.create_or_update", model.name, version=model.version, path=str(model.path))
        version = str(model.version or client._next_version("models", model.name))
        if version in client._assets["models"].get(model.name, {}):
            raise http_error(409, f"model {model.name}:{version} exists")
        path = str(model.path)
        job_uri = re.match(r"^azureml://jobs/([^/]+)/outputs/artifacts/paths/(.+)$", path)
        if job_uri:
            job, relative = job_uri.groups()
            if job not in client._jobs or client._state(client._jobs[job]) != "Completed":
                raise http_error(400, f"model path {path}: job {job} is not a Completed job")
            scripted = client._jobs[job].get("artifacts") or {}
            exists = any(n == relative or n.startswith(relative.rstrip("/") + "/") for n in scripted)
            if not exists and not (client._artifact_dir(job) / relative).exists():
                raise http_error(400, f"model path {path} does not exist")
        elif not path.startswith(("azureml:", "https:", "runs:")):
            if not Path(path).exists():
                raise http_error(400, f"model path {path} does not exist")
            model.path = str(client._upload("models", model.name, version, Path(path)))
        model.version = version
        return client._store_asset("models", model, ModelVersion)

    def get(self, name: str, version: str | None = None, label: str | None = None) -> Model:
        self._client._request("models.get", name, version=version, label=label)
        return self._client._get_asset("models", ModelVersion, name, version, label)

    def list(self, name: str | None = None, **kwargs: Any) -> Iterable[Model]:
        client = self._client
        client._request("models.list", name)
        names = [name] if name else sorted(client._assets["models"])
        return [
            client._asset_entity("models", rest, ModelVersion)
            for n in names
            for rest in client._assets["models"].get(n, {}).values()
        ]


class _Codes(_Ops):
    """MLClient._code: the code asset operations jobs.create_or_update uses to upload `code:`."""

    def create_or_update(self, code: Code) -> Code:
        self._client._request("code.create_or_update", code.name, version=code.version)
        return self._register(code)

    def _register(self, code: Code) -> Code:
        client = self._client
        version = str(code.version or client._next_version("codes", code.name))
        existing = client._assets["codes"].get(code.name, {}).get(version)
        if existing is not None:
            return client._asset_entity("codes", existing, CodeVersion)
        source = Path(str(code.path))
        if not source.is_dir() or not any(source.iterdir()):
            raise http_error(400, f"code path {source} is missing or empty")
        code.path = str(client._upload("codes", code.name, version, source))
        code.version = version
        return client._store_asset("codes", code, CodeVersion)

    def get(self, name: str, version: str) -> Code:
        self._client._request("code.get", name, version=version)
        return self._client._get_asset("codes", CodeVersion, name, version, None)


__all__ = ["FakeClock", "FakeMLClient", "FakeSymlink", "JobScript", "http_error"]
