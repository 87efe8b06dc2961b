"""What a sweep decides and reports per cell: the planned action, how the cell ended, and its result."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from rjobs.engine.ledger import CellRecord


class Action(StrEnum):
    """What a run will do with a cell, judged from the results folder before anything is asked."""

    REUSE = "reuse"
    CHECK = "check"
    SUBMIT = "submit"


class Outcome(StrEnum):
    """How a cell ended in this run, for run.json's counters."""

    REUSED = "reused"
    SUBMITTED = "submitted"
    ATTACHED = "attached"
    CANCELLED = "cancelled"


@dataclass(frozen=True)
class CellResult:
    record: CellRecord
    outcome: Outcome
    submissions: int = 0
    reused_from: str = ""
    """For a cell reused from another sweep by its content: that sweep's run name."""
