"""A sweep job's study on the project's AzureMLBackend, over the real MLClient and the fake service's HTTP
transport: every trial is an Azure ML command job of its own, collected, with its objective read from metrics.json."""

from __future__ import annotations

import logging
import random
from pathlib import Path

import pytest
import yaml

from rjobs.core.states import JobState
from rjobs.engine.ledger import RunLedger
from rjobs.engine.monitor import JobMonitor
from rjobs.engine.sweep import Sweep, SweepSettings
from rjobs.search.samplers import RandomSampler
from rjobs.search.study import Study
from rjobs.search.sweep_file import load_sweep_job
from rjobs.testing.fake_azureml.client import FakeMLClient
from rjobs.testing.fake_azureml.transport import FakeAzureMLTransport
from tests.azure_transport.support import Phases, transport_backend
from tests.reliability.support import WORK_COMMAND, write_project

TRIALS = 4


def sweep_file(tmp_path: Path) -> Path:
    job = write_project(tmp_path / "project", azure=True)
    raw = yaml.safe_load(job.read_text())
    sweep = {
        "type": "sweep",
        "trial": {
            "command": WORK_COMMAND.replace("${{inputs.seed}}", "${{search_space.seed}}"),
            "code": raw["code"],
            "environment": raw["environment"],
        },
        "inputs": {k: v for k, v in raw["inputs"].items() if k != "seed"},
        "compute": raw["compute"],
        "experiment_name": "sweepjob",
        "sampling_algorithm": {"type": "random", "seed": 11},
        "search_space": {"seed": {"type": "randint", "upper": 1000000}},
        "objective": {"goal": "minimize", "primary_metric": "loss"},
        "limits": {"max_total_trials": TRIALS, "max_concurrent_trials": 2},
        "early_termination": {"type": "bandit", "slack_factor": 0.1},
    }
    path = job.parent / "sweep.yml"
    path.write_text(yaml.safe_dump(sweep, sort_keys=False))
    return path


def test_a_random_sweep_job_runs_each_trial_as_an_azure_job(
    transport: FakeAzureMLTransport, workspace: FakeMLClient, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    workspace.script("*", log="fake job log\n", artifacts={"outputs/metrics.json": b'{"loss": 0.25}'})
    path = sweep_file(tmp_path)
    job = load_sweep_job(path)
    backend = transport_backend(transport, path)
    clock = transport.clock
    monitor = JobMonitor(backend, interval=15.0, clock=clock, sleep=clock.sleep, rng=random.Random(0))
    sweep = Sweep(job.spec, [], backend, RunLedger(tmp_path / "results", "sj"), SweepSettings(run="sj"), monitor)
    sweep.prepare()
    setup = len(transport.records)
    study = Study(job, sweep, max_concurrent=2, poll_s=0.01)
    with caplog.at_level(logging.WARNING, logger="rjobs.search.study"):
        study.run()
    assert "early termination is off" in caplog.text
    expected = [RandomSampler(job.space, 11).ask(i, []) for i in range(TRIALS)]
    assert [trial.params for trial in study.book.trials] == expected
    assert [(trial.state, trial.loss) for trial in study.book.trials] == [("completed", 0.25)] * TRIALS
    for trial in study.book.trials:
        record = sweep.ledger.load(trial.cell)
        assert record is not None and record.job_state == JobState.COMPLETED and record.collected
        assert record.job_name == f"sj-{trial.cell}"
    assert Phases.routes(transport.records[setup:])["jobs.create_or_update"] == TRIALS
