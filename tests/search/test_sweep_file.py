"""The sweep-job reader: Azure ML's keys read into the trial's command job, sampler, objective, limits and policy;
every bad key a one-line input error naming the file and the key, exit code 2 from the command line, nothing run."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from rjobs.core.errors import InputError
from rjobs.search.sweep_file import load_sweep_job
from tests.search.support import REPO, write_project


def test_a_sweep_job_reads_into_its_trial_job_and_settings(tmp_path: Path) -> None:
    path = write_project(
        tmp_path,
        early_termination={"type": "bandit", "slack_factor": 0.1, "evaluation_interval": 2, "delay_evaluation": 1},
        limits={"max_total_trials": 9, "max_concurrent_trials": 3, "timeout": 60, "trial_timeout": 20},
    )
    job = load_sweep_job(path)
    assert job.spec.command.startswith("Rscript quadratic.R --x ${{inputs.x}} --y ${{inputs.y}}")
    assert set(job.spec.inputs) == {"steps", "x", "y"}
    assert job.spec.code == path.parent / "src"
    assert (job.sampling.type, job.sampling.seed) == ("random", 7)
    assert (job.objective.metric, job.objective.goal) == ("loss", "min")
    assert (job.limits.max_total_trials, job.limits.max_concurrent_trials) == (9, 3)
    assert (job.limits.timeout, job.limits.trial_timeout) == (60.0, 20.0)
    policy = job.early_termination
    assert policy is not None
    assert (policy.type, policy.slack_factor, policy.evaluation_interval, policy.delay_evaluation) == (
        "bandit",
        0.1,
        2,
        1,
    )


CHOICE_X = {"x": {"type": "choice", "values": [1, 2]}, "y": {"type": "choice", "values": [0]}}

BAD: list[tuple[dict[str, Any], str]] = [
    ({"sampling_algorithm": {"type": "sobol"}}, "sampling_algorithm.type"),
    ({"sampling_algorithm": {"type": "random", "seed": -1}}, "sampling_algorithm.seed"),
    ({"sampling_algorithm": {"type": "random", "rule": "sobol"}}, "sampling_algorithm.rule"),
    ({"sampling_algorithm": "grid"}, "search_space.x"),
    (
        {"sampling_algorithm": "bayesian", "search_space": {**CHOICE_X, "z": {"type": "normal", "mu": 0, "sigma": 1}}},
        "search_space.z",
    ),
    ({"search_space": None}, "search_space"),
    ({"search_space": {"x": {"type": "choice", "values": [1]}}}, "trial.command"),
    ({"objective": {"goal": "lowest", "primary_metric": "loss"}}, "objective.goal"),
    ({"objective": {"goal": "minimize"}}, "objective.primary_metric"),
    ({"objective": None}, "objective"),
    ({"limits": {"max_total_trials": 0}}, "limits.max_total_trials"),
    ({"limits": {"max_concurrent_trials": "many"}}, "limits.max_concurrent_trials"),
    ({"limits": {"timeout": -5}}, "limits.timeout"),
    ({"limits": {"max_trials": 5}}, "limits.max_trials"),
    ({"early_termination": {"type": "hyperband"}}, "early_termination.type"),
    ({"early_termination": {"type": "bandit"}}, "early_termination.slack_factor"),
    (
        {"early_termination": {"type": "bandit", "slack_factor": 0.1, "slack_amount": 1}},
        "early_termination.slack_factor",
    ),
    ({"early_termination": {"type": "median_stopping", "slack_factor": 0.1}}, "early_termination.slack_factor"),
    (
        {"early_termination": {"type": "median_stopping", "evaluation_interval": 0}},
        "early_termination.evaluation_interval",
    ),
    ({"early_termination": {"type": "truncation_selection"}}, "early_termination.truncation_percentage"),
    ({"trial": None}, "trial"),
    ({"inputs": {"x": 1, "steps": 0}}, "search_space.x"),
    ({"sweep_settings": {}}, "sweep_settings"),
]


@pytest.mark.parametrize(("changes", "key"), BAD, ids=[key for _, key in BAD])
def test_bad_sweep_jobs_name_the_key(tmp_path: Path, changes: dict[str, Any], key: str) -> None:
    path = write_project(tmp_path, **changes)
    with pytest.raises(InputError) as caught:
        load_sweep_job(path)
    assert caught.value.key == key, str(caught.value)
    assert str(path) in str(caught.value)


def test_bad_input_exits_2_with_one_line_and_runs_nothing(tmp_path: Path) -> None:
    path = write_project(tmp_path, objective={"goal": "up", "primary_metric": "loss"})
    results = tmp_path / "results"
    done = subprocess.run(
        [sys.executable, "-m", "flows.train", "--job", str(path), "--results", str(results)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "objective.goal" in lines[0] and str(path) in lines[0]
    assert not results.exists() or not any(results.iterdir())


@pytest.mark.parametrize("flag", [["--select", "loss:min"], ["--param", "x=1,2"]])
def test_grid_flags_are_refused_for_a_sweep_job(tmp_path: Path, flag: list[str]) -> None:
    path = write_project(tmp_path)
    done = subprocess.run(
        [sys.executable, "-m", "flows.train", "--job", str(path), "--dry-run", *flag],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2
    assert flag[0] in done.stderr and "sweep job" in done.stderr


def test_emit_yaml_writes_the_platform_sweep_and_says_what_it_loses(tmp_path: Path) -> None:
    import yaml

    path = write_project(tmp_path)
    out = tmp_path / "emitted"
    done = subprocess.run(
        [sys.executable, "-m", "flows.train", "--job", str(path), "--emit-yaml", str(out)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert "MLflow metric" in done.stdout
    emitted = yaml.safe_load((out / "sweep.sweep.yml").read_text())
    assert emitted["type"] == "sweep"
    assert emitted["search_space"]["x"] == {"type": "uniform", "min_value": -5, "max_value": 5}
    assert (out / emitted["trial"]["code"]).resolve() == (path.parent / "src").resolve()


def test_a_run_name_holding_another_study_is_refused(tmp_path: Path) -> None:
    path = write_project(tmp_path)
    run_dir = tmp_path / "results" / "mine"
    run_dir.mkdir(parents=True)
    (run_dir / "study.json").write_text('{"sampler": "bayesian", "seed": 1, "trials": []}')
    args = ["--job", str(path), "--results", str(tmp_path / "results"), "--run-name", "mine", "--dry-run"]
    done = subprocess.run(
        [sys.executable, "-m", "flows.train", *args], cwd=REPO, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 2
    assert "study.json: it belongs to a bayesian study with seed 1; choose another --run-name" in done.stderr


def test_dry_run_lists_the_first_trials_a_fresh_run_asks_and_runs_nothing(tmp_path: Path) -> None:
    from rjobs.search.samplers import RandomSampler

    path = write_project(tmp_path)
    results = tmp_path / "results"
    done = subprocess.run(
        [sys.executable, "-m", "flows.train", "--job", str(path), "--results", str(results), "--dry-run"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    job = load_sweep_job(path)
    for index in range(6):
        params = RandomSampler(job.space, 7).ask(index, [])
        assert f"  {index}: x={params['x']} y={params['y']}" in done.stdout  # type: ignore[index]
    assert "${{search_space.x}}" in done.stdout
    assert not results.exists()
