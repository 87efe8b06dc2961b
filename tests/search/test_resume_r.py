"""kill -9 of a sweep job's orchestrator at a point of progress, then a re-run with the same run name: the study
continues (random: the same sequence an uninterrupted run asks), no trial is asked twice and no trial's job runs
twice (R processes orphaned by the kill are attached to, not restarted)."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from rjobs.search.samplers import RandomSampler
from rjobs.search.sweep_file import load_sweep_job
from rjobs.search.trials import TrialBook
from tests.search.support import REPO, write_project

pytestmark = pytest.mark.r
RUN = "resumed"


def drive(path: Path, results: Path, kill_at: str | None = None) -> subprocess.CompletedProcess[str]:
    args = [sys.executable, "-m", "tests.search.driver", "--job", str(path), "--results", str(results), "--run", RUN]
    args += ["--kill-at", kill_at] if kill_at else []
    return subprocess.run(args, cwd=REPO, capture_output=True, text=True, timeout=300)


@pytest.mark.parametrize(
    ("sampling", "kill_at"),
    [({"type": "random", "seed": 7}, "submit:3"), ({"type": "bayesian", "seed": 3}, "collect:5")],
    ids=["random-after-3rd-submit", "bayesian-after-5th-collect"],
)
def test_resume_after_kill_9_continues_the_study_without_repeating_a_trial(
    tmp_path: Path, sampling: dict[str, object], kill_at: str
) -> None:
    path = write_project(
        tmp_path, sampling_algorithm=sampling, limits={"max_total_trials": 7, "max_concurrent_trials": 2}
    )
    results = tmp_path / "results"
    killed = drive(path, results, kill_at)
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-2000:]
    before = TrialBook.open(results / RUN, str(sampling["type"]), int(str(sampling["seed"]))).trials
    assert 0 < len(before) < 7
    done = drive(path, results)
    assert done.returncode == 0, done.stderr[-2000:]
    summary = json.loads(done.stdout.strip().splitlines()[-1])
    assert (summary["cells"], summary["completed"], summary["failed"]) == (7, 7, 0)
    after = TrialBook.open(results / RUN, str(sampling["type"]), int(str(sampling["seed"]))).trials
    assert [t.index for t in after] == list(range(7))
    assert [(t.cell, t.params) for t in after[: len(before)]] == [(t.cell, t.params) for t in before]
    assert len({t.cell for t in after}) == 7
    for trial in after:  # one job per trial: nothing ran twice
        jobs = list((results / RUN / trial.cell / ".jobs").iterdir())
        assert len(jobs) == 1, (trial.index, jobs)
    if sampling["type"] == "random":
        job = load_sweep_job(path)
        expected = [RandomSampler(job.space, 7).ask(i, []) for i in range(7)]
        assert [t.params for t in after] == expected
