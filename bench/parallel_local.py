"""The parallel step locally (issue 14): scoring a large CSV in batches against `xargs -P` over the same pre-split
files, and the orchestrator's peak memory while it splits tables of growing size.

- engine: rjobs.parallel driven as the flow drives it (split, every batch under the local backend's supervisor,
          thresholds counted, rows appended), without Prefect, in a child process.
- xargs:  the same Rscript command per batch file, `xargs -P <concurrency>`, over the files the engine split: the
          baseline (no split, no append, no supervision).
- memory: a child process splits tables of N rows into 100 batches; its peak RSS (ru_maxrss) against a child that
          only imports the same modules: flat in N means the table is never whole in memory.

Usage: python -m bench.parallel_local [--rows 1000000] [--batches 100] [--rounds 2] [--memory-rows 1e6,4e6,16e6]
       python -m bench.parallel_local --memory-only --memory-rows 1e6,330e6   (a ~5 GB table: memory only)
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

SCORE_R = r"""
args <- commandArgs(trailingOnly = TRUE)
opt <- list()
for (i in seq(1, length(args), by = 2)) opt[[sub("^--", "", args[[i]])]] <- args[[i + 1]]
rows <- read.csv(opt$mini_batch)
rows$pred <- 0.5 + 2 * rows$x - 0.1 * rows$x^2
dir.create(opt$output, showWarnings = FALSE, recursive = TRUE)
write.csv(rows[, c("id", "pred")], file.path(opt$output, "rows.csv"), row.names = FALSE)
"""

DRIVE = """
import json, sys, time
from pathlib import Path
from rjobs.inputs.options import SweepOptions
from rjobs.parallel.summary import finish
from rjobs.parallel.wiring import build_run, prepare_parallel
started = time.perf_counter()
prepared = prepare_parallel(SweepOptions(job=sys.argv[1], results=sys.argv[2], run_name="bench"))
split = time.perf_counter()
run = build_run(prepared)
run.sweep.prepare()
run.run()
summary = finish(run)
print(json.dumps({"split_s": split - started, "total_s": time.perf_counter() - started, "rows": summary["rows"],
                  "completed": summary["completed"]}))
"""

SPLIT = """
import sys
from pathlib import Path
from rjobs.parallel import tables
if sys.argv[1] != "baseline":
    batches = tables.split_rows(Path(sys.argv[1]), int(sys.argv[2]), Path(sys.argv[3]))
