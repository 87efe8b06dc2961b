"""An Azure ML sweep-job YAML (`type: sweep`) read with Azure ML's keys: its trial becomes the command job each
trial runs, with ${{search_space.x}} bound like an input; every problem is a one-line InputError naming the key."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rjobs.core.errors import InputError
from rjobs.inputs.result_options import Objective
from rjobs.inputs.spec import JobSpec, job_spec_from_raw
from rjobs.inputs.yaml_source import read_yaml_file
from rjobs.search.space import BOUNDED, Dimension, parse_space

SAMPLERS = ("grid", "random", "bayesian")
POLICIES = ("bandit", "median_stopping", "truncation_selection")
SEARCH_REF = re.compile(r"\$\{\{\s*search_space\.([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")
SWEEP_KEYS = frozenset(
    {"sampling_algorithm", "search_space", "objective", "limits", "early_termination", "trial", "type", "$schema"}
)
JOB_KEYS = ("inputs", "outputs", "compute", "display_name", "experiment_name", "description", "tags", "name")
GOALS = {"minimize": "min", "maximize": "max"}
DEFAULT_MAX_TOTAL_TRIALS = 1000
"""Azure ML's own default for max_total_trials."""


@dataclass(frozen=True)
class Limits:
    max_total_trials: int = DEFAULT_MAX_TOTAL_TRIALS
    max_concurrent_trials: int | None = None
    timeout: float | None = None
    """Seconds the whole sweep may take: no trial starts after it, and running ones are cancelled."""
    trial_timeout: float | None = None


@dataclass(frozen=True)
class Sampling:
    type: str
    seed: int = 0


@dataclass(frozen=True)
class EarlyTermination:
    """Azure ML's policy keys; intervals count the steps a trial reported."""

    type: str
    evaluation_interval: int = 1
    delay_evaluation: int = 0
    slack_factor: float | None = None
    slack_amount: float | None = None
    truncation_percentage: float = 0.0


@dataclass(frozen=True)
class SweepJob:
    spec: JobSpec
    space: Mapping[str, Dimension]
    sampling: Sampling
    objective: Objective
    limits: Limits
    early_termination: EarlyTermination | None = None
    raw: Mapping[str, Any] = field(default_factory=dict)


def is_sweep_file(path: str | Path) -> bool:
    """Whether a job YAML says `type: sweep` (an unreadable one is left to the command-job reader to report)."""
    try:
        raw = read_yaml_file(Path(path), "pass --job with the path of your job YAML")
    except InputError:
        return False
    return isinstance(raw, Mapping) and raw.get("type") == "sweep"


def _mapping(source: str, key: str, raw: Any, fix: str) -> Mapping[str, Any]:
    if not isinstance(raw, Mapping):
        raise InputError(source, key, "is missing or not a mapping", fix)
    return raw


def _whole(source: str, key: str, raw: Any, least: int) -> int:
    try:
        number = int(str(raw))
    except ValueError:
        number = least - 1
    if number < least:
        raise InputError(source, key, f"is {raw!r}", f"give a whole number of at least {least}")
    return number


def _positive(source: str, key: str, raw: Any) -> float:
    try:
        number = float(str(raw))
    except ValueError:
        number = -1.0
    if not number > 0 or number == float("inf"):
        raise InputError(source, key, f"is {raw!r}", "give a positive number of seconds")
    return number


def _fraction(source: str, key: str, raw: Any, high: float) -> float:
    try:
        number = float(str(raw))
    except ValueError:
        number = -1.0
    if not 0 <= number <= high:
        raise InputError(source, key, f"is {raw!r}", f"give a number from 0 to {high:g}")
    return number


def parse_sampling(source: str, raw: Any) -> Sampling:
    """`random`, or {type: random, seed: 7}; Azure's sobol rule is not offered."""
    body = {"type": raw} if isinstance(raw, str) else _mapping(source, "sampling_algorithm", raw, "e.g. {type: random}")
    kind = str(body.get("type", "")).lower()
    if kind not in SAMPLERS:
        raise InputError(source, "sampling_algorithm.type", f"is {body.get('type')!r}", f"use one of {SAMPLERS}")
    for key in body:
        if key not in ("type", "seed", "rule"):
            raise InputError(source, f"sampling_algorithm.{key}", "is not a key of it", "use type and seed")
    if str(body.get("rule") or "random") != "random":
        raise InputError(source, "sampling_algorithm.rule", f"is {body['rule']!r}", "only rule: random is supported")
    seed = _whole(source, "sampling_algorithm.seed", body.get("seed", 0), 0)
    return Sampling(kind, seed)


def parse_objective(source: str, raw: Any) -> Objective:
    body = _mapping(source, "objective", raw, "write objective: {goal: minimize, primary_metric: rmse}")
    goal = str(body.get("goal", "")).lower()
    if goal not in GOALS:
        raise InputError(source, "objective.goal", f"is {body.get('goal')!r}", "use minimize or maximize")
    metric = body.get("primary_metric")
    if not isinstance(metric, str) or not metric.strip():
        raise InputError(source, "objective.primary_metric", "is missing", "name a metric of outputs/metrics.json")
    return Objective(metric.strip(), GOALS[goal])  # type: ignore[arg-type]


