"""Orchestration overhead at scale (issue 8, item 2): 100 / 1,000 / 10,000 cells on the fake Azure ML control plane.

Jobs finish at once (FakeMLClient with tiny phase ranges and `advance_per_call`), so what is left is the
orchestrator: wall time per cell, CPU per cell (the fake's own CPU taken out), and peak RSS of the
orchestrator and, through the flow, of Prefect's temporary server. Each (mode, size) runs in its own process.

- engine: Sweep + ThreadPoolExecutor(max_concurrent) over sweep.run_cell, no Prefect.
- flow: `flows.cli.main(--backend azureml ...)` as shipped, Prefect's temporary server: a task run per cell up
  to flows.train_flow.PER_CELL_TASK_RUNS (100) cells, above that flows.train_flow.BATCHES (20) task runs of many cells
  on one pool of --max-concurrent threads.
- flow-per-cell: the same flow with a task run per cell at any size (the behaviour before batching), by setting
  flows.train_flow.PER_CELL_TASK_RUNS to a huge number in the measurement's own child process.
- flow-single-task: the same flow with one task run for the whole sweep (flows.train_flow.BATCHES = 1), likewise.

Run: `.venv/bin/python -m bench.scale_fake [--full]` (--full: 10,000 cells, about 7 minutes more).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.common import PYTHON, REPO, TreeSampler, home_from, median, prefect_env

MAX_CONCURRENT = 20
POLL = 0.02


def write_grid(folder: Path, cells: int) -> Path:
    grid = folder / "grid.yml"
    grid.write_text("seed: [" + ", ".join(str(i) for i in range(1, cells + 1)) + "]\n")
    return grid


def child_engine(cells: int, work: Path, max_concurrent: int, poll: float) -> dict[str, Any]:
    """The engine alone: what the flow's tasks call, driven by a thread pool instead of Prefect."""
    from concurrent.futures import ThreadPoolExecutor

    from bench.fakeclient import instant_fake
    from rjobs.backends.azureml.backend import AzureMLBackend
    from rjobs.engine.ledger import RunLedger
    from rjobs.engine.monitor import JobMonitor
    from rjobs.engine.sweep import Sweep, SweepSettings
    from rjobs.inputs.options import SweepOptions, resolve

    started = time.perf_counter()
    cpu0 = time.process_time()
    fake = instant_fake(work / "fake-store")
    options = SweepOptions(
        job=str(REPO / "job.yml"), grid=str(write_grid(work, cells)), max_cells=cells, run_name=f"scale-{cells}"
    )
    resolved = resolve(options)
    backend = AzureMLBackend(
        fake, environment_file=resolved.environment_file, clock=fake.clock, sleep=fake.clock.sleep, poll_interval=5.0
    )
    monitor = JobMonitor(backend, interval=poll)
    sweep = Sweep(
        resolved.spec,
        resolved.cells,
        backend,
        RunLedger(work / "results", resolved.run),
        SweepSettings(run=resolved.run, retries=1),
        monitor,
    )
    sweep.prepare()
    fake_cpu0, fake_wall0 = fake.bench_cpu.seconds, fake.bench_cpu.wall
    t0, c0 = time.perf_counter(), time.process_time()
    with ThreadPoolExecutor(max_workers=max_concurrent) as pool:
        results = list(pool.map(sweep.run_cell, list(sweep.cells)))
    t1, c1 = time.perf_counter(), time.process_time()
    summary = sweep.finish({"max_concurrent": max_concurrent})
    t2 = time.perf_counter()
    fan_fake = fake.bench_cpu.seconds - fake_cpu0
    return {
        "cells": cells,
        "completed": summary["completed"],
        "fan_out_s": t1 - t0,
        "finish_s": t2 - t1,
        "setup_s": t0 - started,
        "fan_out_cpu_s": c1 - c0,
        "fan_out_fake_cpu_s": fan_fake,
        "fan_out_fake_wall_s": fake.bench_cpu.wall - fake_wall0,
        "total_cpu_s": time.process_time() - cpu0,
        "status_calls": summary["status_calls"],
        "fake_calls": dict(_count_calls(fake.calls)),
        "results": len(results),
    }


