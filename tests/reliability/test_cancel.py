"""Sweep.cancel_all on the Azure fake: every job in flight gets begin_cancel, even one whose submit was still on
the wire and even when another cancel keeps failing; cancelled cells get a new attempt on the re-run."""

from __future__ import annotations

import random
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from rjobs.backends.azureml.backend import AzureMLBackend
from rjobs.core.states import JobState
from rjobs.engine.ledger import RunLedger
from rjobs.engine.monitor import JobMonitor
from rjobs.engine.sweep import Sweep, SweepSettings
from rjobs.testing.fake_mlclient import FakeClock, FakeMLClient
from tests.reliability.support import load_sweep, read_summary, write_project

pytestmark = pytest.mark.azure_fake
RUN = "cx"
LONG = 100_000.0  # fake seconds: a job that runs until it is cancelled


class Gate:
    """A backend whose submit of one chosen cell blocks until the test opens the gate: a submit still on the
    wire when cancel_all runs."""

    def __init__(self, backend: Any, cell: str) -> None:
        self._backend = backend
        self.cell = cell
        self.entered = threading.Event()
        self.release = threading.Event()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._backend, name)

    def submit(self, job: Any) -> Any:
        handle = self._backend.submit(job)
        if job.cell_id == self.cell:
            self.entered.set()
            assert self.release.wait(30), "the test never opened the gate"
        return handle


def build(tmp_path: Path, client: FakeMLClient, clock: FakeClock, cells: int, wrap: Callable[[Any], Any] = lambda b: b):
    """A sweep of `cells` cells on the fake, and an event set once `running` jobs are seen Running."""
    job = write_project(tmp_path / "project", grid={"seed": list(range(1, cells + 1))}, azure=True)
    backend = wrap(
        AzureMLBackend(
            client,
            environment_file=job.parent / "environment-job.yml",
            clock=clock,
            sleep=clock.sleep,
            r_packages=lambda _code: {"jsonlite": ["work.R"]},
        )
    )
    running: set[str] = set()
    seen = threading.Condition()

    def on_transition(handle: Any, previous: Any, status: Any) -> None:
        with seen:
            if status.state == JobState.RUNNING:
                running.add(handle.job_name)
                seen.notify_all()

    monitor = JobMonitor(
        backend, interval=15.0, clock=clock, sleep=clock.sleep, rng=random.Random(1), on_transition=on_transition
    )
    spec, cells_list = load_sweep(job)
    ledger = RunLedger(tmp_path / "results", RUN)
    sweep = Sweep(spec, cells_list, backend, ledger, SweepSettings(run=RUN), monitor)
    sweep.prepare()

    def wait_running(count: int) -> set[str]:
        with seen:
            assert seen.wait_for(lambda: len(running) >= count, timeout=30), running
            return set(running)

    return sweep, wait_running


def fan_out(sweep: Sweep, workers: int) -> tuple[ThreadPoolExecutor, list[Any]]:
    pool = ThreadPoolExecutor(max_workers=workers)
    return pool, [pool.submit(sweep.run_cell, cell) for cell in sweep.cells]


def fake(tmp_path: Path, clock: FakeClock) -> FakeMLClient:
    client = FakeMLClient(clock, seed=5, store=tmp_path / "store")
    client.script(f"{RUN}-*", run_s=LONG, preemptions=0, outcome="Completed")
    client.script("rjobs-envcheck-*", run_s=5.0, preemptions=0, outcome="Completed")
    return client


def test_cancel_all_cancels_every_job_in_flight_and_the_rerun_continues(tmp_path: Path) -> None:
    clock = FakeClock()
    client = fake(tmp_path, clock)
    sweep, wait_running = build(tmp_path, client, clock, cells=6)
    pool, futures = fan_out(sweep, workers=3)
    in_flight = wait_running(3)

    cancelled = sweep.cancel_all()
    for future in futures:
        future.result(timeout=30)
    pool.shutdown()

    assert set(cancelled) == in_flight
    assert set(client.names("jobs.begin_cancel")) == in_flight
    assert {client.state_of(name) for name in in_flight} == {"Canceled"}
    sweep.finish()
    rows = read_summary(sweep.ledger.run_dir)
    assert {row["status"] for row in rows.values()} == {"Canceled"}
    created = {name for name in client.names("jobs.create_or_update") if name and name.startswith(RUN)}
    assert created == in_flight, "a cell was submitted after the abort"

    client.script(f"{RUN}-*", run_s=20.0, preemptions=0, outcome="Completed")
    rerun, _ = build(tmp_path, client, clock, cells=6)
    with ThreadPoolExecutor(max_workers=3) as again:
        list(again.map(rerun.run_cell, list(rerun.cells)))
    rerun.finish()
    rows = read_summary(rerun.ledger.run_dir)
    assert {row["status"] for row in rows.values()} == {"Completed"}
    for cell, row in rows.items():
        expected = f"{RUN}-{cell}-r2" if f"{RUN}-{cell}" in in_flight else f"{RUN}-{cell}"
        assert row["job_name"] == expected


