"""Shared helpers for the orchestration benchmarks: machine facts, medians, process-tree sampling, Prefect homes.

Every benchmark measures against a baseline run in the same script, on the same (shared, noisy) machine.
"""

from __future__ import annotations

import contextlib
import os
import platform
import re
import shutil
import socket
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
PYTHON = str(REPO / ".venv" / "bin" / "python") if (REPO / ".venv" / "bin" / "python").exists() else sys.executable
PREFECT_LOG_TIME = re.compile(r"^(\d\d):(\d\d):(\d\d)\.(\d{3}) \| ")


def median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else float("nan")


def machine() -> dict[str, str]:
    """nproc, memory, CPU model, OS, Python and load average: the line every results section starts with."""
    model = ""
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    memory = ""
    with contextlib.suppress(OSError, ValueError, IndexError):
        kib = int(Path("/proc/meminfo").read_text().split("MemTotal:")[1].split()[0])
        memory = f"{kib / 2**20:.1f} GiB"
    rscript = shutil.which("Rscript")
    r_version = ""
    if rscript:
        with contextlib.suppress(OSError, subprocess.SubprocessError):
            out = subprocess.run([rscript, "--version"], capture_output=True, text=True, timeout=30)
            found = re.search(r"version (\S+)", out.stdout or out.stderr)
            r_version = f"R {found.group(1)}" if found else ""
    prefect_version = ""
    with contextlib.suppress(OSError, subprocess.SubprocessError):
        out = subprocess.run(
            [PYTHON, "-c", "import importlib.metadata as m; print(m.version('prefect'), m.version('azure-ai-ml'))"],
            capture_output=True,
            text=True,
            timeout=60,
        )
        prefect_version = out.stdout.strip()
    return {
        "nproc": str(os.cpu_count() or "?"),
        "memory": memory,
        "cpu": model or platform.processor() or "?",
        "os": f"{platform.system()} {platform.machine()}",
        "python": platform.python_version(),
        "r": r_version,
        "prefect_azure": prefect_version,
        "load": "{:.1f} {:.1f} {:.1f}".format(*os.getloadavg()),
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
    }


def loadavg() -> float:
    return os.getloadavg()[0]


def free_port() -> int:
    with contextlib.closing(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def prefect_env(home: Path, api_url: str | None = None, **extra: str) -> dict[str, str]:
    """A child environment with its own PREFECT_HOME (other engineers' servers share ~/.prefect's sqlite)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
    home.mkdir(parents=True, exist_ok=True)
    env["PREFECT_HOME"] = str(home)
    env["PREFECT_SERVER_ANALYTICS_ENABLED"] = "false"  # no telemetry calls to the internet from a sandbox
    env["PREFECT_LOGGING_LEVEL"] = "INFO"
    env["PYTHONUNBUFFERED"] = "1"
    if api_url:
        env["PREFECT_API_URL"] = api_url
    env.update(extra)
    return env


def warm_home(home: Path) -> Path:
    """A Prefect home whose database is created and migrated (one temporary server started and stopped)."""
    if not (home / "prefect.db").exists():
        code = "from prefect.server.api.server import SubprocessASGIServer as S; s = S(); s.start(); s.stop()"
        env = prefect_env(home, PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS="180")  # a fresh migration: 20 s+
        subprocess.run([PYTHON, "-c", code], cwd=REPO, env=env, check=True, capture_output=True)
    return home


def home_from(template: Path | None, home: Path) -> Path:
    """A new Prefect home with a copy of the template's migrated database (none: Prefect creates one)."""
    home.mkdir(parents=True, exist_ok=True)
    if template is not None:
        for name in ("prefect.db", "prefect.db-wal", "prefect.db-shm"):
            if (template / name).exists():
                shutil.copy2(template / name, home / name)
    return home


@dataclass
class PrefectSetup:
    """What the Prefect benchmarks share: a migrated template home and an already running server."""

    root: Path
    template: Path
    server_url: str
    server_pid: int
    server_home: Path

    def embedded_env(self, name: str) -> dict[str, str]:
        """A home of its own (from the template) for runs that start Prefect's temporary server."""
        home = self.root / f"home-{name}"
        if not home.exists():
            home_from(self.template, home)
        return prefect_env(home)

    def server_env(self) -> dict[str, str]:
        return prefect_env(self.server_home, self.server_url)


@contextlib.contextmanager
def prefect_setup(root: Path) -> Iterator[PrefectSetup]:
    """The template home is migrated while the running server starts (nothing is timed yet)."""
    root.mkdir(parents=True, exist_ok=True)
    warming = threading.Thread(target=warm_home, args=(root / "template-home",))
    warming.start()
    with prefect_server(root / "server-home", root / "server.log") as (url, pid):
        warming.join()
        yield PrefectSetup(root, root / "template-home", url, pid, root / "server-home")


@contextlib.contextmanager
def prefect_server(home: Path, log: Path) -> Iterator[tuple[str, int]]:
    """`prefect server start` on a free port with its own home: the already-running server users can have."""
    port = free_port()
    env = prefect_env(home, PREFECT_UI_ENABLED="false")
    prefect = str(Path(PYTHON).with_name("prefect"))
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [prefect, "server", "start", "--host", "127.0.0.1", "--port", str(port)],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    url = f"http://127.0.0.1:{port}/api"
    try:
        wait_healthy(url, proc, timeout=180)
        yield url, proc.pid
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, 15)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, 9)
            proc.wait()


