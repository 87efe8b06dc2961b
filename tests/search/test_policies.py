"""Early-termination policies as Azure ML defines them, table-driven on the values each trial reported."""

from __future__ import annotations

import pytest

from rjobs.inputs.result_options import Objective
from rjobs.search.policies import applies_at, primary_values, should_stop
from rjobs.search.sweep_file import EarlyTermination

MIN, MAX = Objective("loss", "min"), Objective("acc", "max")
BANDIT_F = EarlyTermination("bandit", slack_factor=0.2)
BANDIT_A = EarlyTermination("bandit", slack_amount=0.5)
MEDIAN = EarlyTermination("median_stopping")
TRUNC = EarlyTermination("truncation_selection", truncation_percentage=50)

CASES = [
    # policy, objective, mine, others, stops
    (BANDIT_F, MAX, [0.60], [[0.8]], True),  # 0.60 < 0.8 / 1.2 = 0.667
    (BANDIT_F, MAX, [0.70], [[0.8]], False),
    (BANDIT_F, MIN, [1.3], [[1.0]], True),  # 1.3 > 1.0 * 1.2
    (BANDIT_F, MIN, [1.1], [[1.0]], False),
    (BANDIT_A, MIN, [1.6], [[1.0]], True),
    (BANDIT_A, MIN, [1.4], [[1.0]], False),
    (BANDIT_A, MAX, [0.2], [[0.8]], True),
    (BANDIT_F, MIN, [5.0], [], False),  # nobody to compare with
    (BANDIT_F, MIN, [1.0, 5.0], [[1.0]], False),  # nobody reached interval 2
    (MEDIAN, MIN, [3.0], [[1.0], [2.0], [9.0]], True),  # best 3 > median 2
    (MEDIAN, MIN, [5.0, 1.5], [[1.0, 1.0], [2.0, 2.0], [9.0, 9.0]], False),  # best so far 1.5 < median 2
    (MEDIAN, MIN, [3.0, 3.0], [[4.0, 0.0], [2.0, 2.0], [9.0, 9.0]], True),  # running averages 2, 2, 9
    (MEDIAN, MAX, [0.5], [[0.6], [0.7]], True),
    (TRUNC, MIN, [4.0], [[1.0], [2.0], [3.0]], True),  # worst half of 4
    (TRUNC, MIN, [2.5], [[1.0], [2.0], [3.0]], True),  # 2.5 and 3 are the worst half
    (TRUNC, MIN, [1.5], [[1.0], [2.0], [3.0]], False),
    (TRUNC, MIN, [3.0], [[1.0]], True),
    (TRUNC, MIN, [3.0], [], False),
    (EarlyTermination("truncation_selection", truncation_percentage=10), MIN, [9.0], [[1.0], [2.0]], False),
    (EarlyTermination("median_stopping", delay_evaluation=1), MIN, [9.0], [[1.0]], False),
    (EarlyTermination("median_stopping", delay_evaluation=1), MIN, [9.0, 9.0], [[1.0, 1.0]], True),
    (EarlyTermination("median_stopping", evaluation_interval=2), MIN, [9.0, 9.0, 9.0], [[1.0] * 3], False),
]


@pytest.mark.parametrize(("policy", "objective", "mine", "others", "stops"), CASES)
def test_should_stop(
    policy: EarlyTermination, objective: Objective, mine: list[float], others: list[list[float]], stops: bool
) -> None:
    assert should_stop(policy, objective, mine, others) is stops


def test_intervals_follow_evaluation_interval_after_the_delay() -> None:
    policy = EarlyTermination("bandit", evaluation_interval=2, delay_evaluation=3, slack_factor=0.1)
    assert [n for n in range(1, 11) if applies_at(policy, n)] == [4, 6, 8, 10]


def test_primary_values_in_step_order_skip_steps_without_the_metric() -> None:
    steps = [{"step": 2.0, "loss": 2.0}, {"step": 1.0, "loss": 1.0}, {"step": 3.0, "acc": 0.5}]
    assert primary_values(steps, "loss") == [1.0, 2.0]
