"""One sweep's MLflow log is written by one process at a time: a lock file beside the ledger (results/<run>/).

Two flows on the same run name share the ledger; without the lock both find no runs and both create them (a parent
and a child per cell each). With it the second waits, then finds the first's runs by their tags and updates them.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import threading
from collections.abc import Iterator
from pathlib import Path

log = logging.getLogger(__name__)

LOCK_FILE = "mlflow.lock"
_held = threading.local()


@contextlib.contextmanager
def sweep_log_lock(run_dir: Path) -> Iterator[None]:
    """Hold results/<run>/mlflow.lock exclusively (flock: released by the kernel if the holder dies). Re-entrant in
    one thread; other threads and processes wait, since each opens its own descriptor."""
    path = (run_dir / LOCK_FILE).resolve()
    held: set[Path] = getattr(_held, "paths", set())
    _held.paths = held
    if path in held:
        yield
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            log.info("another process is logging sweep %s to MLflow: waiting for it (%s)", run_dir.name, path)
            fcntl.flock(fd, fcntl.LOCK_EX)
        held.add(path)
        try:
            yield
        finally:
            held.discard(path)
    finally:
        os.close(fd)
