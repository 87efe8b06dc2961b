"""Sweep jobs with real R on the local backend: random sampling reproducible by seed, re-runs reuse finished trials,
early termination stops the trials the policy names and no others (as Canceled, reason "early termination"), and
Bayesian sampling beats random on a smooth R objective over the same seeds."""

from __future__ import annotations

import json
import statistics
from pathlib import Path
from typing import Any

import pytest

from rjobs.core.states import JobState
from rjobs.search.study import EARLY_TERMINATION
from tests.search.support import make_study, trial_params, write_project

pytestmark = pytest.mark.r

STEPPED = {
    "command": "Rscript quadratic.R --x ${{search_space.x}} --y ${{search_space.y}} --steps ${{inputs.steps}} "
    "--hang_above ${{inputs.hang_above}} --pause ${{inputs.pause}}",
    "code": "src",
    "environment": "azureml:r-env@latest",
}


def losses(study: Any) -> list[float | None]:
    return [trial.loss for trial in study.book.trials]


def test_random_sampling_is_reproducible_by_seed(tmp_path: Path) -> None:
    path = write_project(tmp_path, limits={"max_total_trials": 4, "max_concurrent_trials": 2})
    first = make_study(path, tmp_path / "a")
    first.run()
    again = make_study(path, tmp_path / "b")
    again.run()
    assert trial_params(first) == trial_params(again)
    assert losses(first) == losses(again) and None not in losses(first)
    for trial in first.book.trials:  # the loss R computed is the quadratic at the sampled point
        x, y = float(trial.params["x"]), float(trial.params["y"])
        assert trial.loss == pytest.approx((x - 1.3) ** 2 + (y + 0.7) ** 2, rel=1e-12)
    other_path = write_project(
        tmp_path / "other", sampling_algorithm={"type": "random", "seed": 8}, limits={"max_total_trials": 4}
    )
    other = make_study(other_path, tmp_path / "c")
    other.run()
    assert not {str(p) for p in trial_params(other)} & {str(p) for p in trial_params(first)}


def test_a_rerun_reuses_every_finished_trial(tmp_path: Path) -> None:
    path = write_project(tmp_path, limits={"max_total_trials": 3, "max_concurrent_trials": 2})
    first = make_study(path, tmp_path / "results")
    first.run()
    again = make_study(path, tmp_path / "results")
    again.run()
    summary = again.sweep.finish()
    assert trial_params(again) == trial_params(first)
    assert (summary["submitted"], summary["completed"]) == (0, 3)


POLICY_CASES = [
    # Bandit against the best trial at each interval (x=1.3, loss 0, reports 0 at every step): x=1.0 reports 0.18,
    # 0.135, 0.12, within the slack of 0.5 at every interval; x=4 and x=5 report 14.58 and 27.38 at their first.
    ({"type": "bandit", "slack_amount": 0.5}, ["1.3", "4", "1.0", "5"], ["1.0", "1.3"]),
    # Median stopping: x=4 (14.58) against x=1.0's running average 0.18; x=1.3's best (0) is never above a median;
    # x=5 (27.38) against the median of 0.18, 14.58 and 0. The first trial has nobody to be compared with.
    ({"type": "median_stopping"}, ["1.0", "4", "1.3", "5"], ["1.0", "1.3"]),
]


@pytest.mark.parametrize(("policy", "order", "completed"), POLICY_CASES, ids=["bandit", "median_stopping"])
def test_early_termination_stops_the_trials_the_policy_names_and_no_others(
    tmp_path: Path, policy: dict[str, Any], order: list[str], completed: list[str]
) -> None:
    """One trial at a time, in grid order, each reporting loss*(1+1/step) at steps 1-3 with 0.3 s between them;
    a trial whose loss is above 1 keeps running after its steps, so only a cancel ends it. The policy's decisions
    depend only on values every compared trial has reported, so they are the same on any machine."""
    path = write_project(
        tmp_path,
        trial=STEPPED,
        inputs={"steps": 3, "hang_above": 1, "pause": 0.3},
        sampling_algorithm="grid",
        search_space={"x": {"type": "choice", "values": order}, "y": {"type": "choice", "values": [-0.7]}},
        limits={"max_total_trials": 10, "max_concurrent_trials": 1, "trial_timeout": 90},
        early_termination={**policy, "evaluation_interval": 1, "delay_evaluation": 0},
    )
    study = make_study(path, tmp_path / "results")
    study.run()
    states = {trial.params["x"]: trial.state for trial in study.book.trials}
    assert states == {x: "completed" if x in completed else "terminated" for x in order}
    for trial in study.book.trials:
        record = study.sweep.ledger.load(trial.cell)
        assert record is not None
        if trial.state == "terminated":
            assert (record.job_state, record.error) == (JobState.CANCELED, EARLY_TERMINATION)
        else:
            assert record.job_state == JobState.COMPLETED and record.collected
    summary = study.sweep.finish()
    assert (summary["completed"], summary["cancelled"], summary["failed"]) == (2, 2, 0)
    again = make_study(path, tmp_path / "results")  # a re-run neither re-runs nor re-judges them
    again.run()
    assert again.sweep.finish()["submitted"] == 0
    assert [t.state for t in again.book.trials] == [t.state for t in study.book.trials]


@pytest.mark.slow
def test_bayesian_beats_random_on_an_r_quadratic_over_the_same_seeds(tmp_path: Path) -> None:
    """Best of 20 sequential trials (one at a time, so each run is deterministic), seeds 0-2, for both samplers."""
    best: dict[str, list[float]] = {"random": [], "bayesian": []}
    for seed in range(3):
        for sampler in best:
            path = write_project(
                tmp_path / f"{sampler}{seed}",
                sampling_algorithm={"type": sampler, "seed": seed},
                limits={"max_total_trials": 20, "max_concurrent_trials": 1},
            )
            study = make_study(path, tmp_path / "results", run=f"{sampler}-{seed}")
            study.run()
            found = [loss for loss in losses(study) if loss is not None]
            assert len(found) == 20
            best[sampler].append(min(found))
    report = {name: [round(value, 4) for value in values] for name, values in best.items()}
    (tmp_path / "best.json").write_text(json.dumps(report))
    print(f"best of 20 by seed: {report}")
    assert statistics.fmean(best["bayesian"]) < statistics.fmean(best["random"])


def test_the_sweep_timeout_cancels_running_trials_and_asks_no_more(tmp_path: Path) -> None:
    """Trials that never end on their own (loss above hang_above: -1): the sweep's 2 s timeout cancels the two in
    flight, asks no third, and leaves them running in study.json, so a re-run would run them again."""
    path = write_project(
        tmp_path,
        trial=STEPPED,
        inputs={"steps": 1, "hang_above": -1, "pause": 0},
        limits={"max_total_trials": 6, "max_concurrent_trials": 2, "timeout": 2},
    )
    study = make_study(path, tmp_path / "results")
    study.run()
    assert [trial.state for trial in study.book.trials] == ["running", "running"]
    summary = study.sweep.finish()
    assert (summary["cells"], summary["cancelled"], summary["completed"]) == (2, 2, 0)