def child_flow(mode: str, cells: int, work: Path, max_concurrent: int, poll: float) -> dict[str, Any]:
    """The real flow through flows.cli.main, with every MLClient the flow makes replaced by the fake; for
    flow-per-cell and flow-single-task, one of flows.train_flow's batching constants changed in this process only."""
    import rjobs.backends.azureml.workspace
    from bench.fakeclient import instant_fake

    fake = instant_fake(work / "fake-store")
    rjobs.backends.azureml.workspace.make_ml_client = lambda *args, **kwargs: fake  # type: ignore[assignment]
    import flows.train_flow
    from flows.cli import main

    if mode == "flow-per-cell":
        flows.train_flow.PER_CELL_TASK_RUNS = 10**9
    elif mode == "flow-single-task":
        flows.train_flow.BATCHES = 1
    timings: dict[str, float] = {}
    original = flows.train_flow.fan_out

    def timed_fan_out(sweep: Any, limit: int) -> None:
        timings["fake0"], timings["fakew0"] = fake.bench_cpu.seconds, fake.bench_cpu.wall
        timings["t0"], timings["c0"] = time.perf_counter(), time.process_time()
        try:
            original(sweep, limit)
        finally:
            timings["t1"], timings["c1"] = time.perf_counter(), time.process_time()
            timings["fake1"], timings["fakew1"] = fake.bench_cpu.seconds, fake.bench_cpu.wall

    flows.train_flow.fan_out = timed_fan_out  # type: ignore[assignment]
    args = [
        "--job",
        str(REPO / "job.yml"),
        "--grid",
        str(write_grid(work, cells)),
        "--max-cells",
        str(cells),
        "--backend",
        "azureml",
        "--run-name",
        f"scale-{cells}",
        "--results",
        str(work / "results"),
        "--max-concurrent",
        str(max_concurrent),
        "--poll-interval",
        str(poll),
        "--no-mlflow",
    ]
    code = main(args)
    run = json.loads((work / "results" / f"scale-{cells}" / "run.json").read_text())
    return {
        "cells": cells,
        "exit": code,
        "completed": run["completed"],
        "fan_out_s": timings["t1"] - timings["t0"],
        "fan_out_cpu_s": timings["c1"] - timings["c0"],
        "fan_out_fake_cpu_s": timings["fake1"] - timings["fake0"],
        "fan_out_fake_wall_s": timings["fakew1"] - timings["fakew0"],
        "status_calls": run["status_calls"],
        "fake_calls": dict(_count_calls(fake.calls)),
    }


def _count_calls(calls: list[tuple[str, Any, Any]]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for operation, _, _ in calls:
        counts[operation] = counts.get(operation, 0) + 1
    return counts


def run_child(mode: str, cells: int, *, poll: float = POLL, template: Path | None = None) -> dict[str, Any]:
    """One measurement in a fresh process; the parent samples peak RSS (VmHWM) of it and of its children."""
    with tempfile.TemporaryDirectory(prefix=f"bench-scale-{mode}-") as folder:
        work = Path(folder)
        out = work / "result.json"
        cmd = [PYTHON, "-m", "bench.scale_fake", "--child", mode, "--cells", str(cells), "--work", str(work)]
        cmd += ["--out", str(out), "--poll", str(poll)]
        env = prefect_env(home_from(template, work / "prefect-home"))
        env["PYTHONPATH"] = str(REPO)
        started = time.perf_counter()
        with (work / "child.log").open("wb") as log:
            proc = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT)
            with TreeSampler(proc.pid, every=0.25) as sampler:
                proc.wait()
                sampler.sample()
        wall = time.perf_counter() - started
        if proc.returncode != 0 or not out.is_file():
            tail = (work / "child.log").read_text(errors="replace")[-3000:]
            raise RuntimeError(f"{mode} {cells} failed ({proc.returncode}):\n{tail}")
        result = json.loads(out.read_text())
        result.update(
            mode=mode,
            wall_s=wall,
            peak_rss_orchestrator=max(result.get("ru_maxrss", 0), sampler.result.peak_rss.get("orchestrator", 0)),
            peak_rss_server=sampler.result.peak_rss.get("server", 0),
        )
        return result


