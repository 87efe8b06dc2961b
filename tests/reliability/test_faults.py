"""The real engine (Sweep + JobMonitor on the fake's clock) over ~100 cells of a control plane that fails 20% of
its calls, fails, pre-empts and loses jobs: every cell ends Completed, or Failed with its reason after its retry
budget; nothing is created twice; never more than max_concurrent jobs alive on the service."""

from __future__ import annotations

import random
import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from rjobs.backends.azureml.backend import AzureMLBackend
from rjobs.engine.ledger import RunLedger
from rjobs.engine.monitor import JobMonitor
from rjobs.engine.sweep import Sweep, SweepSettings
from rjobs.inputs.grid import cell_id
from rjobs.testing.fake_mlclient import FakeClock
from rjobs.testing.keyed_faults import duplicate_creates, keyed_client_class
from tests.reliability.support import (
    job_intervals,
    load_sweep,
    max_overlap,
    read_summary,
    write_project,
)

pytestmark = pytest.mark.azure_fake

# 20% of control-plane calls fail transiently; a lost response is a create the service made but whose answer
# never arrived (the client sees a read timeout).
FAULT_RATES = {"429": 0.05, "500": 0.04, "503": 0.04, "connection": 0.04, "response": 0.02, "lost_response": 0.01}
JOB_RATES = {"failure_rate": 0.10, "preemption_rate": 0.05, "not_responding_rate": 0.03}
FAILED_STATES = {"Failed", "NotResponding"}
DOOMED = (7, 42, 77)  # cells whose every attempt fails, so the budget runs out for certain


class InFlightCounter:
    """The backend as the orchestrator sees it, counting jobs submitted and not yet reported terminal."""

    def __init__(self, backend: Any) -> None:
        self._backend = backend
        self._lock = threading.Lock()
        self._alive: set[str] = set()
        self.peak = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self._backend, name)

    def submit(self, job: Any) -> Any:
        handle = self._backend.submit(job)
        with self._lock:
            self._alive.add(handle.job_name)
            self.peak = max(self.peak, len(self._alive))
        return handle

    def status(self, handles: Any) -> Any:
        found = self._backend.status(handles)
        with self._lock:
            self._alive -= {name for name, status in found.items() if status.state.terminal}
        return found


@dataclass
class ChaosRun:
    """A finished chaotic sweep and what the fake saw of it."""

    run: str
    summary: dict[str, Any]
    rows: dict[str, dict[str, str]]
    client: Any
    sweep: Sweep
    peak_in_flight: int

    @property
    def faults(self) -> list[tuple[str, str]]:
        """Faults the client actually saw: a lost response only matters to a create."""
        return [f for f in self.client.faults_raised if f[1] != "lost_response" or f[0] == "jobs.create_or_update"]


def chaos_sweep(root: Path, *, seed: int, cells: int = 100, max_concurrent: int = 8, retries: int = 2) -> ChaosRun:
    run = "chaos"
    job = write_project(root / "project", grid={"seed": list(range(1, cells + 1))}, azure=True)
    clock = FakeClock()
    client = keyed_client_class()(clock, seed=seed, store=root / "fake-store", fault_rates=FAULT_RATES, **JOB_RATES)
    client.script("rjobs-envcheck-*", outcome="Completed", preemptions=0)
    client.script(f"{run}-*", artifacts={"outputs/metrics.json": '{"score": 1.0}'})
    for seed_value in DOOMED:
        log = f"Error in fit(): singular design matrix (seed {seed_value})\nExecution halted\n"
        client.script(f"{run}-{cell_id({'seed': seed_value})}*", outcome="Failed", log=log)
    backend = AzureMLBackend(
        client,
        environment_file=job.parent / "environment-job.yml",
        clock=clock,
        sleep=clock.sleep,
        r_packages=lambda _code: {"jsonlite": ["work.R"]},
        poll_interval=15.0,
    )
    counted = InFlightCounter(backend)
    monitor = JobMonitor(counted, interval=15.0, clock=clock, sleep=clock.sleep, rng=random.Random(seed))
    spec, cells_list = load_sweep(job)
    ledger = RunLedger(root / "results", run)
    settings = SweepSettings(run=run, retries=retries)
    sweep = Sweep(spec, cells_list, counted, ledger, settings, monitor)  # type: ignore[arg-type]
    sweep.prepare()
    with ThreadPoolExecutor(max_workers=max_concurrent) as pool:
        list(pool.map(sweep.run_cell, list(sweep.cells)))
    summary = sweep.finish({"max_concurrent": max_concurrent})
    return ChaosRun(run, summary, read_summary(ledger.run_dir), client, sweep, counted.peak)


@pytest.fixture(scope="module")
def chaos(tmp_path_factory: pytest.TempPathFactory) -> ChaosRun:
    return chaos_sweep(tmp_path_factory.mktemp("chaos"), seed=20250101)


