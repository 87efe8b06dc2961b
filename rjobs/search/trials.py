"""The study's memory: every asked trial with its index, cell and state in results/<run>/study.json, written
atomically before the trial's job is submitted, so a re-run after a crash neither repeats nor re-asks a trial."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

from rjobs.core.files import atomic_write_json

STUDY_FILE = "study.json"


class TrialState(StrEnum):
    RUNNING = "running"
    """Asked, submitted or about to be: a re-run reconciles it with the backend (attaches, or runs it)."""
    COMPLETED = "completed"
    FAILED = "failed"
    TERMINATED = "terminated"
    """Stopped by the early-termination policy: its job is Canceled with reason "early termination"."""


@dataclass
class Trial:
    index: int
    cell: str
    params: dict[str, str]
    state: str = TrialState.RUNNING.value
    loss: float | None = None
    """The objective oriented so that lower is better; None when the trial failed or lacked the metric."""

    @property
    def finished(self) -> bool:
        return self.state != TrialState.RUNNING


@dataclass
class TrialBook:
    """The trials of one study and the settings they were asked under (a changed sampler is a new run name)."""

    path: Path
    sampler: str
    seed: int
    trials: list[Trial] = field(default_factory=list)

    @classmethod
    def open(cls, run_dir: Path, sampler: str, seed: int) -> TrialBook:
        """The run's study.json, or a new empty book; a file of another shape is an error, never overwritten."""
        path = run_dir / STUDY_FILE
        if not path.is_file():
            return cls(path, sampler, seed)
        raw: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
        if raw.get("sampler") != sampler or raw.get("seed") != seed:
            raise ValueError(f"{path} belongs to a {raw.get('sampler')} study with seed {raw.get('seed')}")
        trials = [Trial(**{k: v for k, v in item.items() if k in Trial.__dataclass_fields__}) for item in raw["trials"]]
        return cls(path, sampler, seed, trials)

    def save(self) -> None:
        data = {"sampler": self.sampler, "seed": self.seed, "trials": [asdict(trial) for trial in self.trials]}
        atomic_write_json(self.path, data)

    def by_cell(self, cell: str) -> Trial | None:
        return next((trial for trial in self.trials if trial.cell == cell), None)