"""


DISTINCT_ROWS = 1_000_000


def write_table(path: Path, rows: int) -> None:
    """id,x rows written in blocks, so generating a large input costs no memory either. Past a million rows the
    first million repeat (ids too): the splitter only counts rows, and a 5 GB table is then written at disk speed."""
    block = 100_000
    with path.open("w") as handle:
        handle.write("id,x\n")
        for start in range(0, min(rows, DISTINCT_ROWS), block):
            handle.write("".join(f"r{i},{(i % 1000) / 100}\n" for i in range(start, min(rows, start + block))))
    if rows > DISTINCT_ROWS:
        with path.open("rb") as handle:
            handle.readline()
            repeated = handle.read()
        with path.open("ab") as handle:
            for _ in range(rows // DISTINCT_ROWS - 1):
                handle.write(repeated)
            handle.write(b"".join(repeated.splitlines(keepends=True)[: rows % DISTINCT_ROWS]))


def write_job(root: Path, table: Path, batch_rows: int, concurrency: int) -> Path:
    (root / "src").mkdir(parents=True, exist_ok=True)
    (root / "src" / "score.R").write_text(SCORE_R)
    job = root / "job.yml"
    job.write_text(
        "type: parallel\n"
        f"inputs:\n  data: {{type: uri_file, path: {table}}}\n"
        "outputs:\n  predictions: {type: uri_folder}\n"
        "input_data: ${{inputs.data}}\n"
        f'mini_batch_size: "{batch_rows}"\n'
        f"max_concurrency_per_instance: {concurrency}\n"
        "retry_settings: {max_retries: 0, timeout: 600}\n"
        "task:\n  type: run_function\n  code: src\n  entry_script: score.R\n"
        "  append_row_to: ${{outputs.predictions}}\n"
    )
    return job


def child_env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(REPO)}


def run_engine(job: Path, results: Path) -> dict[str, float]:
    shutil.rmtree(results, ignore_errors=True)
    out = subprocess.run(
        [PYTHON, "-c", DRIVE, str(job), str(results)], env=child_env(), check=True, capture_output=True, text=True
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def run_xargs(batch_files: list[Path], code: Path, work: Path, concurrency: int) -> float:
    """One Rscript per pre-split batch, `concurrency` at once: what a shell user would write."""
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    listing = "".join(f"{path}\n" for path in batch_files)
    script = f'Rscript {code / "score.R"} --mini_batch "$1" --output {work}/$(basename "$1" .csv)'
    started = time.perf_counter()
    subprocess.run(
        ["xargs", "-P", str(concurrency), "-I{}", "sh", "-c", script, "sh", "{}"],
        input=listing,
        text=True,
        check=True,
    )
    return time.perf_counter() - started


def peak_rss_mb(args: list[str]) -> float:
    """Peak RSS of one child process, read from its own rusage after it exits (os.wait4)."""
    proc = subprocess.Popen([PYTHON, "-c", SPLIT, *args], env=child_env())
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise RuntimeError(f"split child failed: {proc.returncode}")
    return usage.ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--batches", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--concurrency", type=int, default=os.cpu_count() or 2)
    parser.add_argument("--memory-rows", default="1000000,4000000,16000000")
    parser.add_argument("--memory-only", action="store_true", help="only the splitter's peak memory by table size")
    args = parser.parse_args()
    facts = machine()
    with tempfile.TemporaryDirectory(prefix="bench-parallel-") as folder:
        root = Path(folder)
        if args.memory_only:
            print(f"machine: {facts}")
            measure_memory(root, [int(float(n)) for n in args.memory_rows.split(",")])
            return
        table = root / "table.csv"
        write_table(table, args.rows)
        job = write_job(root, table, args.rows // args.batches, args.concurrency)
        engine: list[dict[str, float]] = []
        xargs: list[float] = []
        for round_ in range(args.rounds):
            order = ["engine", "xargs"] if round_ % 2 == 0 else ["xargs", "engine"]
            if not (root / "results" / "bench" / "batches").is_dir():
                run_engine(job, root / "warmup")  # the first split, so xargs has its files in every round
                shutil.copytree(root / "warmup", root / "results")
            batch_files = sorted((root / "results" / "bench" / "batches").glob("b*.csv"))
            for name in order:
                if name == "xargs":
                    xargs.append(run_xargs(batch_files, root / "src", root / "xargs", args.concurrency))
                else:
                    engine.append(run_engine(job, root / "engine"))
                    assert engine[-1]["rows"] == args.rows and engine[-1]["completed"] == args.batches
        total = median([e["total_s"] for e in engine])
        split = median([e["split_s"] for e in engine])
        base = median(xargs)
        print(f"machine: {facts}")
        print(f"{args.rows} rows in {args.batches} batches, {args.concurrency} at once, {args.rounds} rounds")
        print(f"xargs -P {args.concurrency} over the pre-split files: median {base:.2f} s")
        print(f"engine end to end (split {split:.2f} s + run + append): median {total:.2f} s, ratio {total / base:.3f}")
        print(f"engine without its split: median {total - split:.2f} s, ratio {(total - split) / base:.3f}")
        measure_memory(root, [int(float(n)) for n in args.memory_rows.split(",")])


def measure_memory(root: Path, sizes: list[int]) -> None:
    """Peak RSS of a child splitting tables of each size into 100 batches, against a child that splits nothing."""
    baseline = peak_rss_mb(["baseline"])
    print(f"memory baseline (python + pandas imported, nothing split): {baseline:.0f} MB peak RSS")
    for rows in sizes:
        big = root / f"mem-{rows}.csv"
        write_table(big, rows)
        size_mb = big.stat().st_size / 2**20
        out = root / f"mem-{rows}"
        peak = peak_rss_mb([str(big), str(max(1, rows // 100)), str(out)])
        print(
            f"split {rows} rows ({size_mb:.0f} MB) into 100 batches: "
            f"peak RSS {peak:.0f} MB ({peak - baseline:+.0f} over the baseline)"
        )
        big.unlink()
        shutil.rmtree(out, ignore_errors=True)


if __name__ == "__main__":
    main()
