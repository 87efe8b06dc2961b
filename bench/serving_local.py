"""Local serving (issue 18): requests per second and p50/p99 latency of serve.R under local R, for single-row and
1,000-row /score requests, one client at a time and 20 at once; writes its section of bench/RESULTS.md.

`python -m bench.serving_local [--requests N]`. The baseline is the same server's GET /health/ready (plumber and
HTTP, no parsing, validation or prediction), measured in the same process, so the ratios are the cost of scoring.
The model is the demo's best kind of cell (ranger on all five features), fitted by r_src/train.R.
"""

from __future__ import annotations

import argparse
import json
import random
import subprocess
import tempfile
import time
import urllib.request
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from bench.common import REPO, machine
from bench.run_all import RESULTS, replace_section
from rjobs.serving.local_server import LocalServer
from rjobs.serving.routes import READINESS_ROUTE, SCORING_ROUTE, SERVE_R

SECTION = "## Local serving (issue 18)"
FEATURES = ("bill_length_mm", "bill_depth_mm", "flipper_length_mm", "species", "sex")
NUMERIC = frozenset({"bill_length_mm", "bill_depth_mm", "flipper_length_mm"})


def penguin_rows() -> list[dict[str, Any]]:
    import csv

    with (REPO / "data" / "penguins.csv").open(newline="", encoding="utf-8") as handle:
        return [
            {k: float(row[k]) if k in NUMERIC else row[k] for k in FEATURES}
            for row in csv.DictReader(handle)
            if all(row[k] not in ("", "NA") for k in FEATURES)
        ]


def timed(call: Callable[[], None], n: int) -> list[float]:
    times = []
    for _ in range(n):
        start = time.perf_counter()
        call()
        times.append(time.perf_counter() - start)
    return times


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))]


def measure(server: LocalServer, requests: int) -> dict[str, dict[str, float]]:
    rows = penguin_rows()
    rng = random.Random(1)
    bodies = {"1 row": json.dumps(rows[:1]).encode(), "1,000 rows": json.dumps(rng.choices(rows, k=1000)).encode()}

    def get() -> None:
        with urllib.request.urlopen(server.url + READINESS_ROUTE, timeout=90) as response:
            response.read()

    def post(body: bytes) -> Callable[[], None]:
        def call() -> None:
            request = urllib.request.Request(server.url + SCORING_ROUTE, data=body, method="POST")
            with urllib.request.urlopen(request, timeout=90) as response:
                assert response.status == 200
                response.read()

        return call

    timed(get, 20)  # warm-up: R's byte compiler, the model's first predict
    timed(post(bodies["1,000 rows"]), 3)
    results: dict[str, dict[str, float]] = {}
    cases: dict[str, tuple[Callable[[], None], int]] = {
        "GET /health/ready (baseline)": (get, requests),
        "POST /score, 1 row": (post(bodies["1 row"]), requests),
        "POST /score, 1,000 rows": (post(bodies["1,000 rows"]), max(20, requests // 10)),
    }
    for name, (call, n) in cases.items():
        times = timed(call, n)
        results[name] = {"n": n, "rps": n / sum(times), "p50": percentile(times, 50), "p99": percentile(times, 99)}
    one_row = post(bodies["1 row"])
    start = time.perf_counter()
    with ThreadPoolExecutor(max_workers=20) as pool:
        times = list(pool.map(lambda _: timed(one_row, 1)[0], range(requests)))
    wall = time.perf_counter() - start
    results["POST /score, 1 row, 20 clients"] = {
        "n": requests,
        "rps": requests / wall,
        "p50": percentile(times, 50),
        "p99": percentile(times, 99),
    }
    return results


def render(results: dict[str, dict[str, float]], info: dict[str, str]) -> str:
    baseline = results["GET /health/ready (baseline)"]["p50"]
    lines = [
        SECTION,
        "",
        f"`python -m bench.serving_local`: {info.get('summary', '')}.",
        f"serve.R (plumber {info['plumber']}) under local R, ranger on five features (the demo's best kind of cell),",
        "one R process: plumber serves one request at a time, so 20 clients queue rather than run in parallel.",
        "",
        "| request | n | requests/s | p50 ms | p99 ms | p50 / baseline p50 |",
        "| --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for name, r in results.items():
        ratio = r["p50"] / baseline
        lines.append(
            f"| {name} | {r['n']:.0f} | {r['rps']:.0f} | {1000 * r['p50']:.1f} | {1000 * r['p99']:.1f} | {ratio:.1f} |"
        )
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--no-write", action="store_true", help="print the section only")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-serving-") as folder:
        work = Path(folder)
        train = [
            "Rscript", str(REPO / "r_src" / "train.R"), "--data", str(REPO / "data" / "penguins.csv"),
            "--model", "ranger", "--features", "+".join(FEATURES), "--output", str(work / "outputs"),
        ]  # fmt: skip
        subprocess.run(train, check=True, capture_output=True)
        with LocalServer(SERVE_R, work / "outputs" / "model.rds", work / "serve.log") as server:
            results = measure(server, args.requests)
    plumber = subprocess.run(
        ["Rscript", "-e", 'cat(as.character(packageVersion("plumber")))'], check=True, capture_output=True, text=True
    ).stdout
    info = {"plumber": plumber, "summary": ", ".join(f"{k} {v}" for k, v in machine().items() if v)}
    section = render(results, info)
    print(section)
    if not args.no_write:
        text = RESULTS.read_text(encoding="utf-8") if RESULTS.is_file() else "# Benchmark results\n"
        RESULTS.write_text(replace_section(text, SECTION, section), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