def test_every_cell_ends_completed_or_failed_within_its_budget(chaos: ChaosRun) -> None:
    assert len(chaos.rows) == 100, "cells lost"
    states = Counter(row["status"] for row in chaos.rows.values())
    assert set(states) <= {"Completed"} | FAILED_STATES, states
    for row in chaos.rows.values():
        if row["status"] != "Completed":
            assert row["attempt"] == "3", row  # retries=2: the third attempt was the last
            assert row["error"], row
    for seed_value in DOOMED:
        row = chaos.rows[cell_id({"seed": seed_value})]
        assert (row["status"], row["attempt"]) == ("Failed", "3")
        assert f"singular design matrix (seed {seed_value})" in row["error"]
    attempts = [int(row["attempt"]) for row in chaos.rows.values()]
    assert sum(a - 1 for a in attempts) <= 2 * len(attempts)
    assert "control plane kept failing" not in " ".join(row["error"] for row in chaos.rows.values())
    assert (chaos.summary["completed"], chaos.summary["cancelled"]) == (states["Completed"], 0)


def test_faults_were_injected_and_absorbed(chaos: ChaosRun) -> None:
    kinds = Counter(kind for _, kind in chaos.faults)
    assert {"429", "500", "503", "connection"} <= set(kinds), kinds
    assert "lost_response" in kinds, "no create succeeded behind the client's back: attach path not exercised"
    assert len(chaos.faults) > 0.15 * len(chaos.client.calls), "fewer faults than the rates promise"
    assert chaos.summary["transient_retries"] > 0


def test_nothing_is_created_twice_and_no_cell_resubmitted_after_success(chaos: ChaosRun) -> None:
    outcomes = [o for o in chaos.client.create_outcomes if o.name.startswith(f"{chaos.run}-")]
    assert duplicate_creates(outcomes) == []
    created = Counter(o.name for o in outcomes if o.outcome == "created")
    assert [name for name, n in created.items() if n != 1] == []
    lost_responses = [o for o in outcomes if o.outcome == "created" and o.raised]
    attached = {o.name for o in outcomes if o.outcome == "conflict"}
    assert {o.name for o in lost_responses} <= attached, "a create that raised but succeeded was not attached"
    jobs = chaos.client._jobs
    for cell, row in chaos.rows.items():
        attempts = [f"{chaos.run}-{cell}"] + [f"{chaos.run}-{cell}-r{n}" for n in range(2, int(row["attempt"]) + 1)]
        assert [name for name in jobs if name.startswith(f"{chaos.run}-{cell}")] == attempts
        for earlier in attempts[:-1]:
            assert jobs[earlier]["outcome"] in FAILED_STATES, "a cell was resubmitted though its job was fine"
        assert jobs[attempts[-1]]["outcome"] == row["status"]


def test_never_more_jobs_alive_than_max_concurrent(chaos: ChaosRun) -> None:
    spans = job_intervals(chaos.client._jobs, f"{chaos.run}-")
    assert len(spans) >= 100
    limit = chaos.summary["max_concurrent"]
    assert 2 <= max_overlap(spans.values()) <= limit  # on the service's clock: created until terminal
    # as the orchestrator saw them: never past the limit, and used. How close to the limit it gets depends on thread
    # scheduling against the shared fake clock (7 of 8 on a loaded machine), so only "used at all" is asserted here;
    # reaching the limit exactly is test_concurrency's, with a barrier.
    assert 2 <= chaos.peak_in_flight <= limit


def test_the_same_seed_gives_the_same_sweep(chaos: ChaosRun, tmp_path: Path) -> None:
    again = chaos_sweep(tmp_path, seed=20250101)
    outcome = {cell: (row["status"], row["attempt"]) for cell, row in chaos.rows.items()}
    assert {cell: (row["status"], row["attempt"]) for cell, row in again.rows.items()} == outcome
    assert sorted(again.client._jobs) == sorted(chaos.client._jobs)
    preempted = [name for name, job in chaos.client._jobs.items() if len(job["phases"]) > 5]
    not_responding = [name for name, job in chaos.client._jobs.items() if job["outcome"] == "NotResponding"]
    retries = sum(int(row["attempt"]) - 1 for row in chaos.rows.values())
    print(
        f"\nchaos: {len(chaos.rows)} cells, {len(chaos.client.calls)} calls, {len(chaos.faults)} faults injected "
        f"and absorbed ({dict(Counter(k for _, k in chaos.faults))}), {chaos.summary['transient_retries']} "
        f"control-plane retries, {retries} job retries, {len(preempted)} pre-empted, {len(not_responding)} "
        f"NotResponding, states {dict(Counter(r['status'] for r in chaos.rows.values()))}, in flight max "
        f"{max_overlap(job_intervals(chaos.client._jobs, chaos.run).values())} (service) / {chaos.peak_in_flight} "
        f"(orchestrator) of {chaos.summary['max_concurrent']}; "
        f"second run {len(again.faults)} faults"
    )