def parse_limits(source: str, raw: Any) -> Limits:
    body = _mapping(source, "limits", raw or {}, "write limits: {max_total_trials: 20}")
    known = ("max_total_trials", "max_concurrent_trials", "timeout", "trial_timeout")
    for key in body:
        if key not in known:
            raise InputError(source, f"limits.{key}", "is not a limit", f"use {', '.join(known)}")

    def given(key: str) -> Any:
        return body.get(key)

    return Limits(
        max_total_trials=_whole(source, "limits.max_total_trials", given("max_total_trials") or 1000, 1),
        max_concurrent_trials=None
        if given("max_concurrent_trials") is None
        else _whole(source, "limits.max_concurrent_trials", given("max_concurrent_trials"), 1),
        timeout=None if given("timeout") is None else _positive(source, "limits.timeout", given("timeout")),
        trial_timeout=None
        if given("trial_timeout") is None
        else _positive(source, "limits.trial_timeout", given("trial_timeout")),
    )


def parse_early_termination(source: str, raw: Any) -> EarlyTermination | None:
    if raw is None:
        return None
    body = _mapping(source, "early_termination", raw, "e.g. {type: median_stopping, evaluation_interval: 1}")
    kind = str(body.get("type", "")).lower()
    if kind not in POLICIES:
        raise InputError(source, "early_termination.type", f"is {body.get('type')!r}", f"use one of {POLICIES}")
    allowed = {"type", "evaluation_interval", "delay_evaluation"}
    allowed |= {"bandit": {"slack_factor", "slack_amount"}, "truncation_selection": {"truncation_percentage"}}.get(
        kind, set()
    )
    for key in body:
        if key not in allowed:
            raise InputError(source, f"early_termination.{key}", f"is not a key of {kind}", f"use {sorted(allowed)}")
    key = "early_termination."
    policy = EarlyTermination(
        kind,
        evaluation_interval=_whole(source, key + "evaluation_interval", body.get("evaluation_interval", 1), 1),
        delay_evaluation=_whole(source, key + "delay_evaluation", body.get("delay_evaluation", 0), 0),
    )
    if kind == "bandit":
        factor, amount = body.get("slack_factor"), body.get("slack_amount")
        if (factor is None) == (amount is None):
            raise InputError(
                source, key + "slack_factor", "and slack_amount: give exactly one", "e.g. slack_factor: 0.1"
            )
        return EarlyTermination(
            kind,
            policy.evaluation_interval,
            policy.delay_evaluation,
            slack_factor=None if factor is None else _fraction(source, key + "slack_factor", factor, 1e9),
            slack_amount=None if amount is None else _fraction(source, key + "slack_amount", amount, 1e300),
        )
    if kind == "truncation_selection":
        percentage = _fraction(source, key + "truncation_percentage", body.get("truncation_percentage"), 99)
        return EarlyTermination(
            kind, policy.evaluation_interval, policy.delay_evaluation, truncation_percentage=percentage
        )
    return policy


def _check_combination(source: str, sampling: Sampling, space: Mapping[str, Dimension]) -> None:
    for name, dimension in space.items():
        if sampling.type == "grid" and not dimension.is_choice:
            raise InputError(
                source, f"search_space.{name}", f"is {dimension.kind}", "grid sampling takes choice only; use random"
            )
        if sampling.type == "bayesian" and dimension.kind not in BOUNDED:
            raise InputError(
                source,
                f"search_space.{name}",
                f"is {dimension.kind}, unbounded",
                f"bayesian sampling takes {', '.join(sorted(BOUNDED))}; use random",
            )


def trial_job(path: Path, raw: Mapping[str, Any], space: Mapping[str, Dimension]) -> JobSpec:
    """The command job each trial runs: the trial's keys, the sweep's inputs and outputs, and one literal input per
    search_space key, referenced where the command says ${{search_space.key}}."""
    source = str(path)
    trial = _mapping(source, "trial", raw.get("trial"), "write trial: {command: ..., code: ..., environment: ...}")
    if not isinstance(trial.get("command"), str):
        raise InputError(source, "trial.command", "is missing", "give the command, e.g. Rscript fit.R")
    inputs = dict(_mapping(source, "inputs", raw.get("inputs") or {}, "write inputs as name: {type, path}"))
    for name in space:
        if name in inputs:
            raise InputError(source, f"search_space.{name}", "is also an input", "rename one of them")
        inputs[name] = "0"
    for name in SEARCH_REF.findall(trial["command"]):
        if name not in space:
            raise InputError(
                source, "trial.command", f"uses ${{{{search_space.{name}}}}}", f"add {name} to search_space"
            )
    command = SEARCH_REF.sub(lambda match: "${{inputs." + match.group(1) + "}}", trial["command"])
    job = {k: v for k, v in trial.items() if k not in ("type", "$schema")}
    job.update({key: raw[key] for key in JOB_KEYS if key in raw})
    job.update({"type": "command", "command": command, "inputs": inputs})
    return job_spec_from_raw(path, job)


def load_sweep_job(path: str | Path) -> SweepJob:
    """Read and check a sweep-job YAML; nothing is submitted before every key has been read."""
    path = Path(path).resolve()
    source = str(path)
    raw = read_yaml_file(path, "pass --job with the path of your sweep-job YAML")
    if not isinstance(raw, Mapping) or raw.get("type") != "sweep":
        raise InputError(source, "type", "is not sweep", "set type: sweep")
    for key in raw:
        if key not in SWEEP_KEYS and key not in JOB_KEYS:
            raise InputError(
                source, key, "is not a sweep-job key", f"use {', '.join(sorted(SWEEP_KEYS | set(JOB_KEYS)))}"
            )
    space = parse_space(source, raw.get("search_space"))
    sampling = parse_sampling(source, raw.get("sampling_algorithm", "random"))
    _check_combination(source, sampling, space)
    return SweepJob(
        spec=trial_job(path, raw, space),
        space=space,
        sampling=sampling,
        objective=parse_objective(source, raw.get("objective")),
        limits=parse_limits(source, raw.get("limits")),
        early_termination=parse_early_termination(source, raw.get("early_termination")),
        raw=dict(raw),
    )
