"""Local fan-out efficiency (issue 8, item 1): 24 CPU-bound R cells through the flow vs the same commands by xargs -P.

Variants, interleaved in each round (order rotated), each a fresh results folder:
- xargs:    the 24 commands the flow would run (from --dry-run), `xargs -P <cores>`: the baseline.
- embedded: `python -m flows.train --max-concurrent <cores>` as users run it: no PREFECT_API_URL, so the CLI
            starts Prefect's temporary server itself before it validates and imports Prefect.
- lean:     PREFECT_API_URL at an already running `prefect server start` and --no-mlflow: the best the flow
            does with options users have (the local poll interval is 0.05 s by default).
- server (optional): only PREFECT_API_URL, MLflow on.

`--iterations N` sets the R loop of every cell (`--param iterations=N`, for the flow and for the --dry-run that
builds the xargs commands); without it, the job's own 4,000,000 (about 1 s of R).

Each flow run is broken down from its log timestamps, the ledger (submitted_at, ended_at) and the
supervisor's exit records (R start and end): start-up, set-up tasks, cells, collect and shut-down; the
cells phase further into R time, dispatch, completion detection (polling) and gaps between cells.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
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
    TreeSampler,
    local_midnight,
    median,
    prefect_log_times,
    prefect_setup,
)

JOB = REPO / "bench" / "cpu" / "job.yml"
VARIANTS = ("xargs", "embedded", "lean")
ALL_VARIANTS = (*VARIANTS, "server")
USES_SERVER = ("server", "lean")


def job_iterations() -> int:
    """The job's own `iterations` input (what a cell runs without --iterations)."""
    import yaml

    return int(yaml.safe_load(JOB.read_text())["inputs"]["iterations"])


def param_args(iterations: int | None) -> list[str]:
    return [] if iterations is None else ["--param", f"iterations={iterations}"]


def dry_run_commands(work: Path, env: dict[str, str], iterations: int | None = None) -> list[list[str]]:
    """The exact argv of each cell, as `--dry-run` prints it (relative to the job's code folder)."""
    cmd = [PYTHON, "-m", "flows.train", "--job", str(JOB), "--dry-run", "--results", str(work / "dry")]
    out = subprocess.run(
        [*cmd, *param_args(iterations)],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return [shlex.split(line.strip()) for line in out.splitlines() if line.startswith("    ")]


def run_xargs(commands: list[list[str]], work: Path, cores: int) -> dict[str, Any]:
    """Each command in its own folder, `xargs -P cores`; R's own wall time per command from /usr/bin/time."""
    code = JOB.parent / "src"
    lines = []
    for i, argv in enumerate(commands):
        folder = work / f"cell{i:02d}"
        folder.mkdir(parents=True)
        shutil.copytree(code, folder / "code")
        timed = ["/usr/bin/time", "-f", "%e %U %S", "-o", str(folder / "time.txt"), *argv]
        lines.append(f"cd {shlex.quote(str(folder / 'code'))} && exec {shlex.join(timed)}")
    listing = work / "commands.txt"
    listing.write_text("\n".join(lines) + "\n")
    started = time.perf_counter()
    with listing.open() as stdin:
        subprocess.run(["xargs", "-d", "\n", "-P", str(cores), "-I", "CMD", "sh", "-c", "CMD"], stdin=stdin, check=True)
    wall = time.perf_counter() - started
    times = [
        [float(x) for x in (work / f"cell{i:02d}" / "time.txt").read_text().split()[-3:]] for i in range(len(commands))
    ]
    r_wall = [t[0] for t in times]
    return {
        "wall_s": wall,
        "r_mean_s": sum(r_wall) / len(r_wall),
        "r_sum_s": sum(r_wall),
        "r_cpu_s": sum(t[1] + t[2] for t in times),
    }


def flow_command(variant: str, results: Path, cores: int, iterations: int | None = None) -> list[str]:
    """`python -m flows.train` as users type it; the poll interval is the local default (0.05 s)."""
    cmd = [PYTHON, "-m", "flows.train", "--job", str(JOB), "--max-concurrent", str(cores), "--results", str(results)]
    cmd += param_args(iterations)
    if variant == "lean":
        cmd += ["--no-mlflow"]
    return cmd


def run_flow(
    variant: str, work: Path, cores: int, env: dict[str, str], servers: tuple[int, ...], iterations: int | None = None
) -> dict[str, Any]:
    results = work / "results"
    log = work / "flow.log"
    cmd = flow_command(variant, results, cores, iterations)
    t0 = time.time()
    with log.open("wb") as out:
        proc = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT)
        with TreeSampler(proc.pid, every=0.1, servers=servers) as sampler:
            proc.wait()
    t_exit = time.time()
    if proc.returncode != 0:
        raise RuntimeError(f"{variant}: exit {proc.returncode}\n{log.read_text(errors='replace')[-3000:]}")
    return analyse(variant, log.read_text(errors="replace"), results, t0, t_exit, cores, sampler)


