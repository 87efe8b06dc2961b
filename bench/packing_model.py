"""A model of Azure ML job overheads (issue 15) on the fake service's clock: 1,000 items of 10 s on 8 nodes x 4
processes, packed into 8 jobs against one command job per item, on a cold and a warm cluster.

The orchestrator is the shipped one: the engine's Sweep (one job per item, 16 in flight, as --max-concurrent 16) or
its PackedSweep (--pack 8 --pack-processes 4) on AzureMLBackend, over the fake workspace
(rjobs.testing.fake_azureml) given a Cluster: 8 nodes running one job each, first come first served, every job
paying the figures in OVERHEADS (allocation and image pull on a cold cluster, queue, container start, finalize, the
service's time per create). Time is the fake clock's: the monitor's and the packs' polls (every 15 s) sleep on it,
so the makespan is what the orchestrator saw, in the service's seconds; a run takes seconds, not hours.

Nothing runs R: a cell's job runs `seconds` + the item start; a packed job's Running phase lasts its items' time on
the runner's pool (rjobs.packing.assign.makespan over the items in the order --pack assigned them), and when it is
over its items' status files and outputs are written as the runner leaves them, so the engine unpacks them as it
does on Azure. Figures and their reasons: bench/RESULTS.md.

Usage: python -m bench.packing_model [--items 1000] [--seconds 10] [--nodes 8] [--processes 4]
"""

from __future__ import annotations

import argparse
import logging
import random
import tempfile
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.common import REPO
from rjobs.backends.azureml.backend import AzureMLBackend
from rjobs.backends.base import JobHandle, PackLaunch
from rjobs.core.files import atomic_write_text
from rjobs.engine.ledger import CellRecord, RunLedger
from rjobs.engine.monitor import JobMonitor
from rjobs.engine.sweep import Sweep, SweepSettings
from rjobs.inputs.options import SweepOptions, resolve
from rjobs.packing.assign import makespan
from rjobs.packing.engine import PackedSweep
from rjobs.packing.items import item_dir, item_outputs, pack_entries
from rjobs.testing.fake_azureml.lifecycle import Cluster
from rjobs.testing.fake_mlclient import FakeClock, FakeMLClient

POLL_S = 15.0
ITEM_START_S = 0.3
"""Rscript start-up and the item's code copy inside a packed job (and R's start in a cell's own job)."""
IN_FLIGHT = 16
PACE_S = 0.005
"""Real seconds each poll yields before the fake clock moves on, so jobs that ended are collected and the next ones
submitted (in real milliseconds) at the fake time they would be on the service."""


@dataclass(frozen=True)
class Overheads:
    name: str
    allocate_s: float
    image_pull_s: float
    queue_s: float = 20.0
    start_s: float = 45.0
    finalize_s: float = 20.0
    submit_s: float = 1.0

    def cluster(self, nodes: int) -> Cluster:
        return Cluster(
            nodes, self.allocate_s, self.image_pull_s, self.queue_s, self.start_s, self.finalize_s, self.submit_s
        )

    def one_job_start(self) -> float:
        return self.allocate_s + self.image_pull_s + self.queue_s + self.start_s


OVERHEADS = (
    Overheads("cold", allocate_s=300.0, image_pull_s=180.0),
    Overheads("warm", allocate_s=0.0, image_pull_s=0.0),
)


class ModelBackend(AzureMLBackend):
    """AzureMLBackend whose packed jobs last their items' time on the runner's pool, and leave the runner's results."""

    def __init__(self, fake: FakeMLClient, seconds: Callable[[str], float], **options: Any) -> None:
        super().__init__(fake, **options)
        self.fake = fake
        self.seconds = seconds

    def submit_pack(self, launch: PackLaunch) -> JobHandle:
        ids = [job.cell_id for job in launch.jobs]
        work = makespan([ids], {item: self.seconds(item) for item in ids}, launch.processes)
        self.fake.script(launch.name, run_s=work)
        return super().submit_pack(launch)

    def sync_pack(self, handle: JobHandle, pack_dir: Path, items: Sequence[str] | None) -> None:
        super().sync_pack(handle, pack_dir, items)
        if items is not None:
            return
        for entry in pack_entries(pack_dir):  # the pack is over: what the runner leaves per item
            item_outputs(pack_dir, entry.item_id).mkdir(parents=True, exist_ok=True)
            (item_outputs(pack_dir, entry.item_id) / "metrics.json").write_text('{"rmse": 1.0}')
            seconds = self.seconds(entry.item_id)
            status = f"exit=0\nseconds={seconds:.3f}\nattempt={entry.first_attempt}\ntimed_out=0\n"
            atomic_write_text(item_dir(pack_dir, entry.item_id) / "status", status)


@dataclass(frozen=True)
class Outcome:
    makespan_s: float
    jobs: int
    completed: int


