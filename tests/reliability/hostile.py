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


def make_special(kind: str, path: Path, opened: list[socket.socket]) -> None:
    """One hostile entry at path, by kind: a FIFO, a device, a socket, or a symlink out of its folder (to a secret
    beside it, /etc/passwd, /dev/zero, a FIFO, or the parent folder itself)."""
    if kind == "fifo":
        os.mkfifo(path)
    elif kind == "device":
        make_device(path)
    elif kind == "socket":
        bind_socket(path, opened)
    elif kind == "symlink-outside":
        secret = path.parent.parent / "secret.env"
        secret.write_text("TOKEN=do-not-upload\n")
        path.symlink_to(secret)
    elif kind == "symlink-to-etc-passwd":
        path.symlink_to("/etc/passwd")
    elif kind == "symlink-to-dev-zero":
        path.symlink_to("/dev/zero")
    elif kind == "symlink-to-fifo":
        os.mkfifo(path.with_name("real-fifo"))
        path.symlink_to(path.with_name("real-fifo"))
    elif kind == "symlink-loop":
        path.symlink_to("..", target_is_directory=True)
    else:
        raise ValueError(f"no hostile file of kind {kind!r}")


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
