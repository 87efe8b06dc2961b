"""A job past its --timeout is cancelled and its cell fails; its slot is free only once the service says the job
has stopped, so timeouts never push more than max_concurrent jobs onto the cluster."""

from __future__ import annotations

from pathlib import Path

import pytest

from rjobs.testing.fake_mlclient import FakeClock, FakeMLClient
from tests.reliability.support import engine_sweep, job_intervals, max_overlap, read_summary, write_project

pytestmark = pytest.mark.azure_fake


def test_timed_out_jobs_hold_their_slot_until_they_have_stopped(tmp_path: Path) -> None:
    job = write_project(tmp_path / "project", grid={"seed": list(range(1, 7))}, azure=True)
    client = FakeMLClient(FakeClock(), store=tmp_path / "store")
    client.script("to-*", run_s=10_000.0, preemptions=0, outcome="Completed")
    client.script("rjobs-envcheck-*", run_s=5.0, preemptions=0, outcome="Completed")

    sweep = engine_sweep(job, tmp_path / "results", "to", client=client, workers=2, retries=1, timeout_s=100.0)

    rows = read_summary(sweep.ledger.run_dir)
    assert {(row["status"], row["attempt"]) for row in rows.values()} == {("Failed", "1")}  # a timeout isn't retried
    assert all(row["error"].startswith("timed out") for row in rows.values())
    jobs = [name for name in client._jobs if name.startswith("to-")]
    assert sorted(client.names("jobs.begin_cancel")) == sorted(jobs)
    assert {client.state_of(name) for name in jobs} == {"Canceled"}
    assert max_overlap(job_intervals(client._jobs, "to-").values()) <= 2
