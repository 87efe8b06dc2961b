"""Prototype launcher: `python -m flows.train` with Prefect's temporary server started first, concurrently.

Measured by bench/fanout_local.py as the "prestart" variant. Today the CLI imports and validates, then
imports Prefect, and only then does Prefect start its temporary server (uvicorn, a few seconds), so the
three run one after the other. Here the server process is launched at t=0 (the same uvicorn command and
environment Prefect's SubprocessASGIServer uses, without importing Prefect), PREFECT_API_URL points at
it, and flows.cli.main validates while it boots; the flow waits for /health only when it is about to run.
Same flags as `python -m flows.train`.
"""

from __future__ import annotations

import atexit
import importlib.abc
import importlib.util
import os
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

LIGHT_FLAGS = ("-h", "--help", "--dry-run", "--emit-yaml")


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_server() -> tuple[subprocess.Popen[bytes], str]:
    """uvicorn on Prefect's app factory, as SubprocessASGIServer runs it; Prefect itself is not imported."""
    spec = importlib.util.find_spec("prefect")
    assert spec is not None and spec.submodule_search_locations
    app_dir = str(Path(next(iter(spec.submodule_search_locations))).parent)
    port = _free_port()
    env = {**os.environ, "PREFECT_UI_ENABLED": "0", "PREFECT__SERVER_EPHEMERAL": "1", "PREFECT__SERVER_FINAL": "1"}
    command = [sys.executable, "-m", "uvicorn", "--app-dir", app_dir, "--factory"]
    command += ["prefect.server.api.server:create_app", "--host", "127.0.0.1", "--port", str(port)]
    command += ["--log-level", "error", "--lifespan", "on"]
    proc = subprocess.Popen(command, env=env)
    return proc, f"http://127.0.0.1:{port}/api"


def wait_healthy(proc: subprocess.Popen[bytes], url: str, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the Prefect server exited with {proc.returncode}")
        try:
            with urllib.request.urlopen(f"{url}/health", timeout=2) as response:
                if response.status == 200:
                    return
        except (OSError, urllib.error.URLError):
            pass
        time.sleep(0.05)
    raise RuntimeError(f"the Prefect server at {url} is not healthy after {timeout:g} s")


class _WaitForServer(importlib.abc.MetaPathFinder):
    """Holds the import of flows.train (the moment the CLI hands over to Prefect) until the server is up."""

    def __init__(self, ready: threading.Event) -> None:
        self.ready = ready

    def find_spec(self, name: str, path: Any, target: Any = None) -> None:
        if name == "flows.train":
            self.ready.wait()
            sys.meta_path.remove(self)
        return None


def stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def main(argv: list[str]) -> int:
    if os.environ.get("PREFECT_API_URL") or any(flag in argv for flag in LIGHT_FLAGS):
        from flows.cli import main as cli_main

        return cli_main(argv)
    proc, url = start_server()
    atexit.register(stop, proc)
    os.environ["PREFECT_API_URL"] = url
    ready = threading.Event()

    def wait() -> None:
        try:
            wait_healthy(proc, url)
        finally:
            ready.set()

    threading.Thread(target=wait, daemon=True, name="prefect-server-health").start()
    sys.meta_path.insert(0, _WaitForServer(ready))
    from flows.cli import main as cli_main

    try:
        return cli_main(argv)
    finally:
        stop(proc)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
