"""What a 50-cell sweep costs the control plane, batched and not: the numbers the report quotes."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from rjobs.backends.azureml.backend import AzureMLBackend
from rjobs.core.states import JobState
from rjobs.testing.fake_mlclient import FakeClock, FakeMLClient
from tests.azureml.conftest import PACKAGES
from tests.azureml.harness import drive

pytestmark = pytest.mark.azure_fake

CELLS = 50
REALISTIC = {"queue_range": (30.0, 300.0), "prepare_range": (10.0, 60.0), "run_range": (120.0, 600.0)}


def sweep_calls(tmp_path: Path, spec, cell_job, project: Path, list_threshold: int) -> tuple[Counter[str], int]:
    clock = FakeClock()
    fake = FakeMLClient(clock, seed=3, store=tmp_path / f"store-{list_threshold}", **REALISTIC)
    backend = AzureMLBackend(
        fake,
        environment_file=project / "environment-job.yml",
        clock=clock,
        sleep=clock.sleep,
        r_packages=lambda _code: PACKAGES,
        list_threshold=list_threshold,
    )
    data = {k: v for k, v in backend.ensure_data(spec).items() if not v.is_literal}
    backend.ensure_environment(spec)
    backend.ensure_code(spec)
    setup = fake.count()
    jobs = [cell_job(spec, {"seed": s}, data=data, run="calls") for s in range(CELLS)]
    run = drive(backend, jobs, clock.sleep, max_concurrent=10, interval=15.0)
    assert Counter(run.states.values()) == {JobState.COMPLETED: CELLS}
    return Counter(op for op, _, _ in fake.calls[setup:]), run.polls


def test_fifty_cells_cost_few_calls_each(tmp_path: Path, spec, cell_job, project: Path, capsys) -> None:
    batched, polls = sweep_calls(tmp_path, spec, cell_job, project, list_threshold=5)
    single, _ = sweep_calls(tmp_path, spec, cell_job, project, list_threshold=10_000)
    status_batched = batched["jobs.list"] + batched["jobs.get"]
    status_single = single["jobs.list"] + single["jobs.get"]
    with capsys.disabled():
        print(
            f"\n{CELLS} cells, 10 in flight, 15 s polls, {polls} polls: "
            f"batched {sum(batched.values()) / CELLS:.2f} calls/cell {dict(batched)}; "
            f"per-job get {sum(single.values()) / CELLS:.2f} calls/cell {dict(single)}"
        )
    assert batched["jobs.create_or_update"] == CELLS and batched["jobs.download"] == CELLS
    assert status_batched <= polls + batched["jobs.get"]
    assert status_batched * 3 < status_single
    assert batched["jobs.list"] <= polls * 1.1
