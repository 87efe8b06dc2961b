"""The per-cell supervisor process: runs R, then records its exit code, so any later process can attach.

Started in its own session by LocalBackend; stdlib only, so it starts in milliseconds. Before the program starts
it writes runner.json (its pid, start time and argv) beside EXIT_FILE: if the orchestrator dies before recording
the job, the next one finds the job by that file instead of starting it again. On SIGTERM/SIGINT it forwards
the signal and, if the program still runs after RJOBS_CANCEL_GRACE_S seconds (default 10), kills it and its
children, so a cancel always ends the job.
Usage: python -m rjobs.backends.local.runner EXIT_FILE LOG_FILE -- PROGRAM ARGS...
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

RUNNER_FILE = "runner.json"
GRACE_ENV = "RJOBS_CANCEL_GRACE_S"
DEFAULT_GRACE_S = 10.0


def _write_json(path: Path, payload: object) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(payload), encoding="utf-8")
    os.replace(tmp, path)


def _write_exit(path: Path, returncode: int, started: float, cancelled: bool) -> None:
    _write_json(path, {"returncode": returncode, "duration_s": time.time() - started, "cancelled": cancelled})


def _start_ticks() -> int | None:
    """This process's start time from /proc, as LocalBackend records it, so a recycled pid is never taken for us."""
    try:
        stat = Path("/proc/self/stat").read_text()
    except OSError:
        return None
    return int(stat.rsplit(")", 1)[1].split()[19])


def _kill_rest_of_group() -> None:
    """SIGKILL every other process of our group (the program and its children): what a cancel's SIGTERM left."""
    me, group = os.getpid(), os.getpgrp()
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == me:
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        if int(stat.rsplit(")", 1)[1].split()[2]) == group:
            with contextlib.suppress(ProcessLookupError):
                os.kill(int(entry), signal.SIGKILL)


def _grace() -> float:
    try:
        return max(0.1, float(os.environ.get(GRACE_ENV, DEFAULT_GRACE_S)))
    except ValueError:
        return DEFAULT_GRACE_S


def main(argv: list[str]) -> int:
    """Run the program with output to the log; forward termination; always leave an exit record."""
    if "--" not in argv or argv.index("--") != 2:
        print("usage: local_runner EXIT_FILE LOG_FILE -- PROGRAM ARGS...", file=sys.stderr)
        return 2
    exit_file, log_file, command = Path(argv[0]), Path(argv[1]), argv[3:]
    started = time.time()
    cancelled = False
    _write_json(exit_file.with_name(RUNNER_FILE), {"pid": os.getpid(), "start_ticks": _start_ticks(), "argv": command})
    with log_file.open("ab") as log:
        try:
            child = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        except OSError as exc:
            log.write(f"cannot start {command[0]}: {exc}\n".encode())
            _write_exit(exit_file, 127, started, cancelled)
            return 127

        def on_term(signum: int, _frame: object) -> None:
            """Forward the stop; a program still running a grace period later is killed with all its children."""
            nonlocal cancelled
            cancelled = True
            child.send_signal(signum)
            if signal.getitimer(signal.ITIMER_REAL)[0] == 0:
                signal.setitimer(signal.ITIMER_REAL, _grace())

        signal.signal(signal.SIGALRM, lambda _signum, _frame: _kill_rest_of_group())
        signal.signal(signal.SIGTERM, on_term)
        signal.signal(signal.SIGINT, on_term)
        returncode = child.wait()
    _write_exit(exit_file, returncode, started, cancelled)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