def wait_healthy(url: str, proc: subprocess.Popen[bytes] | None, timeout: float) -> None:
    import urllib.error
    import urllib.request

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"prefect server exited with {proc.returncode}")
        with (
            contextlib.suppress(OSError, urllib.error.URLError),
            urllib.request.urlopen(f"{url}/health", timeout=2) as response,
        ):
            if response.status == 200:
                return
        time.sleep(0.1)
    raise RuntimeError(f"prefect server at {url} not healthy after {timeout:g} s")


def prefect_log_times(text: str, day_start: float) -> list[tuple[float, str]]:
    """(epoch seconds, line) for each Prefect console line ("HH:MM:SS.mmm | LEVEL | ..."), local time of day."""
    out = []
    for line in text.splitlines():
        match = PREFECT_LOG_TIME.match(line)
        if match:
            h, m, s, ms = (int(g) for g in match.groups())
            out.append((day_start + h * 3600 + m * 60 + s + ms / 1000, line))
    return out


def local_midnight(epoch: float) -> float:
    lt = time.localtime(epoch)
    return epoch - (lt.tm_hour * 3600 + lt.tm_min * 60 + lt.tm_sec) - (epoch % 1)


@dataclass
class TreeSample:
    """Peak RSS (VmHWM, exact) and CPU seconds per kind of process in a tree, sampled until it exits."""

    peak_rss: dict[str, int] = field(default_factory=dict)
    cpu: dict[str, float] = field(default_factory=dict)
    cpu_at: list[tuple[float, dict[str, float]]] = field(default_factory=list)


def classify(cmdline: Sequence[str]) -> str:
    text = " ".join(cmdline)
    if "uvicorn" in text or "prefect server" in text or "prefect.server" in text:
        return "server"
    if "local_runner" in text:
        return "runner"
    if "/R" in text or "Rscript" in text or text.startswith("R "):
        return "R"
    return "orchestrator"


class TreeSampler:
    """Samples a process and its descendants every `every` s: VmHWM per process and CPU time per kind."""

    def __init__(self, pid: int, every: float = 0.1, servers: Sequence[int] = ()) -> None:
        import psutil

        self.root = psutil.Process(pid)
        self.servers = [psutil.Process(p) for p in servers]
        self.every = every
        self.result = TreeSample()
        self._per_pid: dict[int, tuple[str, float, int]] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> TreeSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._stop.is_set():
            self.sample()
            self._stop.wait(self.every)

    def sample(self) -> None:
        import psutil

        try:
            procs = [self.root, *self.root.children(recursive=True)]
        except psutil.Error:
            procs = []
        for server in self.servers:
            with contextlib.suppress(psutil.Error):
                procs += [server, *server.children(recursive=True)]
        if not procs:
            return
        known = {pid: kind for pid, (kind, _, _) in self._per_pid.items()}
        for proc in procs:
            try:
                with proc.oneshot():
                    if proc.pid in known:
                        kind = known[proc.pid]
                    elif proc.pid == self.root.pid:
                        kind = "orchestrator"
                    elif any(proc.pid == s.pid for s in self.servers):
                        kind = "server"
                    else:
                        kind = classify(proc.cmdline())
                    times = proc.cpu_times()
                    cpu = times.user + times.system
                    hwm = _vm_hwm(proc.pid)
            except (psutil.Error, OSError):
                continue
            previous = self._per_pid.get(proc.pid)
            self._per_pid[proc.pid] = (kind, cpu, max(hwm, previous[2] if previous else 0))
        totals: dict[str, float] = {}
        peaks: dict[str, int] = {}
        for kind, cpu, hwm in self._per_pid.values():
            totals[kind] = totals.get(kind, 0.0) + cpu
            peaks[kind] = max(peaks.get(kind, 0), hwm)
        self.result.cpu = totals
        self.result.peak_rss = peaks
        self.result.cpu_at.append((time.time(), dict(totals)))

    def cpu_between(self, kind: str, start: float, end: float) -> float:
        """CPU seconds a kind of process used between two epoch times (nearest samples)."""
        samples = self.result.cpu_at
        if not samples:
            return float("nan")

        def at(t: float) -> float:
            best = min(samples, key=lambda s: abs(s[0] - t))
            return best[1].get(kind, 0.0)

        return at(end) - at(start)


def _vm_hwm(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    return 0


def fmt_mib(value: float) -> str:
    return f"{value / 2**20:.0f}"
