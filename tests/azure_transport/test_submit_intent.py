"""The intent to submit, recorded before the create (rjobs.engine.submission): a fresh cell costs no find, and a kill
between intent and create, or between create and the ledger's record, never makes a cell's job twice."""

from __future__ import annotations

import random
from collections import Counter
from pathlib import Path

import pytest

from rjobs.engine.ledger import RunLedger
from rjobs.engine.monitor import JobMonitor
from rjobs.engine.sweep import Sweep, SweepSettings
from rjobs.testing.fake_azureml.http import Reply, Request
from rjobs.testing.fake_azureml.transport import FakeAzureMLTransport
from tests.azure_transport.support import transport_backend
from tests.reliability.support import load_sweep, write_project

RUN = "intent"


class Killed(BaseException):
    """The orchestrator dying at a point of progress: no `except Exception` of ours or the SDK's stops it."""


@pytest.fixture
def project(tmp_path: Path) -> Path:
    return write_project(tmp_path / "project", azure=True, grid={"seed": [1, 2, 3, 4]})


def new_sweep(transport: FakeAzureMLTransport, project: Path, results: Path) -> Sweep:
    """A fresh orchestrator process on the same workspace and results folder."""
    spec, cells = load_sweep(project)
    clock = transport.clock
    backend = transport_backend(transport, project)
    monitor = JobMonitor(backend, interval=15.0, clock=clock, sleep=clock.sleep, rng=random.Random(0))
    sweep = Sweep(spec, cells, backend, RunLedger(results, RUN), SweepSettings(run=RUN), monitor)
    sweep.prepare()
    return sweep


def run_until_killed(sweep: Sweep) -> list[str]:
    """Cells one after another, as far as the kill lets them; the cells run."""
    done = []
    for cell_id in sweep.cells:
        try:
            sweep.run_cell(cell_id)
        except Killed:
            break
        done.append(cell_id)
    return done


def created_jobs(transport: FakeAzureMLTransport) -> Counter[str]:
    """The run's job names the service created (201), counted (the environment's smoke job is not the run's)."""
    return Counter(
        r.url.split("?")[0].rsplit("/jobs/", 1)[-1]
        for r in transport.records
        if r.route == "jobs.create_or_update" and r.status == 201 and f"/jobs/{RUN}-" in r.url
    )


def test_a_fresh_sweep_creates_without_finding(transport: FakeAzureMLTransport, project: Path, tmp_path: Path) -> None:
    sweep = new_sweep(transport, project, tmp_path / "results")
    before = len(transport.records)
    run_until_killed(sweep)
    assert sweep.submission.finds == 0
    cells = transport.records[before:]
    first_request_per_job = {}
    for r in cells:
        if "/jobs/" in r.url and r.host == "arm":
            first_request_per_job.setdefault(r.url.split("?")[0].rsplit("/jobs/", 1)[-1], r.route)
    assert set(first_request_per_job.values()) == {"jobs.create_or_update"}
    assert sorted(created_jobs(transport).values()) == [1] * len(sweep.cells)


@pytest.mark.parametrize("where", ["between intent and create", "between create and record"])
def test_a_kill_around_the_create_never_makes_a_job_twice(
    transport: FakeAzureMLTransport, project: Path, tmp_path: Path, where: str
) -> None:
    results = tmp_path / "results"
    first = new_sweep(transport, project, results)
    victim = list(first.cells)[2]
    victim_job = f"{RUN}-{victim}"
    answer = transport.service.answer

    def dying(request: Request) -> Reply:
        is_create = request.method == "PUT" and request.path.endswith(f"/jobs/{victim_job}")
        if is_create and where == "between intent and create":
            raise Killed(where)
        reply = answer(request)
        if is_create and reply.status == 201:
            raise Killed(where)  # the service made the job; its answer never reached the ledger
        return reply

    transport.service.answer = dying  # type: ignore[method-assign]
    assert len(run_until_killed(first)) == 2
    record = first.ledger.load(victim)
    assert record is not None and record.intent == victim_job and record.job_name == ""
    transport.service.answer = answer  # type: ignore[method-assign]

    resumed = new_sweep(transport, project, results)
    run_until_killed(resumed)
    assert resumed.submission.finds == 1  # only the cell with an intent and no job is looked for
    created = created_jobs(transport)
    assert created[victim_job] == 1 and max(created.values()) == 1
    assert len(created) == len(resumed.cells)
    assert all(r.job_state.value == "Completed" and r.collected for r in resumed.ledger.records())
