"""kill -9 of the orchestrator at seeded random points, then a re-run with the same run name: every cell ends once,
no job is started twice, finished outputs are never redone, results files are never seen half-written, and R
processes orphaned by the kill are adopted, not duplicated.

The kill points are points of progress (right after the n-th submit, status or collect call of a run, n drawn by a
seeded generator), not moments: a fast machine and a loaded one kill at the same logical points."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.reliability.support import (
    ResultsReader,
    finished_outputs,
    proc_state,
    read_launches,
    read_summary,
    write_project,
)

REPO = Path(__file__).resolve().parents[2]
needs_r = pytest.mark.r


@dataclass
class CrashLog:
    """What the kill loop did, for the assertions and the closing figures."""

    kills: int = 0
    finished_early: int = 0
    orphans: set[str] = field(default_factory=set)


def start_driver(args: list[str], env: dict[str, str], stderr: Path) -> subprocess.Popen[str]:
    with stderr.open("a") as err:
        return subprocess.Popen(
            [sys.executable, "-W", "ignore", "-m", "tests.reliability.driver", *args],
            cwd=REPO,
            env=env,
            stdout=subprocess.PIPE,
            stderr=err,
            text=True,
        )


def run_to_end(args: list[str], env: dict[str, str], stderr: Path, timeout: float = 120.0) -> str:
    proc = start_driver(args, env, stderr)
    out, _ = proc.communicate(timeout=timeout)
    assert proc.returncode == 0, stderr.read_text()[-3000:]
    return out


@dataclass(frozen=True)
class KillPoints:
    """Which backend calls a kill may follow, and how far into a run: n is drawn from 1..most."""

    events: tuple[str, ...]
    most: int

    def draw(self, rng: random.Random) -> str:
        return f"{rng.choice(self.events)}:{rng.randint(1, self.most)}"


def kill_at_random(args: list[str], env: dict[str, str], stderr: Path, point: str) -> bool:
    """Run the driver until it SIGKILLs itself at the given point of progress; False if it finished first."""
    proc = start_driver([*args, "--kill-at", point], env, stderr)
    proc.communicate(timeout=120)
    if proc.returncode == 0:
        return False
    assert proc.returncode == -signal.SIGKILL, stderr.read_text()[-3000:]
    return True


def orphaned_jobs(run_dir: Path) -> set[str]:
    """Local jobs whose supervisor is still running with no exit record: what a re-run must adopt."""
    orphans = set()
    for handle_file in run_dir.glob("*/.jobs/*/handle.json"):
        if (handle_file.parent / "exit.json").exists():
            continue
        handle = json.loads(handle_file.read_text())
        state = proc_state(int(handle["data"]["pid"]))
        if state is not None and state[0] not in ("Z", "X"):
            orphans.add(handle["job_name"])
    return orphans


def crash_loop(
    args: list[str],
    env: dict[str, str],
    tmp_path: Path,
    run_dir: Path,
    *,
    seed: int,
    kills: int,
    points: KillPoints,
    watch_orphans: bool = False,
) -> tuple[CrashLog, ResultsReader]:
    """Kill the driver `kills` times, checking between runs that no finished output changed, then run it to the
    end; a reader thread parses the results files all along."""
    rng = random.Random(seed)
    log = CrashLog()
    stderr = tmp_path / "driver.stderr"
    reader = ResultsReader(run_dir.parent).start()
    finished: dict[Path, tuple[int, bytes]] = {}
    try:
        for _ in range(kills):
            if kill_at_random(args, env, stderr, points.draw(rng)):
                log.kills += 1
            else:
                log.finished_early += 1
            if watch_orphans:
                log.orphans |= orphaned_jobs(run_dir)
            now = finished_outputs(run_dir)
            assert {p: now.get(p) for p in finished} == finished, "a finished output changed"
            finished = now
        out = run_to_end(args, env, stderr)
        assert out.split() == ["imported", "ready", "done"]
        assert {p: v for p, v in finished_outputs(run_dir).items() if p in finished} == finished
    finally:
        reader.stop()
    return log, reader


@pytest.mark.slow
@needs_r
def test_local_sweep_survives_sigkill_at_random_points(tmp_path: Path) -> None:
    cells, fail_seed = 24, 5
    job = write_project(
        tmp_path / "project",
        inputs={"seed": 1, "pause": 0.3, "fail": fail_seed},
        grid={"seed": list(range(1, cells + 1))},
    )
    results, run = tmp_path / "results", "crash"
    marker = tmp_path / "launches.txt"
    env = {**os.environ, "RJOBS_MARKER": str(marker)}
    args = ["--job", str(job), "--results", str(results), "--run", run, "--max-concurrent", "3", "--retries", "1"]
    args += ["--report", str(tmp_path / "report.json")]

    points = KillPoints(("submit", "collect"), most=3)
    log, reader = crash_loop(args, env, tmp_path, results / run, seed=1, kills=8, points=points, watch_orphans=True)

    summary = read_summary(results / run)
    assert len(summary) == cells
    by_seed = {int(row["param.seed"]): row for row in summary.values()}
    assert {s: r["status"] for s, r in by_seed.items()} == {
        s: "Failed" if s == fail_seed else "Completed" for s in range(1, cells + 1)
    }
    assert by_seed[fail_seed]["attempt"] == "2"
    launches = Counter(launch.job_name for launch in read_launches(marker))
    expected = {f"{run}-{cell}" for cell in summary} | {by_seed[fail_seed]["job_name"]}
    assert set(launches) == expected
    assert [name for name, n in launches.items() if n > 1] == [], "a job's R process was started twice"
    assert log.kills >= 4, log
    assert log.orphans, "no kill left an R process running: the adoption path was not exercised"
    for name in log.orphans:
        assert launches[name] == 1
        cell = name.removeprefix(f"{run}-").split("-r")[0]
        assert summary[cell]["status"] in ("Completed", "Failed")
        assert (results / run / cell / ".jobs" / name / "exit.json").is_file()
    assert reader.errors == []
    assert reader.reads["status.json"] > 0 and reader.reads["summary.csv"] > 0
    final = json.loads((results / run / "run.json").read_text())
    assert (final["completed"], final["failed"], final["cancelled"]) == (cells - 1, 1, 0)
    print(f"\nlocal crash: {log.kills} kills, {len(log.orphans)} orphans adopted, {len(launches)} R launches, ", end="")
    print(f"{sum(reader.reads.values())} clean reads of results files")


@pytest.mark.slow
@pytest.mark.azure_fake
def test_azure_sweep_survives_sigkill_at_random_points(tmp_path: Path) -> None:
    cells, run = 30, "fkcrash"
    job = write_project(tmp_path / "project", grid={"seed": list(range(1, cells + 1))}, azure=True)
    results, state, calls = tmp_path / "results", tmp_path / "fake-state.json", tmp_path / "calls.jsonl"
    args = ["--backend", "fake", "--state", str(state), "--call-log", str(calls), "--failure-rate", "0.2"]
    args += ["--job", str(job), "--results", str(results), "--run", run, "--max-concurrent", "6", "--retries", "1"]
    args += ["--interval", "15", "--seed", "11"]

    points = KillPoints(("submit", "status", "collect"), most=4)
    log, reader = crash_loop(args, dict(os.environ), tmp_path, results / run, seed=2, kills=8, points=points)

    summary = read_summary(results / run)
    assert len(summary) == cells
    assert {row["status"] for row in summary.values()} <= {"Completed", "Failed"}
    for row in summary.values():
        assert row["status"] == "Completed" or row["attempt"] == "2", row
    requests = [json.loads(line) for line in calls.read_text().splitlines()]
    outcomes = Counter((r["name"], r["outcome"]) for r in requests if r["op"] == "create.outcome")
    assert [key for key in outcomes if key[1] != "created"] == [], "a create was sent for a job that existed"
    assert [key for key, n in outcomes.items() if n > 1] == []
    creates = Counter(name for name, _ in outcomes)
    cell_jobs = {name for name in creates if name.startswith(f"{run}-")}
    expected = {f"{run}-{cell}" for cell in summary}
    expected |= {f"{run}-{cell}-r2" for cell, row in summary.items() if row["attempt"] == "2"}
    server = json.loads(state.read_text())["jobs"]
    assert cell_jobs <= expected == {name for name in server if name.startswith(f"{run}-")}
    for cell, row in summary.items():
        if row["attempt"] == "2":
            assert server[f"{run}-{cell}"]["outcome"] == "Failed", "a cell was resubmitted though its job was fine"
        assert server[row["job_name"]]["outcome"] == row["status"]
    assert sum(1 for name in server if name.startswith("rjobs-envcheck-")) == 1
    assert len({r["pid"] for r in requests}) >= log.kills + 1
    assert log.kills >= 4, log
    assert reader.errors == []
    print(f"\nfake crash: {log.kills} kills, {len(cell_jobs)} jobs created once, {len(requests)} requests, ", end="")
    print(f"{sum(reader.reads.values())} clean reads of results files")
