"""A FakeMLClient whose seeded faults are keyed by call, not by arrival order, with an optional JSON-lines call log.

With many orchestrator threads (or processes sharing a persisted workspace), which request comes n-th depends on
scheduling; here a request fails or not as a function of (seed, operation, job name, n-th such request), so the same
calls fail whichever thread makes them. The call log is appended with one write() per line, so a SIGKILLed process
never leaves half a line, and every process of a crash test appends to the same file.
"""

from __future__ import annotations

import json
import os
import random
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rjobs.testing.fake_azureml.client import FakeMLClient
from rjobs.testing.fake_azureml.jobs import Jobs


@dataclass(frozen=True)
class CreateOutcome:
    """One jobs.create_or_update as the service handled it: created, conflict (the name existed) or refused,
    and the error the client got, if any (a lost response: created, yet the client saw an error)."""

    name: str
    outcome: str
    raised: str


def duplicate_creates(outcomes: Sequence[CreateOutcome]) -> list[str]:
    """Names the client tried to create again although nothing told it the first create might have failed: a
    conflict is only legitimate after an earlier create of that name raised."""
    duplicates = []
    raised_before: set[str] = set()
    for item in outcomes:
        if item.outcome == "conflict" and item.name not in raised_before:
            duplicates.append(item.name)
        if item.raised:
            raised_before.add(item.name)
    return duplicates


class CountingJobs(Jobs):
    """client.jobs that notes, for every create, whether the service created, refused or found a conflict."""

    _client: KeyedFaultClient

    def create_or_update(self, job: Any, **kwargs: Any) -> Any:
        """Records, after the fact, whether the service created the job, refused a duplicate name (conflict)
        or failed the request, and whether the client saw an error."""
        client = self._client
        existed = job.name in client._jobs
        raised = ""
        try:
            return super().create_or_update(job, **kwargs)
        except BaseException as exc:
            raised = type(exc).__name__
            raise
        finally:
            outcome = "conflict" if existed else ("created" if job.name in client._jobs else "refused")
            client.create_outcomes.append(CreateOutcome(job.name, outcome, raised))
            client._log({"op": "create.outcome", "name": job.name, "outcome": outcome, "raised": raised})


class KeyedFaultClient(FakeMLClient):
    """FakeMLClient with faults drawn per (seed, operation, name, n-th call); `call_log` gets every request."""

    def __init__(self, *args: Any, call_log: Path | None = None, **kwargs: Any) -> None:
        self.call_log = call_log
        self._seen: Counter[tuple[str, str | None]] = Counter()
        self._key = ""
        self.create_outcomes: list[CreateOutcome] = []
        super().__init__(*args, **kwargs)
        self.jobs = CountingJobs(self)

    def _request(self, operation: str, name: str | None = None, **args: Any) -> str | None:
        with self.lock:  # the key is read by _fault_draw within this same request
            number = self._seen[(operation, name)]
            self._seen[(operation, name)] += 1
            self._key = f"{operation}|{name}|{number}"
            self._log({"op": operation, "name": name})
            return super()._request(operation, name, **args)

    def _fault_draw(self) -> float:
        return random.Random(f"{self.seed}|{self._key}").random()

    def _log(self, entry: dict[str, Any]) -> None:
        """One write() per line: a request logged here may still die with the process before it lands."""
        if self.call_log is None:
            return
        line = json.dumps({**entry, "pid": os.getpid()}) + "\n"
        fd = os.open(self.call_log, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, line.encode())
        finally:
            os.close(fd)


def keyed_client_class() -> type[KeyedFaultClient]:
    """The class itself (kept as a function for callers written when it was built on demand)."""
    return KeyedFaultClient


__all__ = ["CountingJobs", "CreateOutcome", "KeyedFaultClient", "duplicate_creates", "keyed_client_class"]