def _first(lines: list[tuple[float, str]], needle: str, last: bool = False) -> float | None:
    found = [t for t, line in lines if needle in line]
    if not found:
        return None
    return found[-1] if last else found[0]


def analyse(
    variant: str, text: str, results: Path, t0: float, t_exit: float, cores: int, sampler: TreeSampler
) -> dict[str, Any]:
    lines = prefect_log_times(text, local_midnight(t0))
    run_dir = next(p for p in results.iterdir() if p.is_dir() and (p / "run.json").is_file())
    cells = []
    for status in sorted(run_dir.glob("*/status.json")):
        record = json.loads(status.read_text())
        exit_file = next(status.parent.glob(".jobs/*/exit.json"))
        exit_record = json.loads(exit_file.read_text())
        r_end = exit_file.stat().st_mtime
        cells.append(
            {
                "submitted": record["submitted_at"],
                "ended": record["ended_at"],
                "r_start": r_end - exit_record["duration_s"],
                "r_end": r_end,
                "r_s": exit_record["duration_s"],
            }
        )
    first_submit = min(c["submitted"] for c in cells)
    last_end = max(c["ended"] for c in cells)
    cells_phase = last_end - first_submit
    r_sum = sum(c["r_s"] for c in cells)
    dispatch = sum(c["r_start"] - c["submitted"] for c in cells)
    detect = sum(c["ended"] - c["r_end"] for c in cells)
    busy = sum(c["ended"] - c["submitted"] for c in cells)
    flow_begin = _first(lines, "Beginning flow run")
    flow_end = _first(lines, "Finished in state", last=True)
    all_done = _first(lines, f"[{len(cells)}/{len(cells)}]")
    mlflow_done = _first(lines, "Task run 'log-to-mlflow", last=True)
    results_done = _first(lines, "Task run 'write-results", last=True)
    assert flow_begin is not None and flow_end is not None
    return {
        "variant": variant,
        "wall_s": t_exit - t0,
        "startup_s": flow_begin - t0,
        "setup_s": first_submit - flow_begin,
        "cells_s": cells_phase,
        "collect_s": flow_end - last_end,
        "write_results_s": (results_done - (all_done or last_end)) if results_done else None,
        "mlflow_s": (mlflow_done - results_done) if mlflow_done and results_done else None,
        "shutdown_s": t_exit - flow_end,
        "r_mean_s": r_sum / len(cells),
        "r_sum_s": r_sum,
        "dispatch_per_cell_s": dispatch / len(cells),
        "detect_per_cell_s": detect / len(cells),
        "gap_per_cell_s": (cores * cells_phase - busy) / len(cells),
        "orchestrator_cpu_s": sampler.result.cpu.get("orchestrator", 0.0) + sampler.result.cpu.get("runner", 0.0),
        "r_cpu_s": sampler.result.cpu.get("R", 0.0),
        "server_cpu_s": sampler.cpu_between("server", t0, t_exit),
        "cells_orchestrator_cpu_s": sampler.cpu_between("orchestrator", first_submit, last_end),
        "cells_server_cpu_s": sampler.cpu_between("server", first_submit, last_end),
        "peak_rss_orchestrator": sampler.result.peak_rss.get("orchestrator", 0),
        "peak_rss_server": sampler.result.peak_rss.get("server", 0) if variant not in USES_SERVER else None,
    }


