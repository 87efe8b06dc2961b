"""What every CLI shares once its input is valid: the exit codes, bad input as one line and exit 2, and running a
flow with what the CLI prepared handed over (resolved once), SIGTERM taken as Ctrl-C."""

from __future__ import annotations

import contextlib
import signal
import sys
from collections.abc import Callable
from contextvars import ContextVar
from typing import Any

from flows.temporary_server import TemporaryServer, without_heartbeats

EXIT_OK, EXIT_FAILED_CELLS, EXIT_BAD_INPUT, EXIT_CANCELLED = 0, 1, 2, 130


def bad_input(exc: Exception) -> int:
    """Bad input is one line on stderr and exit 2, whichever check found it."""
    print(f"error: {str(exc).splitlines()[0]}", file=sys.stderr)
    return EXIT_BAD_INPUT


def _raise_interrupt(signum: int, _frame: Any) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def run_handed_over(
    flow: Callable[[], Any], handed_over: ContextVar[Any], prepared: Any, server: TemporaryServer | None, what: str
) -> Any:
    """Run a flow on the temporary server once it answers, with what the CLI prepared handed over and SIGTERM taken
    as Ctrl-C: the flow's final state, or the exit code when it could not start or was cancelled."""
    if server is not None:
        try:
            server.wait()
        except RuntimeError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return EXIT_FAILED_CELLS
    previous = signal.signal(signal.SIGTERM, _raise_interrupt)
    token = handed_over.set(prepared)
    try:
        with without_heartbeats() if server is not None else contextlib.nullcontext():
            return flow()
    except KeyboardInterrupt:
        print(
            f"cancelled: in-flight {what} were cancelled; re-run with the same --run-name to continue", file=sys.stderr
        )
        return EXIT_CANCELLED
    finally:
        handed_over.reset(token)
        signal.signal(signal.SIGTERM, previous)
