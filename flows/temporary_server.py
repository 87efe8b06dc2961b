"""Prefect's temporary server, started before the CLI validates and imports Prefect so that it boots meanwhile
(a good part of the start-up). Imports nothing of Prefect's."""

from __future__ import annotations

import atexit
import contextlib
import importlib.util
import os
import socket
import subprocess
import sys
import time
import tomllib
import urllib.error
import urllib.request
from pathlib import Path

from rjobs.core.files import tail_text

SERVER_ENV = {"PREFECT_UI_ENABLED": "0", "PREFECT__SERVER_EPHEMERAL": "1", "PREFECT__SERVER_FINAL": "1"}
START_TIMEOUT_S = 120.0  # a first start migrates a fresh database: 20 s+ on a loaded machine


def prefect_api_configured() -> bool:
    """PREFECT_API_URL in the environment or the active profile; once Prefect is imported (a worker, a test
    harness) its settings are fixed, so Prefect's own answer counts."""
    if "prefect" in sys.modules:
        from prefect.settings import get_current_settings

        return get_current_settings().api.url is not None
    if os.environ.get("PREFECT_API_URL"):
        return True
    home = Path(os.environ.get("PREFECT_HOME", "~/.prefect")).expanduser()
    try:
        profiles = tomllib.loads(Path(os.environ.get("PREFECT_PROFILES_PATH", home / "profiles.toml")).read_text())
    except (OSError, tomllib.TOMLDecodeError):
        return False
    active = os.environ.get("PREFECT_PROFILE") or profiles.get("active", "ephemeral")
    return bool(profiles.get("profiles", {}).get(active, {}).get("PREFECT_API_URL"))


def uvicorn_command(port: int) -> list[str]:
    """The command Prefect's SubprocessASGIServer runs (tests/test_temporary_server.py holds the two together)."""
    spec = importlib.util.find_spec("prefect")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("prefect is not installed in this environment; run `make setup`")
    app_dir = str(Path(next(iter(spec.submodule_search_locations))).parent)
    return [
        *(sys.executable, "-m", "uvicorn", "--app-dir", app_dir, "--factory", "prefect.server.api.server:create_app"),
        *("--host", "127.0.0.1", "--port", str(port), "--log-level", "error", "--lifespan", "on"),
    ]


class TemporaryServer:
    """One uvicorn process serving Prefect's API on a free port, stopped when this process exits; it keeps its
    history in Prefect's default database, as Prefect's own temporary server does."""

    def __init__(self) -> None:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{port}/api"
        self.log_path = server_log_path(port)
        self.keep_log = False  # a server that did not start keeps its output: it says why
        with self.log_path.open("wb") as log:  # the server's own output, never the user's terminal
            self.process = subprocess.Popen(
                [sys.executable, str(Path(__file__).with_name("server_guard.py")), "--", *uvicorn_command(port)],
                env={**os.environ, **SERVER_ENV},
                stdin=subprocess.PIPE,  # never written: it closes when this process ends, which stops the server
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # out of the terminal's process group: Ctrl-C is the CLI's to handle
            )
        atexit.register(self.stop)

    @classmethod
    def start_unless_configured(cls) -> TemporaryServer | None:
        """Start one and point PREFECT_API_URL at it, unless a server is configured or Prefect is already
        imported (its settings are made: Prefect then starts its own temporary server as usual)."""
        if "prefect" in sys.modules or prefect_api_configured():
            return None
        server = cls()
        os.environ["PREFECT_API_URL"] = server.url
        return server

    def wait(self, timeout: float = START_TIMEOUT_S) -> None:
        """Until /health answers; a server that exits or never answers is an error naming the way around it."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and self.process.poll() is None:
            try:
                with urllib.request.urlopen(f"{self.url}/health", timeout=2) as response:
                    if response.status == 200:
                        return
            except (OSError, urllib.error.URLError):
                time.sleep(0.05)
        self.keep_log = True
        self.stop()
        tail = server_log_tail(self.log_path)
        raise RuntimeError(
            f"Prefect's temporary server at {self.url} did not answer within {timeout:.0f} s "
            f"(exit code {self.process.returncode}; its output: {self.log_path}{': ' + tail if tail else ''}); "
            "start one with `make server` and set PREFECT_API_URL"
        )

    def stop(self) -> None:
        """Close the guard's pipe (it stops the server), terminate it, then kill after 10 s, and reap; its log goes
        with it unless kept."""
        if self.process.stdin is not None and not self.process.stdin.closed:
            self.process.stdin.close()
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if not self.keep_log:
            self.log_path.unlink(missing_ok=True)


def server_log_path(port: int) -> Path:
    """Where a temporary server writes its output: beside Prefect's database in PREFECT_HOME, one file a server.
    Kept off the terminal, where a server shutting down under load printed asyncio tracebacks after Ctrl-C."""
    home = Path(os.environ.get("PREFECT_HOME", "~/.prefect")).expanduser()
    home.mkdir(parents=True, exist_ok=True)
    return home / f"temporary-server-{port}.log"


def server_log_tail(path: Path, lines: int = 5) -> str:
    """The last lines of a server's output, on one line, for the error that says it did not start."""
    return " | ".join(line.strip() for line in tail_text(path, max_lines=lines).splitlines() if line.strip())


def without_heartbeats() -> contextlib.AbstractContextManager[object]:
    """Flow-run heartbeats let a server notice a crashed run; a temporary server dies with this process, so
    nobody would, and Prefect's heartbeat thread holds the flow's end until its next beat."""
    from prefect.settings import PREFECT_FLOWS_HEARTBEAT_FREQUENCY, temporary_settings

    return temporary_settings(updates={PREFECT_FLOWS_HEARTBEAT_FREQUENCY: None})