def run_model(
    work: Path,
    over: Overheads,
    sizes: Callable[[int], float],
    items: int,
    nodes: int,
    processes: int | None,
    known: bool = False,
    label: str = "",
) -> Outcome:
    """One sweep of `items` cells on the fake cluster: packed into `nodes` jobs of `processes` (None: a job per
    item); `known` gives the ledger each item's duration first, as an earlier run would have."""
    store = work / f"{over.name}-{processes}-{known}{label}"
    fake = FakeMLClient(FakeClock(), seed=15, store=store / "fake", cluster=over.cluster(nodes), run_range=(1.0, 1.0))
    (store / "grid.yml").write_text("seed: [" + ", ".join(str(i) for i in range(1, items + 1)) + "]\n")
    options = SweepOptions(job=str(REPO / "job.yml"), grid=str(store / "grid.yml"), max_cells=items, run_name="model")
    resolved = resolve(options)
    by_cell = {cell.cell_id: sizes(int(str(cell.params["seed"]))) + ITEM_START_S for cell in resolved.cells}
    for cell_id, seconds in by_cell.items():
        fake.script(f"model-{cell_id}*", run_s=seconds, artifacts={"outputs/metrics.json": '{"rmse": 1.0}'})
    clock = fake.clock

    def paced(seconds: float) -> None:
        time.sleep(PACE_S)
        clock.sleep(seconds)

    backend = ModelBackend(
        fake,
        by_cell.__getitem__,
        environment_file=resolved.environment_file,
        clock=clock,
        sleep=paced,
        env_smoke=False,
    )
    monitor = JobMonitor(backend, interval=POLL_S, max_interval=POLL_S, clock=clock, sleep=paced)
    ledger = RunLedger(store / "results", resolved.run)
    sweep = Sweep(resolved.spec, resolved.cells, backend, ledger, SweepSettings(run=resolved.run), monitor)
    sweep.prepare()
    if known:
        for cell in resolved.cells:
            record = CellRecord(cell.cell_id, dict(cell.params), job_name="earlier", state="Lost", attempt=1)
            record.duration_s = by_cell[cell.cell_id]
            ledger.save(record)
    creates, started = fake.count("jobs.create_or_update"), clock.now
    if processes is None:
        with ThreadPoolExecutor(max_workers=IN_FLIGHT) as pool:
            list(pool.map(sweep.run_cell, list(sweep.cells)))
    else:
        PackedSweep(sweep, packs=nodes, processes=processes, on_progress=lambda _line: None).run()
    summary = sweep.finish()
    return Outcome(clock.now - started, fake.count("jobs.create_or_update") - creates, summary["completed"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--items", type=int, default=1000)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--nodes", type=int, default=8)
    parser.add_argument("--processes", type=int, default=4)
    args = parser.parse_args()
    logging.disable(logging.WARNING)
    n, k, items = args.nodes, args.processes, args.items
    print(f"{items} items of {args.seconds:g} s on {n} nodes x {k} processes, on the fake service's clock")
    head = f"packed ({n} jobs) s | ideal s | packed / ideal | one job per item s | per item / packed | jobs"
    print(f"| cluster | {head} |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: |")
    with tempfile.TemporaryDirectory(prefix="packing-model-") as scratch:
        work = Path(scratch)
        for over in OVERHEADS:
            packed = run_model(work, over, lambda _seed: args.seconds, items, n, k)
            single = run_model(work, over, lambda _seed: args.seconds, items, n, None)
            assert packed.completed == single.completed == items, (packed, single)
            ideal = items * args.seconds / (n * k) + over.one_job_start()
            print(
                f"| {over.name} | {packed.makespan_s:,.0f} | {ideal:,.0f} | {packed.makespan_s / ideal:.2f} | "
                f"{single.makespan_s:,.0f} | {single.makespan_s / packed.makespan_s:.1f}x | "
                f"{packed.jobs} vs {single.jobs} ({single.jobs / packed.jobs:.0f}x fewer) |"
            )
        rng = random.Random(15)
        uneven = {seed: rng.uniform(2, 18) for seed in range(1, items + 1)}
        over = OVERHEADS[1]
        ideal = sum(s + ITEM_START_S for s in uneven.values()) / (n * k) + over.one_job_start()
        by_ledger = run_model(work, over, uneven.__getitem__, items, n, k, known=True).makespan_s
        unknown = run_model(work, over, uneven.__getitem__, items, n, k, label="-uneven").makespan_s
    print(f"\nitems of 2-18 s (mean 10), warm cluster: ideal {ideal:,.0f} s")
    print(f"- sizes known from the ledger (longest first): {by_ledger:,.0f} s ({by_ledger / ideal:.2f}x ideal)")
    print(f"- sizes unknown (equal estimates): {unknown:,.0f} s ({unknown / ideal:.2f}x ideal)")


if __name__ == "__main__":
    main()
