"""A sweep orchestrator in its own process, for tests that SIGKILL it or measure its memory.

`python -m tests.reliability.driver --job J --results R --run NAME [--backend local|fake ...]` runs the real
engine (rjobs.engine.sweep.Sweep + JobMonitor) with a thread pool of --max-concurrent, as the flow's fan-out does,
without Prefect. Prints `imported`, `ready` and `done` lines; writes a JSON report (run summary, peak RSS) at the
end. `--kill-at submit:N` (or status:N, collect:N) SIGKILLs the process right after its N-th such backend call
returns: a crash at a point defined by progress, so one seed kills at the same logical point on any machine.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import signal
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m tests.reliability.driver")
    parser.add_argument("--job", required=True)
    parser.add_argument("--results", required=True)
    parser.add_argument("--run", required=True)
    parser.add_argument("--backend", choices=("local", "fake"), default="local")
    parser.add_argument("--max-concurrent", type=int, default=3)
    parser.add_argument("--retries", type=int, default=1)
    parser.add_argument("--interval", type=float, default=0.05, help="poll interval (fake: fake seconds)")
    parser.add_argument("--state", help="fake: the control plane's state file, shared by every process")
    parser.add_argument("--call-log", help="fake: JSON-lines file of every request, appended by every process")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--pace", type=float, default=0.0, help="fake: real seconds slept per fake second")
    parser.add_argument("--failure-rate", type=float, default=0.0, help="fake: share of jobs that fail")
    parser.add_argument("--run-commands", action="store_true", help="fake: run each job's command (real R)")
    parser.add_argument("--report", help="write the run summary and peak RSS here as JSON")
    parser.add_argument("--kill-at", help="EVENT:N: SIGKILL this process after the N-th submit, status or collect")
    return parser


KILL_EVENTS = ("submit", "status", "collect")


class KillAt:
    """Wraps a backend; SIGKILLs the process right after the n-th call of one of its methods returns."""

    def __init__(self, backend: Any, event: str, n: int) -> None:
        if event not in KILL_EVENTS or n < 1:
            raise SystemExit(f"--kill-at: expected one of {KILL_EVENTS} and a count >= 1, got {event}:{n}")
        self._backend, self._event, self._left = backend, event, n
        self._lock = threading.Lock()

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self._backend, name)
        if name != self._event:
            return attribute

        def counted(*args: Any, **kwargs: Any) -> Any:
            result = attribute(*args, **kwargs)
            with self._lock:
                self._left -= 1
                if self._left == 0:
                    os.kill(os.getpid(), signal.SIGKILL)
            return result

        return counted


def _fake_backend(args: argparse.Namespace, job: Path) -> tuple[Any, Any]:
    """An AzureMLBackend on a persisted fake workspace; its clock resumes from the state file."""
    from rjobs.backends.azureml.backend import AzureMLBackend
    from rjobs.engine.monitor import JobMonitor
    from rjobs.testing.clock import FakeClock
    from rjobs.testing.keyed_faults import KeyedFaultClient

    clock = FakeClock()
    client = KeyedFaultClient(
        clock,
        seed=args.seed,
        persist_path=Path(args.state),
        call_log=Path(args.call_log) if args.call_log else None,
        failure_rate=args.failure_rate,
        run_commands=args.run_commands,
    )
    if not args.run_commands:
        client.script(f"{args.run}-*", artifacts={"outputs/metrics.json": '{"score": 1.0}', "outputs/model.txt": "m"})

    def paced(seconds: float) -> None:
        clock.sleep(seconds)
        if args.pace:
            time.sleep(min(seconds, 120.0) * args.pace)

    backend = AzureMLBackend(
        client,
        environment_file=job.parent / "environment-job.yml",
        clock=clock,
        sleep=paced,
        r_packages=lambda _code: {},
        poll_interval=5.0,
    )
    monitor = JobMonitor(backend, interval=args.interval, clock=clock, sleep=paced, rng=random.Random(args.seed))
    return backend, monitor


def _ru_maxrss_kib() -> int:
    """getrusage's peak: kept across exec, so it includes the parent's size at fork (pytest's, hundreds of MiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def _peak_rss_kib() -> int:
    """This program's own peak resident set (VmHWM, reset by exec); getrusage's where /proc is missing."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except OSError:
        pass
    return _ru_maxrss_kib()


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    from rjobs.engine.ledger import RunLedger
    from rjobs.engine.monitor import JobMonitor
    from rjobs.engine.sweep import Sweep, SweepSettings
    from tests.reliability.support import load_sweep

    job = Path(args.job)
    spec, cells = load_sweep(job)
    if args.backend == "local":
        from rjobs.backends.local.backend import LocalBackend

        backend: Any = LocalBackend(check_packages=False)
        monitor = JobMonitor(backend, interval=args.interval, rng=random.Random(args.seed))
    else:
        backend, monitor = _fake_backend(args, job)
    if args.kill_at:
        event, _, count = args.kill_at.partition(":")
        backend = KillAt(backend, event, int(count))
        monitor.backend = backend
    print("imported", flush=True)

    settings = SweepSettings(run=args.run, retries=args.retries)
    sweep = Sweep(spec, cells, backend, RunLedger(args.results, args.run), settings, monitor)
    sweep.prepare()
    print("ready", flush=True)
    with ThreadPoolExecutor(max_workers=args.max_concurrent) as pool:
        list(pool.map(sweep.run_cell, list(sweep.cells)))
    summary = sweep.finish({"max_concurrent": args.max_concurrent})
    if args.report:
        report = {"summary": summary, "peak_rss_kib": _peak_rss_kib(), "ru_maxrss_kib": _ru_maxrss_kib()}
        Path(args.report).write_text(json.dumps(report), encoding="utf-8")
    print("done", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
