"""The script format of rjobs.testing.scripted.ScriptedBackend: a job's life (ScriptedJob), the faults its calls
raise (Fault) and the record of a call (Call), each checked when built so a bad script is a clear ValueError."""

from __future__ import annotations

import copy
import math
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import Any

from rjobs.core.errors import TransientBackendError
from rjobs.core.states import JobState

OPERATIONS = (
    "ensure_data",
    "ensure_environment",
    "ensure_code",
    "find",
    "submit",
    "status",
    "cancel",
    "collect",
    "logs",
    "jobs_of_run",
)


def _state(value: Any, what: str) -> JobState:
    if isinstance(value, JobState):
        return value
    try:
        return JobState(value)
    except ValueError:
        raise ValueError(f"{what}: {value!r} is not a job state; known: {[s.value for s in JobState]}") from None


def _seconds(value: Any, what: str, *, allow_none: bool = False) -> float | None:
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value) or value < 0:
        raise ValueError(f"{what}: expected a finite number of seconds >= 0, got {value!r}")
    return float(value)


@dataclass(frozen=True)
class ScriptedJob:
    """One job's life from its submission; see the module's docstring. Checked when built: a bad script is a
    ValueError naming the field, never a confusing failure later in the test."""

    phases: Sequence[tuple[JobState | str, float]] = ((JobState.QUEUED, 10.0), (JobState.RUNNING, 30.0))
    outcome: JobState | str | None = JobState.COMPLETED
    outputs: Mapping[str, str | bytes] = field(default_factory=dict)
    log: str | None = None
    detail: str = ""
    cancel_s: float | None = 0.0

    def __post_init__(self) -> None:
        if isinstance(self.phases, str | bytes) or not isinstance(self.phases, Sequence):
            raise ValueError(f"phases: expected a sequence of (state, seconds), got {self.phases!r}")
        phases = []
        for index, phase in enumerate(self.phases):
            if not isinstance(phase, Sequence) or isinstance(phase, str) or len(phase) != 2:
                raise ValueError(f"phases[{index}]: expected a (state, seconds) pair, got {phase!r}")
            state = _state(phase[0], f"phases[{index}]")
            if state.terminal or state in (JobState.ABSENT, JobState.CANCEL_REQUESTED):
                raise ValueError(
                    f"phases[{index}]: {state.value} cannot be a phase (terminal states go in outcome, "
                    "CancelRequested comes from cancel(), Absent means no job)"
                )
            phases.append((state, _seconds(phase[1], f"phases[{index}] seconds")))
        outcome = None if self.outcome is None else _state(self.outcome, "outcome")
        if outcome is not None and not outcome.terminal:
            raise ValueError(f"outcome: {outcome.value} is not terminal; give a terminal state, or None for never")
        if outcome is None and not phases:
            raise ValueError("a job that never ends (outcome None) needs at least one phase to stay in")
        if not isinstance(self.outputs, Mapping):
            raise ValueError(f"outputs: expected a mapping of relative path -> text or bytes, got {self.outputs!r}")
        for name, content in self.outputs.items():
            path = PurePosixPath(name) if isinstance(name, str) else None
            if path is None or not name or path.is_absolute() or ".." in path.parts:
                raise ValueError(f"outputs: {name!r} is not a relative path inside outputs/")
            if not isinstance(content, str | bytes):
                raise ValueError(f"outputs[{name!r}]: expected text or bytes, got {type(content).__name__}")
        if self.log is not None and not isinstance(self.log, str):
            raise ValueError(f"log: expected text or None, got {self.log!r}")
        object.__setattr__(self, "phases", tuple(phases))
        object.__setattr__(self, "outcome", outcome)
        object.__setattr__(self, "outputs", dict(self.outputs))
        object.__setattr__(self, "cancel_s", _seconds(self.cancel_s, "cancel_s", allow_none=True))

    @property
    def duration(self) -> float:
        """Seconds from submission to the outcome; infinite for a job that never ends."""
        return math.inf if self.outcome is None else sum(seconds for _, seconds in self.phases)

    def state_at(self, elapsed: float) -> JobState:
        """The state `elapsed` seconds after submission, cancels aside."""
        offset = 0.0
        for state, seconds in self.phases:
            offset += seconds
            if elapsed < offset:
                return state
        if self.outcome is None:
            return self.phases[-1][0]
        return self.outcome  # type: ignore[return-value]


@dataclass(frozen=True)
class Fault:
    """Calls of `operation` concerning a job matching `job` (fnmatch; status: any of its handles) are counted from 1;
    those numbered in `calls` (None: every one) raise `error` (a TransientBackendError by default). With `lost`, the
    operation takes effect first, as when the service did the work and its answer was lost."""

    operation: str
    calls: Collection[int] | None = (1,)
    job: str = "*"
    error: Exception | None = None
    lost: bool = False

    def __post_init__(self) -> None:
        if self.operation not in OPERATIONS:
            raise ValueError(f"fault: unknown operation {self.operation!r}; known: {OPERATIONS}")
        if self.calls is not None:
            if isinstance(self.calls, int) or not isinstance(self.calls, Collection) or not self.calls:
                raise ValueError(
                    f"fault calls: expected a non-empty collection of call numbers or None, got {self.calls!r}"
                )
            if any(isinstance(n, bool) or not isinstance(n, int) or n < 1 for n in self.calls):
                raise ValueError(f"fault calls: call numbers count from 1, got {sorted(self.calls, key=str)!r}")
            object.__setattr__(self, "calls", frozenset(self.calls))
        if not isinstance(self.job, str) or not self.job:
            raise ValueError(f"fault job: expected a job name or fnmatch pattern, got {self.job!r}")
        if self.error is not None and not isinstance(self.error, Exception):
            raise ValueError(f"fault error: expected an exception instance, got {self.error!r}")

    def raised(self, number: int) -> Exception:
        if self.error is None:
            return TransientBackendError(f"scripted {self.operation} failure (call {number})")
        return copy.copy(self.error)


@dataclass(frozen=True)
class Call:
    """One call the engine made: which operation, about which jobs, when (fake clock), and what it raised."""

    operation: str
    jobs: tuple[str, ...]
    at: float
    error: str = ""


__all__ = ["OPERATIONS", "Call", "Fault", "ScriptedJob"]
