"""A sweep-job project in tmp_path and the engine driven as the flow drives it, without Prefect."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import yaml

from rjobs.backends.local.backend import LocalBackend
from rjobs.engine.ledger import RunLedger
from rjobs.engine.monitor import JobMonitor
from rjobs.engine.sweep import Sweep, SweepSettings
from rjobs.search.study import Study
from rjobs.search.sweep_file import SweepJob, load_sweep_job

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]


def write_project(tmp_path: Path, **changes: Any) -> Path:
    """tests/search/project copied with the R helper beside the script; top-level keys of sweep.yml replaced by
    `changes` (None removes a key). Returns the sweep YAML's path."""
    project = tmp_path / "project"
    shutil.copytree(HERE / "project", project)
    shutil.copy2(REPO / "r_src" / "rjobs_metrics.R", project / "src" / "rjobs_metrics.R")
    path = project / "sweep.yml"
    raw = yaml.safe_load(path.read_text())
    for key, value in changes.items():
        if value is None:
            raw.pop(key, None)
        else:
            raw[key] = value
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    return path


def make_study(job_path: Path, results: Path, run: str = "study", *, sampler: Any = None, wrap: Any = None) -> Study:
    """The Sweep and Study of a sweep job on the local backend, as flows/sweep_job_flow.py wires them; `wrap`
    may wrap the backend (tests.reliability.driver.KillAt)."""
    job: SweepJob = load_sweep_job(job_path)
    backend: Any = LocalBackend(check_packages=False)
    if wrap is not None:
        backend = wrap(backend)
    monitor = JobMonitor(backend, interval=0.05)
    settings = SweepSettings(run=run, retries=0, timeout_s=job.limits.trial_timeout)
    sweep = Sweep(job.spec, [], backend, RunLedger(results, run), settings, monitor)
    sweep.prepare()
    concurrent = job.limits.max_concurrent_trials or 2
    return Study(job, sweep, max_concurrent=concurrent, poll_s=0.05, sampler=sampler)


def trial_params(study: Study) -> list[dict[str, str]]:
    return [trial.params for trial in study.book.trials]
