"""Run serve.R with a model under local R: started, waited on until its readiness route answers, stopped with Ctrl-C's
signal (then harder), and given only the environment R needs, so no secret of this shell reaches R or its log."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import IO

from rjobs.backends.local.environment import job_environment
from rjobs.core.errors import ServingError
from rjobs.core.files import tail_text
from rjobs.serving.routes import READINESS_ROUTE

DEFAULT_HOST = "127.0.0.1"
READY_DEADLINE_S = 90.0
"""Bounds a hang, not a speed goal: R loads plumber and the model in a second or two, minutes on a loaded machine."""
STOP_GRACE_S = 30.0


def free_port(host: str = DEFAULT_HOST) -> int:
    """A port the OS has just handed out as free on host (closed again, so R can bind it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def serve_environment(
    environ: Mapping[str, str], model: Path, host: str, port: int, predict: Path | None, max_bytes: int | None
) -> dict[str, str]:
    """The allowlisted environment of a local job plus serve.R's SERVE_* settings."""
    settings = {"SERVE_MODEL": str(model), "SERVE_HOST": host, "SERVE_PORT": str(port)}
    if predict is not None:
        settings["SERVE_PREDICT"] = str(predict)
    if max_bytes is not None:
        settings["SERVE_MAX_BYTES"] = str(max_bytes)
    return job_environment(environ, settings)


def url_host(host: str) -> str:
    """How a client reaches the bound interface: 0.0.0.0 and :: are reached on loopback; IPv6 goes in brackets."""
    if host in ("0.0.0.0", ""):
        return DEFAULT_HOST
    if host == "::":
        return "[::1]"
    return f"[{host}]" if ":" in host else host


@dataclass
class LocalServer:
    """One `Rscript serve.R` process. Use as a context manager: started and ready on entry, stopped on exit."""

    serve_r: Path
    model: Path
    log_path: Path
    host: str = DEFAULT_HOST
    port: int = 0
    predict: Path | None = None
    max_bytes: int | None = None
    rscript: str = "Rscript"
    environ: Mapping[str, str] = field(default_factory=lambda: dict(os.environ))
    clock: Callable[[], float] = time.monotonic
    sleep: Callable[[float], None] = time.sleep
    _process: subprocess.Popen[bytes] | None = field(default=None, init=False, repr=False)
    _log: IO[bytes] | None = field(default=None, init=False, repr=False)

    @property
    def url(self) -> str:
        return f"http://{url_host(self.host)}:{self.port}"

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    def exited(self) -> bool:
        """True once a started R process has ended on its own."""
        return self._process is not None and self._process.poll() is not None

    def start(self) -> str:
        """Start R (port 0 picks a free one) and return the base URL; R's output goes to log_path."""
        if not self.model.is_file():
            raise ServingError(self.url, f"model file {self.model} does not exist")
        if self.port == 0:
            self.port = free_port(self.host if self.host not in ("0.0.0.0", "::") else DEFAULT_HOST)
        env = serve_environment(self.environ, self.model, self.host, self.port, self.predict, self.max_bytes)
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self._log = self.log_path.open("ab")
        try:
            self._process = subprocess.Popen(
                [self.rscript, "--vanilla", str(self.serve_r)],
                cwd=self.serve_r.parent,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=self._log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # Ctrl-C in the terminal reaches us, and we stop R ourselves
            )
        except OSError as exc:
            self._close_log()
            raise ServingError(self.url, f"could not start {self.rscript}: {exc}") from exc
        return self.url

    def ready(self, timeout_s: float = 5.0) -> bool:
        """One probe of the readiness route: True on 200."""
        try:
            with urllib.request.urlopen(self.url + READINESS_ROUTE, timeout=timeout_s) as response:
                return bool(response.status == 200)
        except (urllib.error.URLError, OSError):
            return False

    def wait_ready(
        self, deadline_s: float = READY_DEADLINE_S, poll_s: float = 0.2, cancelled: Callable[[], bool] = lambda: False
    ) -> str | None:
        """Poll the readiness route until it answers; R exiting first or the deadline passing is a ServingError.
        None (R stopped) when `cancelled` says so first: Ctrl-C while R still loads."""
        if self._process is None:
            raise ServingError(self.url, "was never started")
        end = self.clock() + deadline_s
        while True:
            if self._process.poll() is not None:
                detail = f"R exited with status {self._process.returncode} before it was ready"
                raise ServingError(self.url, f"{detail}: {tail_text(self.log_path, 5)}", self.log_path)
            if self.ready():
                return self.url
            if cancelled():
                self.stop()
                return None
            if self.clock() >= end:
                self.stop()
                raise ServingError(self.url, f"not ready after {deadline_s:.0f} s; stopped", self.log_path)
            self.sleep(poll_s)

    def stop(self, grace_s: float = STOP_GRACE_S) -> int | None:
        """SIGINT (what Ctrl-C sends: R leaves its loop and exits), SIGKILL after grace_s; the exit status."""
        process, self._process = self._process, None
        if process is None:
            return None
        try:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGINT)
                try:
                    process.wait(timeout=grace_s)
                except subprocess.TimeoutExpired:
                    os.killpg(process.pid, signal.SIGKILL)
                    process.wait()
        except ProcessLookupError:
            process.wait()
        finally:
            self._close_log()
        return process.returncode

    def _close_log(self) -> None:
        if self._log is not None:
            self._log.close()
            self._log = None

    def __enter__(self) -> LocalServer:
        self.start()
        try:
            self.wait_ready()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.stop()
