"""Control-plane economy (issue 8, item 3): API calls per cell of a 200-cell sweep of 10-minute jobs, 20 in flight.

Both sides run on FakeMLClient with a fake clock (no real waiting) and the same seed, so every job has the
same queue, preparation and run times in both:
- engine: Sweep + JobMonitor (one batched status call per poll for every job in flight) + ThreadPoolExecutor,
  the monitor's clock and sleep being the fake clock's, at the Azure default poll interval and at 30 s;
- naive:  submit 20, then every 30 s get each job in flight, download and submit the next when one ends.

Detection lag = fake time the orchestrator first saw a job terminal - fake time the job became terminal.
Status calls are every jobs.get and jobs.list request, including the engine's one `find` (a get) per cell
before it submits, which is what makes a re-run attach instead of duplicating.
"""

from __future__ import annotations

import argparse
import json
import logging
import tempfile
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from bench.common import REPO, median

CELLS = 200
MAX_CONCURRENT = 20
NAIVE_INTERVAL = 30.0
JOB_TIMES = {"queue_range": (30.0, 90.0), "prepare_range": (10.0, 30.0), "run_range": (540.0, 660.0)}
STATUS_OPS = ("jobs.get", "jobs.list")


def _setup(work: Path, name: str) -> tuple[Any, Any, Any, Any]:
    from bench.fakeclient import instrument
    from rjobs.backends.azureml.backend import AzureMLBackend
    from rjobs.inputs.options import SweepOptions, resolve
    from rjobs.testing.fake_mlclient import FakeClock, FakeMLClient

    grid = work / "grid.yml"
    grid.write_text("seed: [" + ", ".join(str(i) for i in range(1, CELLS + 1)) + "]\n")
    resolved = resolve(SweepOptions(job=str(REPO / "job.yml"), grid=str(grid), run_name="economy"))
    clock = FakeClock()
    fake = instrument(FakeMLClient(clock, seed=5, store=work / f"store-{name}", **JOB_TIMES))
    backend = AzureMLBackend(
        fake, environment_file=resolved.environment_file, clock=clock, sleep=clock.sleep, env_smoke=False
    )
    return resolved, fake, backend, clock


def _end_time(fake: Any, job_name: str) -> float:
    """When the fake's state machine makes the job terminal: creation + the sum of its phases."""
    record = fake.job_record(job_name)
    return float(record["created"] + sum(duration for _, duration in record["phases"]))


def _counts(fake: Any, since: int) -> Counter[str]:
    return Counter(op for op, _, _ in fake.calls[since:])


def run_engine(work: Path, interval: float) -> dict[str, Any]:
    from rjobs.engine.ledger import RunLedger
    from rjobs.engine.monitor import JobMonitor
    from rjobs.engine.sweep import Sweep, SweepSettings

    resolved, fake, backend, clock = _setup(work, f"engine-{interval:g}")
    seen: dict[str, float] = {}
    lock = threading.Lock()

    def on_transition(handle: Any, previous: Any, status: Any) -> None:
        if status.state.terminal:
            with lock:
                seen.setdefault(handle.job_name, clock())

    def sleep(seconds: float) -> None:
        """Fake time, but first let the other cells' threads finish what they are doing (a collect, the next
        submit), as they would within milliseconds of real time while the poller waits: real 5 ms pauses until
        no control-plane call has been made for 10 ms (at most 1 s)."""
        deadline, quiet_since, count = time.monotonic() + 1.0, time.monotonic(), len(fake.calls)
        while time.monotonic() < deadline and time.monotonic() - quiet_since < 0.01:
            time.sleep(0.005)
            if len(fake.calls) != count:
                count, quiet_since = len(fake.calls), time.monotonic()
        clock.sleep(seconds)

    monitor = JobMonitor(backend, interval=interval, clock=clock, sleep=sleep, on_transition=on_transition)
    sweep = Sweep(
        resolved.spec,
        resolved.cells,
        backend,
        RunLedger(work / f"results-{interval:g}", resolved.run),
        SweepSettings(run=resolved.run),
        monitor,
        wall_clock=clock,
    )
    sweep.prepare()
    since, start = len(fake.calls), clock()
    with ThreadPoolExecutor(max_workers=MAX_CONCURRENT) as pool:
        results = list(pool.map(sweep.run_cell, list(sweep.cells)))
    assert all(r.record.state == "Completed" for r in results), Counter(r.record.state for r in results)
    lags = [seen[name] - _end_time(fake, name) for name in seen]
    return _report(f"engine, poll {interval:g} s", fake, since, clock() - start, lags, monitor.stats.status_calls)


