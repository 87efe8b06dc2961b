"""Control-plane requests per cell over a whole Azure sweep (issue 21): the real MLClient and the project's
AzureMLBackend and engine over the fake Azure ML service at the HTTP transport, every request counted there.

The sweep is the repository's job.yml with `--cells` seeds (default 1,000), `--in-flight` workers (8), the engine's
monitor polling every 15 fake seconds (spacing out to 60 s while polls find no job ended: `--quiet-growth`, the
product's default on Azure), and jobs that queue 30-300 s, prepare 10-60 s and run 120-600 s on the fake
clock. Counted: every request after setup (find, submit, every poll, collect) on the control plane (ARM and the
regional API), and blob requests separately; setup (data, environment, smoke job, code) is shown apart. Polls are
counted too, so requests per poll can be read against the jobs in flight.

Run: `.venv/bin/python -m bench.azure_requests [--cells 1000] [--json out.json]`. It also runs on an older checkout
of the backend (the "before" figure): options the backend does not take are left out.
"""

from __future__ import annotations

import argparse
import inspect
import json
import random
import tempfile
import time
import warnings
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from bench.common import REPO

REALISTIC = {"queue_range": (30.0, 300.0), "prepare_range": (10.0, 60.0), "run_range": (120.0, 600.0)}
POLL_S = 15.0


def write_grid(folder: Path, cells: int) -> Path:
    grid = folder / "grid.yml"
    grid.write_text("seed: [" + ", ".join(str(i) for i in range(1, cells + 1)) + "]\n")
    return grid


def measure(
    cells: int, in_flight: int, work: Path, poll_s: float = POLL_S, quiet_growth: float | None = None
) -> dict[str, Any]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from azure.ai.ml.entities import Environment

    from rjobs.backends.azureml.backend import AzureMLBackend
    from rjobs.backends.azureml.workspace import SDK_RETRY
    from rjobs.engine.ledger import RunLedger
    from rjobs.engine.monitor import JobMonitor
    from rjobs.engine.sweep import Sweep, SweepSettings
    from rjobs.inputs.options import SweepOptions, resolve
    from rjobs.testing.clock import FakeClock
    from rjobs.testing.fake_azureml.client import FakeMLClient
    from rjobs.testing.fake_azureml.transport import FakeAzureMLTransport, blob_clients_through, fake_ml_client

    clock = FakeClock()
    workspace = FakeMLClient(clock, seed=21, store=work / "service", **REALISTIC)  # type: ignore[arg-type]
    transport = FakeAzureMLTransport(workspace)
    options = SweepOptions(
        job=str(REPO / "job.yml"), grid=str(write_grid(work, cells)), max_cells=cells, run_name=f"requests-{cells}"
    )
    resolved = resolve(options)
    with blob_clients_through(transport):
        ml_client = fake_ml_client(transport, show_progress=False, **SDK_RETRY)
        ml_client.environments.create_or_update(Environment(name="r-penguins", version="1", image="rocker/r-ver:4.4.1"))
        settings: dict[str, Any] = {
            "environment_file": resolved.environment_file,
            "clock": clock,
            "sleep": clock.sleep,
            "r_packages": lambda _code: {"jsonlite": ["*.R"]},
            "storage_options": {"transport": transport, **SDK_RETRY},
        }
        accepted = inspect.signature(AzureMLBackend).parameters
        backend = AzureMLBackend(ml_client, **{k: v for k, v in settings.items() if k in accepted})
        growth = {} if quiet_growth is None else {"quiet_growth": quiet_growth}
        monitor = JobMonitor(backend, interval=poll_s, clock=clock, sleep=clock.sleep, rng=random.Random(0), **growth)
        ledger = RunLedger(work / "results", resolved.run)
        sweep = Sweep(resolved.spec, resolved.cells, backend, ledger, SweepSettings(run=resolved.run), monitor)
        start = len(transport.records)
        sweep.prepare()
        setup = len(transport.records)
        started = time.perf_counter()
        with ThreadPoolExecutor(max_workers=in_flight) as pool:
            list(pool.map(sweep.run_cell, list(sweep.cells)))
        wall = time.perf_counter() - started
        summary = sweep.finish()
    records = list(transport.records)
    cell_records = records[setup:]
    control = [r for r in cell_records if r.host in ("arm", "api")]
    status = sum(1 for r in control if r.route in ("jobs.get", "jobs.list"))  # finds and collects' gets included
    return {
        "cells": cells,
        "in_flight": in_flight,
        "poll_s": poll_s,
        "quiet_growth": getattr(monitor, "quiet_growth", 1.0),
        "finds": getattr(getattr(sweep, "submission", None), "finds", None),
        "completed": summary["completed"],
        "setup_control_plane": sum(1 for r in records[start:setup] if r.host in ("arm", "api")),
        "control_plane": len(control),
        "per_cell": len(control) / cells,
        "by_route": dict(Counter(r.route for r in control).most_common()),
        "blob": dict(Counter(r.route for r in cell_records if r.host == "blob").most_common()),
        "polls": monitor.stats.status_calls,
        "lists_and_gets_per_poll": status / max(monitor.stats.status_calls, 1),
        "fake_hours": (clock.now - 1000.0) / 3600.0,
        "wall_s": wall,
    }


def default_growth() -> float | None:
    """The product's growth on Azure; None on a checkout that has none (the "before" figure)."""
    try:
        from rjobs.engine.wiring import QUIET_GROWTH
    except ImportError:
        return None
    return QUIET_GROWTH["azureml"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cells", type=int, default=1000)
    parser.add_argument("--in-flight", type=int, default=8)
    parser.add_argument("--poll-interval", type=float, default=POLL_S, help="the monitor's poll interval (s)")
    parser.add_argument("--quiet-growth", type=float, help="the pause's growth per quiet poll (Azure's default)")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="bench-azure-requests-") as work:
        result = measure(
            args.cells, args.in_flight, Path(work), args.poll_interval, args.quiet_growth or default_growth()
        )
    text = json.dumps(result, indent=2)
    print(text)
    if args.json:
        args.json.write_text(text + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
