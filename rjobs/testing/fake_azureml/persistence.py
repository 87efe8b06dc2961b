"""The fake workspace's state in one JSON file, so processes that crash and restart see the same workspace."""

from __future__ import annotations

import json
import os
import random
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass
class Snapshot:
    """Everything that makes a workspace: the clock, the fault draws' rng, jobs, assets and the sequence counter."""

    now: float
    rng: random.Random
    jobs: dict[str, dict[str, Any]]
    assets: dict[str, dict[str, dict[str, dict[str, Any]]]]
    sequence: int


class StateFile:
    """Read once at start; rewritten whole and atomically (write a temporary file, rename) after each change."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def read(self, rng: random.Random) -> Snapshot | None:
        """The saved workspace, its rng state restored into `rng`; None when nothing was saved yet."""
        if not self.path.is_file():
            return None
        state = json.loads(self.path.read_text())
        version, internal, gauss = state["rng"]
        rng.setstate((version, tuple(internal), gauss))
        return Snapshot(state["now"], rng, state["jobs"], state["assets"], state["sequence"])

    def write(self, snapshot: Snapshot) -> None:
        """Callers serialise writes (the client's lock): one temporary file per state file."""
        version, internal, gauss = snapshot.rng.getstate()
        state = {
            "now": snapshot.now,
            "rng": [version, list(internal), gauss],
            "jobs": snapshot.jobs,
            "assets": snapshot.assets,
            "sequence": snapshot.sequence,
        }
        temporary = self.path.with_suffix(".tmp")
        temporary.write_text(json.dumps(state))
        os.replace(temporary, self.path)
