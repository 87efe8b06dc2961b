"""The test suite's FakeMLClient set up for benchmarks: jobs that finish at once, and its own CPU time measured.

The fake does server-side work a real workspace does elsewhere (sorting and filtering every job on each
listing page, writing logs, copying assets) plus the client-side entity conversion the real SDK does.
Its CPU time is counted per thread (time.thread_time inside the fake's lock), so a benchmark can tell the
orchestrator's own cost from the fake's.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from rjobs.testing.fake_mlclient import FakeClock, FakeMLClient

INSTANT = {"queue_range": (0.0, 0.0), "prepare_range": (0.0, 0.0), "run_range": (0.001, 0.002)}


class FakeCPU:
    """CPU seconds (and wall seconds, lock held) spent inside fake calls; nested calls count once."""

    def __init__(self, lock: Any) -> None:
        self.lock = lock
        self.seconds = 0.0
        self.wall = 0.0
        self.calls = 0
        self._local = threading.local()
        self._sum_lock = threading.Lock()

    def run(self, function: Any, *args: Any, **kwargs: Any) -> Any:
        depth = getattr(self._local, "depth", 0)
        if depth:
            return function(*args, **kwargs)
        with self.lock:
            self._local.depth = 1
            start, wall = time.thread_time(), time.perf_counter()
            try:
                return function(*args, **kwargs)
            finally:
                spent, waited = time.thread_time() - start, time.perf_counter() - wall
                self._local.depth = 0
                with self._sum_lock:
                    self.seconds += spent
                    self.wall += waited
                    self.calls += 1


class _TimedPages:
    def __init__(self, pages: Iterator[Any], cpu: FakeCPU) -> None:
        self._pages = pages
        self._cpu = cpu

    def __iter__(self) -> _TimedPages:
        return self

    def __next__(self) -> list[Any]:
        return self._cpu.run(lambda: list(next(self._pages)))


class _TimedPager:
    def __init__(self, pager: Any, cpu: FakeCPU) -> None:
        self._pager = pager
        self._cpu = cpu

    def by_page(self, *args: Any, **kwargs: Any) -> _TimedPages:
        return _TimedPages(self._pager.by_page(*args, **kwargs), self._cpu)

    def __iter__(self) -> Iterator[Any]:
        for page in self.by_page():
            yield from page


class _TimedOps:
    def __init__(self, ops: Any, cpu: FakeCPU) -> None:
        self._ops = ops
        self._cpu = cpu

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self._ops, name)
        if not callable(attribute):
            return attribute

        def timed(*args: Any, **kwargs: Any) -> Any:
            result = self._cpu.run(attribute, *args, **kwargs)
            if name == "list" and hasattr(result, "by_page"):
                return _TimedPager(result, self._cpu)
            return result

        return timed


def instant_fake(store: Path, *, seed: int = 11, advance_per_call: float = 5.0, **ranges: Any) -> FakeMLClient:
    """A fake workspace whose jobs end within one control-plane call (each get/list moves its clock on); every
    job leaves an outputs/metrics.json, as the demo's R script does."""
    fake = FakeMLClient(FakeClock(), seed=seed, store=store, advance_per_call=advance_per_call, **{**INSTANT, **ranges})
    return instrument(fake)


def instrument(fake: FakeMLClient) -> FakeMLClient:
    """Count the fake's CPU (fake.bench_cpu); jobs leave a metrics.json. The fake runs the SDK's local schema
    validation (about 18 ms of CPU per job) unless create_or_update is given skip_validation=True, which
    AzureMLBackend does for every job after the first of its shape: the fake's CPU per cell shows it."""
    fake.script("*", artifacts={"outputs/metrics.json": '{"rmse": 1.0}'})
    cpu = FakeCPU(fake.lock)
    fake.bench_cpu = cpu  # type: ignore[attr-defined]
    for name in ("jobs", "environments", "data", "models", "code"):
        setattr(fake, name, _TimedOps(getattr(fake, name), cpu))
    fake._code = fake.code
    return fake
