"""A signal landing between any two file operations: KeyboardInterrupt (what Prefect's and Python's SIGINT and
SIGTERM handlers raise) at the n-th file-system call of a chosen step, so a test can walk every point of it."""

from __future__ import annotations

import os
import shutil
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest

FILE_OPERATIONS: list[tuple[Any, str]] = [
    (os, "link"),
    (os, "replace"),
    (os, "rename"),
    (os, "unlink"),
    (os, "mkdir"),
    (shutil, "rmtree"),
    (shutil, "copyfileobj"),
]


class InterruptAt:
    """Counts the file operations made inside armed() on its own thread and raises KeyboardInterrupt at the n-th;
    `fired` says whether it did (a step with fewer operations than n runs to its end)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, n: int) -> None:
        self.n = n
        self.calls = 0
        self.fired = False
        self._armed = threading.local()
        for module, name in FILE_OPERATIONS:
            monkeypatch.setattr(module, name, self._counted(getattr(module, name)))

    def _counted(self, operation: Callable[..., Any]) -> Callable[..., Any]:
        def counted(*args: Any, **kwargs: Any) -> Any:
            if getattr(self._armed, "on", False) and not self.fired:
                self.calls += 1
                if self.calls == self.n:
                    self.fired = True
                    raise KeyboardInterrupt(f"interrupted before file operation {self.n}")
            return operation(*args, **kwargs)

        return counted

    @contextmanager
    def armed(self) -> Iterator[None]:
        previous = getattr(self._armed, "on", False)
        self._armed.on = True
        try:
            yield
        finally:
            self._armed.on = previous

    def wrap(self, step: Callable[..., Any]) -> Callable[..., Any]:
        """step, counted while it runs."""

        def armed_step(*args: Any, **kwargs: Any) -> Any:
            with self.armed():
                return step(*args, **kwargs)

        return armed_step
