"""Control-plane faults: scripted ones (the next n calls of an operation) first, then seeded ones drawn per call."""

from __future__ import annotations

import fnmatch
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from azure.core.exceptions import ServiceRequestError, ServiceResponseError

from rjobs.testing.fake_azureml.wire import http_error

FAULT_KINDS = ("429", "500", "502", "503", "504", "connection", "response", "lost_response")
"""`lost_response`: the service does the work, then the client sees a read timeout."""


@dataclass
class Fault:
    """The next `times` calls matching `operation` (an fnmatch pattern) fail with `kind`."""

    operation: str
    kind: str
    times: int = 1
    retry_after: float | None = None


class FaultPlan:
    """Which call fails and how. Not locked itself: the client calls it under its own lock."""

    def __init__(self, rates: Mapping[str, float] | None, operations: str, retry_after: float | None) -> None:
        self.rates = dict(rates or {})
        self.operations = operations
        self.retry_after = retry_after
        self.scripted: list[Fault] = []

    def inject(self, operation: str, kind: str, times: int = 1, retry_after: float | None = None) -> None:
        if kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault {kind!r}; known: {FAULT_KINDS}")
        self.scripted.append(Fault(operation, kind, times, retry_after))

    def pick(self, operation: str, draw: Callable[[], float]) -> tuple[str | None, float | None]:
        """A scripted fault if one is due, else a seeded one: `draw()` (one number in [0, 1)) is called only when
        rates apply to the operation, so the seeded sequence depends on the calls made and nothing else."""
        for fault in self.scripted:
            if fault.times > 0 and fnmatch.fnmatch(operation, fault.operation):
                fault.times -= 1
                return fault.kind, fault.retry_after
        if self.rates and fnmatch.fnmatch(operation, self.operations):
            number = draw()
            for kind, rate in sorted(self.rates.items()):
                if number < rate:
                    return kind, self.retry_after
                number -= rate
        return None, None


def fault_error(operation: str, kind: str, retry_after: float | None) -> Exception:
    """The exception azure-core raises for the fault: a transport error or an HTTP status (429 with Retry-After)."""
    if kind == "connection":
        return ServiceRequestError(f"{operation}: connection reset by peer (fake)")
    if kind in ("response", "lost_response"):
        return ServiceResponseError(f"{operation}: read timed out (fake)")
    status = int(kind)
    headers = {"Retry-After": f"{retry_after:g}"} if status == 429 and retry_after is not None else {}
    return http_error(status, f"{operation}: fake {status}", headers)
