"""Early termination as Azure ML defines it, on the primary metric's intermediate values: each value a trial reports
is one interval; a policy is applied at interval n when n is past delay_evaluation and a multiple of
evaluation_interval, comparing the trial with the other trials' values at the same interval."""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence

from rjobs.inputs.result_options import Objective
from rjobs.search.sweep_file import EarlyTermination


def applies_at(policy: EarlyTermination, interval: int) -> bool:
    """Whether the policy is evaluated at this (1-based) interval."""
    return interval > policy.delay_evaluation and interval % policy.evaluation_interval == 0


def _worse(objective: Objective, value: float, than: float) -> bool:
    return value > than if objective.goal == "min" else value < than


def bandit_stops(policy: EarlyTermination, objective: Objective, value: float, best: float) -> bool:
    """Outside the slack of the best trial at this interval: factor (best*(1+f) or best/(1+f)) or amount."""
    if policy.slack_amount is not None:
        bound = best + policy.slack_amount if objective.goal == "min" else best - policy.slack_amount
    else:
        factor = 1.0 + (policy.slack_factor or 0.0)
        bound = best * factor if objective.goal == "min" else best / factor
    return _worse(objective, value, bound)


def should_stop(
    policy: EarlyTermination, objective: Objective, mine: Sequence[float], others: Sequence[Sequence[float]]
) -> bool:
    """Whether the trial whose values so far are `mine` is stopped at its latest interval, given every other
    trial's values (finished or running)."""
    interval = len(mine)
    if interval == 0 or not applies_at(policy, interval):
        return False
    at = [values[interval - 1] for values in others if len(values) >= interval]
    if not at:
        return False
    value = mine[-1]
    if policy.type == "bandit":
        best = min(at) if objective.goal == "min" else max(at)
        return bandit_stops(policy, objective, value, best)
    if policy.type == "median_stopping":
        averages = [statistics.fmean(values[:interval]) for values in others if len(values) >= interval]
        best_so_far = min(mine) if objective.goal == "min" else max(mine)
        return _worse(objective, best_so_far, statistics.median(averages))
    if policy.type == "truncation_selection":
        everyone = [*at, value]
        cut = math.floor(len(everyone) * policy.truncation_percentage / 100.0)
        if cut == 0:
            return False
        ranked = sorted(everyone, reverse=objective.goal == "max")  # best first
        return _worse(objective, value, ranked[len(everyone) - cut - 1])
    raise ValueError(f"unknown early-termination policy {policy.type!r}")


def primary_values(steps: Sequence[dict[str, float]], metric: str) -> list[float]:
    """The metric's values in step order (a step that does not report it is not an interval of it)."""
    reported = [(entry["step"], entry[metric]) for entry in steps if metric in entry]
    return [value for _, value in sorted(reported, key=lambda pair: pair[0])]
