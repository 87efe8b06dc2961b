"""Packed jobs locally (issue 15): 200 items of ~0.5 s packed into 2 jobs against `xargs -P 2` running the same
Rscript commands.

- packed: the engine as the flow drives it without Prefect (resolve, environment check, Sweep + PackedSweep on the
          local backend: 2 packed jobs of 1 R process each, every item in its own code copy with its own log,
          status and progress line, then unpacked into results/<run>/<cell>/ and summary.csv), in a child process,
          timed from before its imports.
- xargs:  the same `Rscript item.R --seed N` per item, `xargs -P 2`, each in a folder made beforehand: the baseline
          (no code copy, no status, no collection).

Usage: python -m bench.packing_local [--items 200] [--rounds 3] [--sleep 0.3]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from bench.common import PYTHON, REPO, machine, median

ITEM_R = r"""
args <- commandArgs(trailingOnly = TRUE)
seed <- as.integer(args[[2]])
Sys.sleep(as.numeric(Sys.getenv("BENCH_SLEEP", "0.3")))
dir.create("outputs", showWarnings = FALSE)
writeLines(sprintf('{"seed": %d, "score": %.2f}', seed, seed / 10), "outputs/metrics.json")
"""

DRIVE = """
import json, sys, time
started = time.perf_counter()
from rjobs.engine.ledger import RunLedger
from rjobs.engine.monitor import JobMonitor
from rjobs.engine.sweep import Sweep, SweepSettings
from rjobs.engine.wiring import prepare
from rjobs.inputs.options import SweepOptions
from rjobs.packing.engine import PackedSweep
options = SweepOptions(job=sys.argv[1], results=sys.argv[2], run_name="bench", pack=int(sys.argv[3]),
                       pack_processes=int(sys.argv[4]), no_mlflow=True)
prepared = prepare(options)
resolved, backend = prepared.resolved, prepared.backend
ledger = RunLedger(resolved.results_root, resolved.run)
monitor = JobMonitor(backend, interval=prepared.poll_interval)
sweep = Sweep(resolved.spec, resolved.cells, backend, ledger, SweepSettings(run=resolved.run), monitor)
sweep.prepare()
packs = PackedSweep(sweep, options.pack, options.pack_processes, on_progress=lambda line: None).run()
summary = sweep.finish()
print(json.dumps({"total_s": time.perf_counter() - started, "completed": summary["completed"], "packs": len(packs)}))
"""


def write_job(root: Path, items: int) -> Path:
    (root / "src").mkdir(parents=True, exist_ok=True)
    (root / "src" / "item.R").write_text(ITEM_R)
    (root / "job.yml").write_text("code: src\ncommand: Rscript item.R --seed ${{inputs.seed}}\ninputs:\n  seed: 1\n")
    (root / "grid.yml").write_text(f"seed: [{', '.join(str(i) for i in range(1, items + 1))}]\n")
    return root / "job.yml"


def run_packed(job: Path, results: Path, packs: int, processes: int, env: dict[str, str]) -> dict[str, float]:
    shutil.rmtree(results, ignore_errors=True)
    argv = [PYTHON, "-c", DRIVE, str(job), str(results), str(packs), str(processes)]
    out = subprocess.run(argv, env=env, check=True, capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def run_xargs(code: Path, work: Path, items: int, concurrency: int, env: dict[str, str]) -> float:
    """`Rscript item.R --seed N` per item in its own folder, `concurrency` at once: what a shell user would write."""
    shutil.rmtree(work, ignore_errors=True)
    lines = []
    for seed in range(1, items + 1):
        (work / str(seed)).mkdir(parents=True)
        lines.append(f"{work / str(seed)} {code / 'item.R'} {seed}\n")
    script = 'cd "$1" && exec Rscript "$2" --seed "$3"'
    started = time.perf_counter()
    subprocess.run(
        ["xargs", "-L", "1", "-P", str(concurrency), "sh", "-c", script, "sh"],
        input="".join(lines),
        text=True,
        check=True,
        env=env,
    )
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--items", type=int, default=200)
    parser.add_argument("--packs", type=int, default=2)
    parser.add_argument("--processes", type=int, default=1, help="R processes per packed job")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--sleep", type=float, default=0.3, help="seconds each item sleeps besides R's start")
    args = parser.parse_args()
    facts = machine()
    env = {**os.environ, "PYTHONPATH": str(REPO), "BENCH_SLEEP": str(args.sleep)}
    concurrency = args.packs * args.processes
    with tempfile.TemporaryDirectory(prefix="bench-packing-") as folder:
        root = Path(folder)
        job = write_job(root, args.items)
        packed: list[dict[str, float]] = []
        xargs: list[float] = []
        for round_ in range(args.rounds):
            order = ["packed", "xargs"] if round_ % 2 == 0 else ["xargs", "packed"]
            for name in order:
                if name == "xargs":
                    xargs.append(run_xargs(root / "src", root / "xargs", args.items, concurrency, env))
                else:
                    packed.append(run_packed(job, root / "results", args.packs, args.processes, env))
                    assert packed[-1]["completed"] == args.items, packed[-1]
            print(f"round {round_ + 1}: packed {packed[-1]['total_s']:.2f} s, xargs {xargs[-1]:.2f} s", flush=True)
        total, base = median([p["total_s"] for p in packed]), median(xargs)
        print(f"machine: {facts}; load after: {os.getloadavg()}")
        print(f"{args.items} items, {args.packs} packed jobs x {args.processes} process(es), {args.rounds} rounds")
        print(f"xargs -P {concurrency}: median {base:.2f} s ({base / args.items * concurrency:.3f} s per item)")
        print(f"packed end to end: median {total:.2f} s, ratio {total / base:.3f}")


if __name__ == "__main__":
    main()
