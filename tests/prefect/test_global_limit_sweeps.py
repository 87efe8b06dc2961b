"""Two sweeps sharing a Prefect global concurrency limit never have more jobs in flight together than it allows."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from rjobs.backends.base import CellJob, JobHandle, JobStatus
from rjobs.backends.local.backend import LocalBackend
from rjobs.core.states import JobState
from rjobs.engine.ledger import RunLedger
from rjobs.engine.monitor import JobMonitor
from rjobs.engine.sweep import Sweep, SweepSettings
from rjobs.inputs.grid import build_cells
from rjobs.inputs.spec import load_job_spec
from tasks.limits import ensure_limit, job_slot

pytestmark = [pytest.mark.r, pytest.mark.usefixtures("prefect_server")]


class CountingBackend(LocalBackend):
    """Real Rscript jobs, with a count of how many are between submit and a terminal status at once."""

    def __init__(self, shared: dict[str, int], lock: threading.Lock) -> None:
        super().__init__(check_packages=False)
        self.shared, self.lock = shared, lock
        self.live: set[str] = set()

    def submit(self, job: CellJob) -> JobHandle:
        handle = super().submit(job)
        with self.lock:
            self.live.add(job.job_name)
            self.shared["now"] += 1
            self.shared["peak"] = max(self.shared["peak"], self.shared["now"])
        return handle

    def status(self, handles: Sequence[JobHandle]) -> dict[str, JobStatus]:
        found = super().status(handles)
        with self.lock:
            for name, status in found.items():
                if status.state.terminal and name in self.live:
                    self.live.discard(name)
                    self.shared["now"] -= 1
        return found


def test_two_sweeps_share_one_global_limit(tmp_path: Path) -> None:
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "main.R").write_text("Sys.sleep(0.4)\n")
    (tmp_path / "job.yml").write_text(
        "command: Rscript main.R --seed ${{inputs.seed}}\ncode: src\ninputs:\n  seed: 1\n"
    )
    spec = load_job_spec(tmp_path / "job.yml")
    ensure_limit("rjobs-test-cluster", 2)
    shared, lock = {"now": 0, "peak": 0}, threading.Lock()
    sweeps = []
    for run in ("a", "b"):
        backend = CountingBackend(shared, lock)
        settings = SweepSettings(run=run, job_slot=lambda: job_slot("rjobs-test-cluster", timeout_s=120))
        cells = build_cells(spec, grid={"seed": [1, 2, 3]})
        sweeps.append(
            Sweep(
                spec, cells, backend, RunLedger(tmp_path / "results", run), settings, JobMonitor(backend, interval=0.05)
            )
        )
    with ThreadPoolExecutor(6) as pool:
        results = list(pool.map(lambda pair: pair[0].run_cell(pair[1]), [(s, c) for s in sweeps for c in s.cells]))
    assert [r.record.job_state for r in results] == [JobState.COMPLETED] * 6
    assert shared["peak"] == 2