def run_naive(work: Path) -> dict[str, Any]:
    """The loop people write first: every 30 s, one get per job in flight."""
    from rjobs.engine.ledger import RunLedger
    from rjobs.engine.monitor import JobMonitor
    from rjobs.engine.sweep import Sweep, SweepSettings

    resolved, fake, backend, clock = _setup(work, "naive")
    sweep = Sweep(
        resolved.spec,
        resolved.cells,
        backend,
        RunLedger(work / "results-naive", resolved.run),
        SweepSettings(run=resolved.run),
        JobMonitor(backend),
    )
    sweep.prepare()
    jobs = [sweep.cell_job(cell, 1) for cell in resolved.cells]
    since, start = len(fake.calls), clock()
    pending, in_flight, lags, polls = list(jobs), {}, [], 0
    while pending or in_flight:
        while pending and len(in_flight) < MAX_CONCURRENT:
            job = pending.pop(0)
            fake.jobs.create_or_update(_entity(backend, job))
            in_flight[job.job_name] = job
        clock.sleep(NAIVE_INTERVAL)
        polls += 1
        for name in list(in_flight):
            status = fake.jobs.get(name).status
            if status in ("Completed", "Failed", "Canceled", "NotResponding", "Paused"):
                lags.append(clock() - _end_time(fake, name))
                job = in_flight.pop(name)
                fake.jobs.download(name, download_path=str(work / "naive-dl" / name), all=True)
    return _report("naive, get each job every 30 s", fake, since, clock() - start, lags, polls)


def _entity(backend: Any, job: Any) -> Any:
    from rjobs.backends.azureml.jobs import build_command_job

    return build_command_job(job, backend.environment, backend.code_id(job.spec))


def _report(name: str, fake: Any, since: int, elapsed: float, lags: list[float], polls: int) -> dict[str, Any]:
    counts = _counts(fake, since)
    status = sum(counts[op] for op in STATUS_OPS)
    return {
        "name": name,
        "calls": dict(counts),
        "submit_per_cell": counts["jobs.create_or_update"] / CELLS,
        "status_per_cell": status / CELLS,
        "download_per_cell": counts["jobs.download"] / CELLS,
        "total_per_cell": sum(counts.values()) / CELLS,
        "polls": polls,
        "polls_per_cell": polls / CELLS,
        "sweep_minutes": elapsed / 60,
        "lag_median_s": median(lags),
        "lag_max_s": max(lags) if lags else float("nan"),
        "detected": len(lags),
    }


def measure(same_interval: bool = True) -> list[dict[str, Any]]:
    """The naive loop, then the engine at the Azure default poll interval (and at the naive loop's 30 s)."""
    from rjobs.engine.wiring import DEFAULT_POLL_INTERVAL

    logging.getLogger("rjobs").setLevel(logging.ERROR)
    rows = []
    intervals = [DEFAULT_POLL_INTERVAL["azureml"]] + ([NAIVE_INTERVAL] if same_interval else [])
    with tempfile.TemporaryDirectory(prefix="bench-economy-") as folder:
        work = Path(folder)
        rows.append(run_naive(work))
        for interval in intervals:
            rows.append(run_engine(work, interval))
    naive = rows[0]["status_per_cell"]
    for row in rows:
        row["status_ratio_vs_naive"] = naive / row["status_per_cell"]
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    rows = measure()
    for row in rows:
        print(
            f"{row['name']:>34}: status {row['status_per_cell']:.2f}/cell ({row['status_ratio_vs_naive']:.1f}x fewer "
            f"than naive), submit {row['submit_per_cell']:.2f}, download {row['download_per_cell']:.2f}, "
            f"lag median {row['lag_median_s']:.1f} s max {row['lag_max_s']:.1f} s, {row['sweep_minutes']:.0f} min"
        )
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
