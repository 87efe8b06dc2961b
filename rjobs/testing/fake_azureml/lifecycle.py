"""A job's life in the fake workspace: phases planned at creation (scripted or drawn from a per-job seed), walked on
the fake clock; cancellation and the outcome are decided by the client, which owns the records."""

from __future__ import annotations

import base64
import fnmatch
import random
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

TERMINAL = frozenset({"Completed", "Failed", "Canceled", "NotResponding", "Paused"})
FINAL = frozenset({"Completed", "Failed", "Canceled"})
"""What a cancel cannot change: a NotResponding or Paused job is still the service's to stop (or to resume)."""
RECOVERED_RUN_S = 10.0
CANCEL_DELAY = 5.0
"""Fake seconds between a cancel request and the job being Canceled (CancelRequested in between)."""
FINALIZE_SECONDS = 1.0


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
    recover_s: float | None = None
    """With outcome NotResponding: the job returns to Running after this many seconds, then completes."""


@dataclass
class Cluster:
    """A compute cluster of `nodes` nodes, one job each, first come first served, with the overheads a job pays before
    and after its command: when the fake is given one, a job's phases come from here (bench/packing_model.py).

    allocate_s: provisioning every node, in parallel, from the first job (a cold cluster; 0 when warm);
    image_pull_s: each node's first job pulls the image; queue_s: scheduling once a node is free; start_s: container
    start, code snapshot and mounts; finalize_s: outputs upload; submit_s: the service's time per create request.
    A cancelled job keeps its node until its planned end (the model does not need early release)."""

    nodes: int
    allocate_s: float = 0.0
    image_pull_s: float = 0.0
    queue_s: float = 20.0
    start_s: float = 45.0
    finalize_s: float = 20.0
    submit_s: float = 1.0
    free_at: list[float] = field(default_factory=list)
    pulled: set[int] = field(default_factory=set)

    def phases(self, now: float, run_s: float) -> list[list[Any]]:
        """The next job's phases, created at `now` and running `run_s`: it takes the node free first."""
        if not self.free_at:
            self.free_at = [now + self.allocate_s] * self.nodes
        node = min(range(self.nodes), key=lambda index: (self.free_at[index], index))
        start = max(now, self.free_at[node]) + self.queue_s
        prepare = self.start_s + (0.0 if node in self.pulled else self.image_pull_s)
        self.pulled.add(node)
        self.free_at[node] = start + prepare + run_s + self.finalize_s
        return [["Queued", start - now], ["Preparing", prepare], ["Running", run_s], ["Finalizing", self.finalize_s]]


@dataclass
class JobPlanner:
    """Plans each new job: scripted fields first (the last matching script wins), the rest drawn from a seed of
    (client seed, job name), so a job behaves the same whichever order jobs are created in."""

    seed: int
    queue_range: tuple[float, float]
    prepare_range: tuple[float, float]
    run_range: tuple[float, float]
    failure_rate: float
    preemption_rate: float
    not_responding_rate: float
    run_commands: bool
    scripts: list[tuple[str, JobScript]] = field(default_factory=list)
    cluster: Cluster | None = None

    def script(self, pattern: str, script: JobScript) -> None:
        self.scripts.append((pattern, script))

    def script_for(self, name: str) -> JobScript:
        for pattern, script in reversed(self.scripts):
            if fnmatch.fnmatch(name, pattern):
                return script
        return JobScript()

    def plan(self, name: str, now: float = 0.0) -> dict[str, Any]:
        """Phases, outcome, log, artifacts and whether to run the command, as JSON-ready fields of a job record."""
        script = self.script_for(name)
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
        if outcome == "NotResponding" and script.recover_s is not None:
            phases += [["NotResponding", script.recover_s], ["Running", RECOVERED_RUN_S]]
            outcome = "Completed"
        if outcome == "Completed" or outcome == "Failed":
            phases.append(["Finalizing", FINALIZE_SECONDS])
        if self.cluster is not None:
            phases = self.cluster.phases(now, run)
        return {
            "phases": phases,
            "outcome": outcome,
            "log": script.log,
            "artifacts": encode_artifacts(script.artifacts or {}),
            "run_command": self.run_commands if script.run_command is None else script.run_command,
        }


def encode_artifacts(artifacts: Mapping[str, bytes | str | FakeSymlink]) -> dict[str, dict[str, str]]:
    """Scripted artifacts as JSON: base64 bytes, or a symlink's target."""
    encoded = {}
    for key, value in artifacts.items():
        if isinstance(value, FakeSymlink):
            encoded[key] = {"symlink": value.target}
        else:
            raw = value.encode() if isinstance(value, str) else value
            encoded[key] = {"b64": base64.b64encode(raw).decode()}
    return encoded


def phase_at(record: Mapping[str, Any], now: float) -> str | None:
    """The planned phase at `now`, or None once every phase has passed."""
    elapsed = now - record["created"]
    offset = 0.0
    for state, duration in record["phases"]:
        if elapsed < offset + duration:
            return str(state)
        offset += duration
    return None


def artifact_dir(store: Path, name: str) -> Path:
    """Where a job's artifacts (user_logs/, outputs/) live in the fake's store."""
    return store / "artifacts" / name


def write_default_log(folder: Path, record: Mapping[str, Any], outcome: str) -> None:
    """A job that did not run locally still leaves a log (scripted, or one naming its command), as Azure would."""
    log = folder / "user_logs" / "std_log.txt"
    if log.exists() or record.get("image_build_failed"):  # no user code ran: no user log
        return
    log.parent.mkdir(parents=True, exist_ok=True)
    text = record.get("log")
    if text is None:
        text = f"fake job {record['rest']['name']}: {record['rest']['properties'].get('command', '')}\n"
        if outcome != "Completed":
            text += f"fake job ended {outcome}\n"
    log.write_text(text)


IMAGE_BUILD_LOG = "azureml-logs/20_image_build_log.txt"
IMAGE_BUILD_S = 120.0


def failed_image_build(log: str) -> dict[str, Any]:
    """The plan of a job whose environment's image fails to build: the service builds the image when the first job
    uses the environment, the job fails while preparing, and only the build log is left (no user_logs)."""
    return {
        "phases": [["NotStarted", 0.5], ["Queued", 5.0], ["Preparing", IMAGE_BUILD_S]],
        "outcome": "Failed",
        "log": None,
        "artifacts": encode_artifacts({IMAGE_BUILD_LOG: log}),
        "run_command": False,
        "image_build_failed": True,
    }