def startup_probe(env: dict[str, str]) -> dict[str, float]:
    """What happens before Prefect, timed in one process: CLI imports, resolve, the local R check, Prefect import."""
    code = f"""
import json, time
t0 = time.perf_counter()
from flows.cli import build_parser, options_from_args
from rjobs.inputs.options import resolve
from rjobs.engine.wiring import make_backend
t1 = time.perf_counter()
options = options_from_args(build_parser("x", "x").parse_args(["--job", {str(JOB)!r}]))
resolved = resolve(options)
t2 = time.perf_counter()
backend = make_backend(resolved)
backend.ensure_data(resolved.spec)
backend.ensure_environment(resolved.spec)
t3 = time.perf_counter()
import flows.train_flow
t4 = time.perf_counter()
print(json.dumps({{"imports_s": t1 - t0, "resolve_s": t2 - t1, "r_check_s": t3 - t2, "prefect_import_s": t4 - t3}}))
"""
    started = time.perf_counter()
    out = subprocess.run([PYTHON, "-c", code], cwd=REPO, env=env, capture_output=True, text=True, check=True)
    result = json.loads(out.stdout.strip().splitlines()[-1])
    result["process_s"] = time.perf_counter() - started - sum(result.values())
    return result


def measure(
    rounds: int,
    variants: tuple[str, ...],
    root: Path,
    cores: int,
    setup: PrefectSetup | None = None,
    iterations: int | None = None,
    probe: bool = True,
) -> dict[str, Any]:
    """`rounds` rounds of every variant (xargs first in the tuple); iterations None: the job's own; probe: time
    the start-up pieces in one process after each round."""
    if setup is None:
        with prefect_setup(root / "prefect") as own:
            return measure(rounds, variants, root, cores, own, iterations, probe)
    embedded = setup.embedded_env(root.name)
    commands = dry_run_commands(root, embedded, iterations)
    assert len(commands) == 24, commands
    runs: dict[str, list[dict[str, Any]]] = {v: [] for v in variants}
    probes = []
    for r in range(rounds):
        order = variants[r % len(variants) :] + variants[: r % len(variants)]
        for variant in order:
            work = root / f"round{r}-{variant}"
            work.mkdir(parents=True)
            if variant == "xargs":
                result = run_xargs(commands, work, cores)
            elif variant in USES_SERVER:
                result = run_flow(variant, work, cores, setup.server_env(), (setup.server_pid,), iterations)
            else:
                result = run_flow(variant, work, cores, embedded, (), iterations)
            result["round"] = r
            result["load"] = os.getloadavg()[0]
            runs[variant].append(result)
            shutil.rmtree(work, ignore_errors=True)
            print(f"  round {r} {variant:>9}: {result['wall_s']:.1f} s (load {result['load']:.1f})", flush=True)
        if probe:
            probes.append(startup_probe(embedded))
    ratios = {
        v: median([run["wall_s"] / base["wall_s"] for run, base in zip(runs[v], runs["xargs"], strict=True)])
        for v in variants
    }
    equal_r = {  # the same 24 cells cost R 100 to 122 CPU seconds from one run to another here: ratio per R CPU second
        v: median(
            [
                (run["wall_s"] / run["r_cpu_s"]) / (base["wall_s"] / base["r_cpu_s"])
                for run, base in zip(runs[v], runs["xargs"], strict=True)
            ]
        )
        for v in variants
    }
    return {
        "runs": runs,
        "ratios": ratios,
        "ratios_equal_r": equal_r,
        "probes": probes,
        "cores": cores,
        "cells": len(commands),
        "iterations": iterations or job_iterations(),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--variants", default=",".join(VARIANTS), help=f"any of {','.join(ALL_VARIANTS)}")
    parser.add_argument("--cores", type=int, default=os.cpu_count() or 2)
    parser.add_argument("--iterations", type=int, help="R loop steps per cell (default: the job's 4,000,000, ~1 s)")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    variants = tuple(v for v in args.variants.split(",") if v)
    assert variants[0] == "xargs", "xargs is the baseline and comes first"
    with tempfile.TemporaryDirectory(prefix="bench-fanout-") as folder:
        result = measure(args.rounds, variants, Path(folder), args.cores, iterations=args.iterations)
    for variant, ratio in result["ratios"].items():
        walls = [r["wall_s"] for r in result["runs"][variant]]
        print(f"{variant:>9}: median {median(walls):.1f} s, ratio to xargs {ratio:.2f}")
    if args.json:
        args.json.write_text(json.dumps(result, indent=1, default=str))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
