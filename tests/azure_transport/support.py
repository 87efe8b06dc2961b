"""The project's own AzureMLBackend over the real MLClient over the fake service, driven by the engine's Sweep as the
flow drives it; and the request counts per phase and per cell the tests and the report read."""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rjobs.backends.azureml.backend import AzureMLBackend
from rjobs.backends.azureml.workspace import SDK_RETRY
from rjobs.engine.ledger import RunLedger
from rjobs.engine.monitor import JobMonitor
from rjobs.engine.sweep import Sweep, SweepSettings
from rjobs.testing.fake_azureml.http import RequestRecord
from rjobs.testing.fake_azureml.transport import FakeAzureMLTransport, fake_ml_client
from tests.reliability.support import load_sweep


def transport_backend(transport: FakeAzureMLTransport, job: Path, **options: Any) -> AzureMLBackend:
    """AzureMLBackend as the flow builds it, but on an MLClient over the transport and the fake clock."""
    clock = transport.clock
    settings: dict[str, Any] = {
        "environment_file": job.parent / "environment-job.yml",
        "clock": clock,
        "sleep": clock.sleep,
        "r_packages": lambda _code: {"jsonlite": ["*.R"]},
        "storage_options": {"transport": transport, **SDK_RETRY},
    }
    settings.update(options)
    return AzureMLBackend(fake_ml_client(transport, show_progress=False, **SDK_RETRY), **settings)


@dataclass
class Phases:
    """Request records split where the sweep moved from setup (data, environment, smoke job, code) to the cells."""

    setup: list[RequestRecord] = field(default_factory=list)
    cells: list[RequestRecord] = field(default_factory=list)

    @staticmethod
    def routes(records: list[RequestRecord], host: str | None = None) -> Counter[str]:
        return Counter(r.route for r in records if host is None or r.host == host)

    def control_plane(self, records: list[RequestRecord]) -> int:
        return sum(1 for r in records if r.host in ("arm", "api"))


def transport_sweep(
    transport: FakeAzureMLTransport,
    job: Path,
    results: Path,
    run: str,
    *,
    workers: int = 4,
    retries: int = 1,
    backend_options: Mapping[str, Any] | None = None,
    sleep: Callable[[float], None] | None = None,
) -> tuple[Sweep, Phases]:
    """Prepare (setup requests), then run every cell on `workers` threads and finish; the engine's monitor polls
    every 15 fake seconds, sleeping with `sleep` (default: the fake clock's)."""
    spec, cells = load_sweep(job)
    backend = transport_backend(transport, job, **dict(backend_options or {}))
    clock = transport.clock
    monitor = JobMonitor(backend, interval=15.0, clock=clock, sleep=sleep or clock.sleep, rng=random.Random(0))
    sweep = Sweep(spec, cells, backend, RunLedger(results, run), SweepSettings(run=run, retries=retries), monitor)
    sweep.prepare()
    setup = len(transport.records)
    with ThreadPoolExecutor(max_workers=workers) as pool:
        list(pool.map(sweep.run_cell, list(sweep.cells)))
    sweep.finish()
    records = list(transport.records)
    return sweep, Phases(setup=records[:setup], cells=records[setup:])
