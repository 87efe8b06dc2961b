"""A fake monotonic clock for tests and benchmarks: time moves only when someone sleeps or advances it."""

from __future__ import annotations

import threading


class FakeClock:
    """Monotonic seconds that only move when a test (or a fake, per call) moves them.

    Callable like time.monotonic, with a sleep that advances it instead of waiting: inject `clock` and
    `clock.sleep` wherever the code under test takes a clock and a sleep. Safe to share between threads.
    """

    def __init__(self, start: float = 1000.0) -> None:
        self.now = start
        self.slept: list[float] = []
        self._lock = threading.Lock()

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        with self._lock:
            self.slept.append(seconds)
            self.now += max(0.0, float(seconds))

    def advance(self, seconds: float) -> None:
        with self._lock:
            self.now += max(0.0, float(seconds))


__all__ = ["FakeClock"]
