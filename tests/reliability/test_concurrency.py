"""--max-concurrent holds under load on the local backend, as the flow runs it: never more R jobs alive at once,
by the R processes' own start/end marks and by a watcher sampling /proc."""

from __future__ import annotations

from pathlib import Path

import pytest

from flows.cli import main
from tests.reliability.support import JobProcessWatcher, max_overlap, read_launches, read_summary, write_project

pytestmark = [
    pytest.mark.slow,
    pytest.mark.usefixtures("prefect_server"),
    pytest.mark.r,
]


@pytest.mark.parametrize("limit", [1, 3])
def test_the_flow_never_runs_more_jobs_than_max_concurrent(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, limit: int
) -> None:
    marker = tmp_path / "launches.txt"
    monkeypatch.setenv("RJOBS_MARKER", str(marker))
    monkeypatch.setenv("RJOBS_BARRIER", str(limit))  # the first jobs wait for each other: the limit is reached
    job = write_project(
        tmp_path / "project", inputs={"seed": 1, "pause": 0.2, "fail": 0}, grid={"seed": [*range(1, 9)]}
    )
    run = f"conc{limit}"
    args = ["--job", str(job), "--results", str(tmp_path / "results"), "--run-name", run, "--no-mlflow"]
    args += ["--max-concurrent", str(limit), "--poll-interval", "0.05"]

    with JobProcessWatcher(prefix=f"{run}-") as watcher:
        assert main(args) == 0

    assert {row["status"] for row in read_summary(tmp_path / "results" / run).values()} == {"Completed"}
    launches = read_launches(marker)
    assert len(launches) == 8 and all(launch.end is not None for launch in launches)
    overlap = max_overlap((launch.start, launch.end) for launch in launches)  # type: ignore[misc]
    print(f"\nmax-concurrent {limit}: R overlap {overlap}, processes seen {watcher.peak} ({watcher.samples} samples)")
    assert overlap == limit  # reached, never passed
    assert 1 <= watcher.peak <= limit and watcher.samples > 10