def summarise(row: dict[str, Any]) -> dict[str, Any]:
    cells = row["cells"]
    own_cpu = row["fan_out_cpu_s"] - row["fan_out_fake_cpu_s"]
    return {
        **row,
        "ms_per_cell": 1000 * row["fan_out_s"] / cells,
        "fake_ms_per_cell": 1000 * row["fan_out_fake_cpu_s"] / cells,
        "own_cpu_ms_per_cell": 1000 * own_cpu / cells,
        "fake_wall_ms_per_cell": 1000 * row["fan_out_fake_wall_s"] / cells,
        "net_ms_per_cell": 1000 * (row["fan_out_s"] - row["fan_out_fake_wall_s"]) / cells,
    }


MODES = ("engine", "flow", "flow-per-cell", "flow-single-task")
QUICK = (("engine", 100), ("engine", 1000), ("flow", 1000))
FULL = (("flow-per-cell", 1000), ("flow", 100), ("flow-single-task", 1000), ("engine", 10000), ("flow", 10000))
REPEATED = (("flow", 1000),)  # the goal's figure: one run moved 19.8-26.0 ms with the machine's speed (engine: +-4%)


def measure(plan: tuple[tuple[str, int], ...], repeats: int = 1, template: Path | None = None) -> list[dict[str, Any]]:
    """Each (mode, cells) in its own process (at 100 cells flow and flow-per-cell are the same flow); the goal's
    figure (REPEATED) `repeats` times, the median reported."""
    rows = []
    for mode, cells in plan:
        reps = repeats if (mode, cells) in REPEATED else 1
        runs = [summarise(run_child(mode, cells, template=template)) for _ in range(reps)]
        keyed = sorted(runs, key=lambda r: r["ms_per_cell"])
        row = dict(keyed[len(keyed) // 2])
        row["repeats"] = reps
        row["ms_per_cell_all"] = [round(r["ms_per_cell"], 2) for r in runs]
        row["median_ms_per_cell"] = median([r["ms_per_cell"] for r in runs])
        rows.append(row)
        print(
            f"  {row['mode']:>16} {cells:>6} cells: {row['median_ms_per_cell']:.2f} ms/cell wall "
            f"(fake CPU {row['fake_ms_per_cell']:.2f} wall {row['fake_wall_ms_per_cell']:.2f}, "
            f"net {row['net_ms_per_cell']:.2f}, own CPU "
            f"{row['own_cpu_ms_per_cell']:.2f}), peak RSS {row['peak_rss_orchestrator'] / 2**20:.0f} MiB"
            f" + server {row['peak_rss_server'] / 2**20:.0f} MiB",
            flush=True,
        )
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--child", choices=MODES)
    parser.add_argument("--cells", type=int, default=100)
    parser.add_argument("--work", type=Path)
    parser.add_argument("--out", type=Path)
    parser.add_argument("--poll", type=float, default=POLL)
    parser.add_argument("--full", action="store_true", help="also 10,000 cells and the single-task variant")
    parser.add_argument("--repeats", type=int, default=1)
    args = parser.parse_args()
    if args.child:
        if args.child == "engine":
            result = child_engine(args.cells, args.work, MAX_CONCURRENT, args.poll)
        else:
            result = child_flow(args.child, args.cells, args.work, MAX_CONCURRENT, args.poll)
        result["ru_maxrss"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
        args.out.write_text(json.dumps(result))
        return 0
    rows = measure(QUICK + FULL if args.full else QUICK, args.repeats)
    print(json.dumps(rows, indent=1, default=str))
    return 0


if __name__ == "__main__":
    os.environ.setdefault("PYTHONWARNINGS", "ignore::DeprecationWarning")
    sys.exit(main())
