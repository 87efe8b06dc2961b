"""SIGTERM and SIGINT to `python -m flows.train` with real R cells in flight: every job's process group ends, the
exit code is 130, the cells are Canceled in summary.csv, and a re-run continues with a new attempt for each
cancelled cell. Signals are sent at points of progress (R started, cleanup begun) and outcomes are awaited with
generous deadlines: how fast the cleanup is belongs in bench/, not here."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.reliability.support import (
    job_groups,
    live_group_members,
    read_launches,
    read_summary,
    wait_until,
    write_project,
)

REPO = Path(__file__).resolve().parents[2]
POLL_S = 0.2
OUTCOME_S = 90.0  # a bound on a hung cleanup, not a speed goal: a loaded 2-core machine must pass
pytestmark = [
    pytest.mark.slow,
    pytest.mark.r,
]

SLEEPY_R = r"""
args <- commandArgs(trailingOnly = TRUE)
seed <- args[[match("--seed", args) + 1]]
marker <- Sys.getenv("RJOBS_MARKER")
cat(sprintf("start %s %.6f %d\n", Sys.getenv("RJOBS_JOB_NAME"), as.numeric(Sys.time()), Sys.getpid()),
    file = marker, append = TRUE)
Sys.sleep(as.numeric(Sys.getenv("RJOBS_PAUSE", "0.1")))
dir.create("outputs", showWarnings = FALSE)
writeLines(sprintf('{"seed": %s}', seed), "outputs/metrics.json")
"""


@pytest.fixture
def prefect_api(prefect_server: None) -> str:
    """The session's test server, for the flow subprocesses, so none starts its own."""
    from prefect.settings import PREFECT_API_URL

    return str(PREFECT_API_URL.value())


def as_a_foreground_program() -> None:
    """SIGINT as a terminal's foreground program has it: a shell that ran us in the background (CI, nohup, `&`)
    leaves SIGINT ignored, children inherit that, and Python then never raises KeyboardInterrupt."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def train(project: Path, env: dict[str, str], stderr: Path) -> subprocess.Popen[str]:
    args = ["--job", str(project / "job.yml"), "--results", str(project / "results"), "--run-name", "sig"]
    args += ["--max-concurrent", "3", "--poll-interval", str(POLL_S), "--no-mlflow"]
    with stderr.open("a") as err:
        return subprocess.Popen(
            [sys.executable, "-m", "flows.train", *args],
            cwd=REPO,
            env=env,
            stdout=subprocess.PIPE,
            stderr=err,
            text=True,
            preexec_fn=as_a_foreground_program,
        )


SIGNALS = [
    pytest.param(signal.SIGTERM, 1, id="SIGTERM"),
    pytest.param(signal.SIGINT, 1, id="SIGINT"),
    pytest.param(signal.SIGINT, 2, id="SIGINT-twice"),
]


@pytest.mark.parametrize(("signum", "times"), SIGNALS)
def test_signal_cancels_every_job_exits_130_and_the_rerun_continues(
    tmp_path: Path, prefect_api: str, signum: signal.Signals, times: int
) -> None:
    project = tmp_path / "project"
    command = "Rscript work.R --seed ${{inputs.seed}}"
    if times > 1:  # jobs that shrug off SIGTERM keep the cleanup busy for the grace period: the repeat lands in it
        command = f"bash -c \"trap '' TERM; {command}\""
    write_project(project, script=SLEEPY_R, command=command, inputs={"seed": 1})
    (project / "grid.yml").write_text("seed: [1, 2, 3, 4, 5]\n")
    marker, stderr = tmp_path / "launches.txt", tmp_path / "train.stderr"
    env = {**os.environ, "PREFECT_API_URL": prefect_api, "RJOBS_MARKER": str(marker), "RJOBS_PAUSE": "300"}
    # the repeat must land inside the cleanup's grace period, however slowly this machine reads the log
    env["RJOBS_CANCEL_GRACE_S"] = "15" if times > 1 else "2"

    flow = train(project, env, stderr)
    try:
        assert wait_until(lambda: len(read_launches(marker)) == 3, OUTCOME_S), stderr.read_text()[-3000:]
        run_dir = project / "results" / "sig"
        # R can start before a loaded orchestrator writes the job's handle: wait for the handles, not a moment
        assert wait_until(lambda: len(job_groups(run_dir)) == 3, OUTCOME_S), stderr.read_text()[-3000:]
        groups = job_groups(run_dir)
        assert all(live_group_members(pgid) for pgid in groups.values())

        signalled = time.monotonic()
        flow.send_signal(signum)
        if times > 1:  # a second Ctrl-C while the first is being handled, as impatient users do
            assert wait_until(lambda: "interrupted: cancelled" in stderr.read_text(), OUTCOME_S)
            assert flow.poll() is None, "the cleanup ended before the second signal could land in it"
            flow.send_signal(signum)
        assert wait_until(lambda: not any(live_group_members(g) for g in groups.values()), OUTCOME_S), (
            "R still running after the cancel"
        )
        stopped_s = time.monotonic() - signalled
        flow.communicate(timeout=OUTCOME_S)
    finally:
        if flow.poll() is None:
            flow.kill()
            flow.communicate(timeout=30)

    assert flow.returncode == 130, stderr.read_text()[-3000:]
    assert "cancelled" in stderr.read_text()
    rows = read_summary(run_dir)
    in_flight = {name.removeprefix("sig-") for name in groups}
    assert {cell: row["status"] for cell, row in rows.items()} == dict.fromkeys(rows, "Canceled")
    assert all(rows[cell]["error"] == "cancelled" for cell in in_flight)
    assert json.loads((run_dir / "run.json").read_text())["cancelled"] == 5
    assert len(read_launches(marker)) == 3, "a cell started after the signal"
    print(f"\n{signum.name} x{times}: process groups gone {stopped_s:.2f} s after the signal")

    env["RJOBS_PAUSE"] = "0.1"
    rerun = train(project, env, stderr)
    rerun.communicate(timeout=2 * OUTCOME_S)
    assert rerun.returncode == 0, stderr.read_text()[-3000:]
    rows = read_summary(run_dir)
    assert {row["status"] for row in rows.values()} == {"Completed"}
    for cell, row in rows.items():
        assert row["job_name"] == (f"sig-{cell}-r2" if cell in in_flight else f"sig-{cell}")
    launched = [launch.job_name for launch in read_launches(marker)]
    assert sorted(launched) == sorted([*groups, *(row["job_name"] for row in rows.values())])
