"""Start-up (issue 8, item 4) and the re-run of a finished sweep (item 5), each against baselines in the same script.

Item 4: `python -m flows.train --help` and `--dry-run` on the demo, median of 5, next to `python -c pass` and
`python -c "import prefect"` (what any command that imports Prefect pays before doing anything).
Item 5: the demo sweep run once (not timed: it fills results/, the MLflow store and warms the Prefect
database), then re-run with everything reused, median of 3: as users run it (the CLI starts Prefect's temporary
server before it validates and imports Prefect, and MLflow is not touched when nothing changed since its last
log) and against an already running server (PREFECT_API_URL); the baseline is `--dry-run` of the same sweep,
which reads the same ledger and validates the same inputs without Prefect.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.common import (
    PYTHON,
    REPO,
    PrefectSetup,
    local_midnight,
    median,
    prefect_env,
    prefect_log_times,
    prefect_setup,
)

DEMO_FILES = ("job.yml", "grid.yml", "environment-job.yml")
DEMO_DIRS = ("r_src", "data", "docker-context")
# A cell's task run is named "<title> (<cell id>)" (tasks/jobs.py); a batch of cells is "cells-<first>-x<count>".
CELL_TASK_RUN = re.compile(r"Task run '(cells-[^']*|[^']* \([0-9a-f]+\))'")


def timed(cmd: list[str], env: dict[str, str], cwd: Path = REPO) -> tuple[float, str]:
    started = time.perf_counter()
    out = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True)
    elapsed = time.perf_counter() - started
    if out.returncode != 0:
        raise RuntimeError(f"{cmd}: exit {out.returncode}\n{out.stdout[-2000:]}\n{out.stderr[-2000:]}")
    return elapsed, out.stdout + out.stderr


def demo_copy(root: Path) -> Path:
    project = root / "demo"
    project.mkdir(parents=True)
    for name in DEMO_FILES:
        shutil.copy2(REPO / name, project / name)
    for name in DEMO_DIRS:
        shutil.copytree(REPO / name, project / name)
    return project


def measure_startup(root: Path, repeats: int) -> dict[str, Any]:
    env = prefect_env(root / "prefect-home")
    project = demo_copy(root / "startup")
    commands = {
        "python -c pass": [PYTHON, "-c", "pass"],
        'python -c "import prefect"': [PYTHON, "-c", "import prefect"],
        "python -m flows.train --help": [PYTHON, "-m", "flows.train", "--help"],
        "python -m flows.train --dry-run": [
            PYTHON,
            "-m",
            "flows.train",
            "--job",
            str(project / "job.yml"),
            "--results",
            str(project / "results"),
            "--dry-run",
        ],
    }
    times: dict[str, list[float]] = {name: [] for name in commands}
    for _ in range(repeats):
        for name, cmd in commands.items():
            times[name].append(timed(cmd, env)[0])
    return {"median_s": {k: median(v) for k, v in times.items()}, "all_s": times, "repeats": repeats}


def flow_phases(text: str, t0: float, t_exit: float) -> dict[str, float | None]:
    lines = prefect_log_times(text, local_midnight(t0))

    def first(needle: str, last: bool = False) -> float | None:
        found = [t for t, line in lines if needle in line]
        return (found[-1] if last else found[0]) if found else None

    begin = first("Beginning flow run")
    end = first("Finished in state", last=True)
    cell_runs = [t for t, line in lines if CELL_TASK_RUN.search(line)]
    fan_start = cell_runs[0] if cell_runs else None
    results = first("Task run 'write-results", last=True)
    return {
        "startup_s": begin - t0 if begin else None,
        "tasks_s": (end - begin) if begin and end else None,
        "cells_s": (results - fan_start) if results and fan_start else None,
        "after_cells_s": (end - results) if end and results else None,
        "shutdown_s": t_exit - end if end else None,
    }


RERUN_VARIANTS = ("dry-run", "embedded", "server")


def measure_rerun(
    root: Path, repeats: int, variants: tuple[str, ...] = RERUN_VARIANTS, setup: PrefectSetup | None = None
) -> dict[str, Any]:
    if setup is None:
        with prefect_setup(root / "prefect") as own:
            return measure_rerun(root, repeats, variants, own)
    project = demo_copy(root / "rerun")
    embedded = setup.embedded_env("rerun")
    base = [
        "--job",
        str(project / "job.yml"),
        "--results",
        str(project / "results"),
        "--run-name",
        "bench-demo",
        "--max-concurrent",
        "2",
    ]
    first_s, _ = timed([PYTHON, "-m", "flows.train", *base], embedded)
    summary = json.loads((project / "results" / "bench-demo" / "run.json").read_text())
    assert summary["completed"] == summary["cells"], summary
    runs: dict[str, list[dict[str, Any]]] = {name: [] for name in variants}
    for _ in range(repeats):
        for variant in variants:
            cmd = [PYTHON, "-m", "flows.train", *base] + (["--dry-run"] if variant == "dry-run" else [])
            t0 = time.time()
            elapsed, text = timed(cmd, setup.server_env() if variant == "server" else embedded)
            row: dict[str, Any] = {"wall_s": elapsed}
            if variant != "dry-run":
                row.update(flow_phases(text, t0, t0 + elapsed))
                rerun = json.loads((project / "results" / "bench-demo" / "run.json").read_text())
                assert rerun["submitted"] == 0 and rerun["reused"] == rerun["cells"], rerun
            runs[variant].append(row)
    medians = {
        name: {
            key: median([r[key] for r in rows if r.get(key) is not None])
            for key in rows[0]
            if any(r.get(key) is not None for r in rows)
        }
        for name, rows in runs.items()
    }
    return {"first_run_s": first_s, "cells": summary["cells"], "runs": runs, "median": medians}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--rerun-repeats", type=int, default=3)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-startup-") as folder:
        root = Path(folder)
        startup = measure_startup(root, args.repeats)
        rerun = measure_rerun(root, args.rerun_repeats)
    for name, value in startup["median_s"].items():
        print(f"{name:>34}: {value:.2f} s")
    print(f"first run of the demo: {rerun['first_run_s']:.1f} s")
    for name, row in rerun["median"].items():
        print(f"re-run {name:>9}: {json.dumps({k: round(v, 2) for k, v in row.items()})}")
    if args.json:
        args.json.write_text(json.dumps({"startup": startup, "rerun": rerun}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