def test_a_job_submitted_while_cancel_all_runs_is_cancelled_too(tmp_path: Path) -> None:
    clock = FakeClock()
    client = fake(tmp_path, clock)
    gate: list[Gate] = []

    def wrap(backend: Any) -> Gate:
        gate.append(Gate(backend, cell=""))
        return gate[0]

    sweep, wait_running = build(tmp_path, client, clock, cells=3, wrap=wrap)
    gate[0].cell = list(sweep.cells)[2]
    pool, futures = fan_out(sweep, workers=3)
    first_two = wait_running(2)
    assert gate[0].entered.wait(30)

    sweep.cancel_all()
    gate[0].release.set()
    for future in futures:
        future.result(timeout=30)
    pool.shutdown()

    late = f"{RUN}-{gate[0].cell}"
    assert late not in first_two
    assert late in client.names("jobs.begin_cancel"), "the job created during cancel_all was left running"
    assert client.state_of(late) == "Canceled"
    assert sweep.ledger.load(gate[0].cell).job_state == JobState.CANCELED  # type: ignore[union-attr]


def test_one_cancel_that_keeps_failing_does_not_spare_the_others(tmp_path: Path) -> None:
    clock = FakeClock()
    client = fake(tmp_path, clock)
    sweep, wait_running = build(tmp_path, client, clock, cells=3)
    pool, futures = fan_out(sweep, workers=3)
    in_flight = wait_running(3)
    client.inject("jobs.begin_cancel", "503", times=4)  # the backend's own retries of the first cancel all fail

    sweep.cancel_all()
    for future in futures:
        future.result(timeout=30)
    pool.shutdown()

    assert set(client.names("jobs.begin_cancel")) == in_flight
    assert {client.state_of(name) for name in in_flight} == {"Canceled"}


class KilledOnSubmitRecord(BaseException):
    """Stands in for SIGKILL right after a submit succeeded, before the ledger recorded it."""


def test_a_job_the_ledger_never_recorded_is_recorded_as_soon_as_a_rerun_attaches(tmp_path: Path) -> None:
    """flows.cancel reads the ledger: a job adopted by the re-run must be in it while it runs, not only at the end."""
    clock = FakeClock()
    client = fake(tmp_path, clock)
    sweep, _ = build(tmp_path, client, clock, cells=1)
    (cell,) = sweep.cells
    real_save = sweep.ledger.save

    def save(record: Any) -> None:
        if record.state == JobState.QUEUED.value:
            raise KilledOnSubmitRecord
        real_save(record)

    sweep.ledger.save = save  # type: ignore[method-assign]
    with pytest.raises(KilledOnSubmitRecord):
        sweep.run_cell(cell)
    assert client.names("jobs.create_or_update")[-1] == f"{RUN}-{cell}"
    left = sweep.ledger.load(cell)  # only the intent, saved before the create (rjobs.engine.submission)
    assert left is not None and left.intent == f"{RUN}-{cell}" and left.job_name == ""

    rerun, wait_running = build(tmp_path, client, clock, cells=1)
    pool, futures = fan_out(rerun, workers=1)
    wait_running(1)
    record = rerun.ledger.load(cell)
    rerun.cancel_all()
    futures[0].result(timeout=30)
    pool.shutdown()

    assert record is not None and record.job_name == f"{RUN}-{cell}" and record.handle
    assert not record.job_state.terminal
    assert client.names("jobs.create_or_update").count(f"{RUN}-{cell}") == 1
