"""Hostile files for tests: devices, UNIX sockets and FIFOs made for real, and a bound on calls that could block on
one (a test must fail within a bound, never hang the suite)."""

from __future__ import annotations

import contextlib
import os
import socket
import stat
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.reliability.support import OUTCOME_S


def make_device(path: Path) -> None:
    """A character device like /dev/zero; where mknod is not allowed, a symlink to /dev/zero stands in."""
    try:
        os.mknod(path, 0o600 | stat.S_IFCHR, os.makedev(1, 5))
    except OSError:
        path.symlink_to("/dev/zero")


def bind_socket(path: Path, opened: list[socket.socket]) -> None:
    """A UNIX socket bound at path; the caller closes what it appends to opened."""
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.bind(str(path))
    opened.append(sock)


def release(*fifos: Path) -> None:
    """Unblock a reader stuck in open() on a FIFO (code without the fix), so a failed test does not leak a hang."""
    for fifo in fifos:
        with contextlib.suppress(OSError):
            os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))


def bounded(call: Callable[[], Any], *fifos: Path) -> Any:
    """The call's result, or a test failure if it does not return within OUTCOME_S (it blocked on a special file)."""
    box: dict[str, Any] = {}

    def run() -> None:
        try:
            box["value"] = call()
        except BaseException as exc:  # re-raised in the test's thread
            box["error"] = exc

    worker = threading.Thread(target=run, daemon=True)
    worker.start()
    worker.join(OUTCOME_S)
    if worker.is_alive():
        release(*fifos)
        pytest.fail(f"still blocked after {OUTCOME_S:.0f} s: a special file was opened or read")
    if "error" in box:
        raise box["error"]
    return box.get("value")
