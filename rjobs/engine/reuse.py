"""Reuse across sweeps: a finished cell is found again by its content (backend, job, code, data, environment and
parameters), whatever run name it finished under, and copied into the sweep that asks, so it never runs twice."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path

from rjobs.core.files import atomic_write_json
from rjobs.core.hashing import content_hash
from rjobs.core.naming import RUN_NAME
from rjobs.core.states import JobState
from rjobs.engine.ledger import STATUS_FILE, CellRecord, RunLedger

INDEX_DIR = ".cells"
"""results/.cells/<content key>.json names the run and cell that finished that content."""


class ContentIndex:
    """One results folder's index of finished cells by content; each entry is written atomically after collection."""

    def __init__(self, results_root: Path, sweep_content: str) -> None:
        self.root = Path(results_root).resolve()
        self.sweep_content = sweep_content

    def key(self, cell_id: str) -> str:
        """The cell's content: the sweep's content (everything but the parameters) with the cell's parameters."""
        return content_hash([self.sweep_content, cell_id], length=24)

    def entry_path(self, cell_id: str) -> Path:
        return self.root / INDEX_DIR / f"{self.key(cell_id)}.json"

    def remember(self, run: str, cell_id: str) -> None:
        """A cell of `run` finished and was collected: later sweeps with the same content may reuse it."""
        atomic_write_json(self.entry_path(cell_id), {"run": run, "cell": cell_id})

    def finished_elsewhere(self, run: str, cell_id: str) -> tuple[str, CellRecord] | None:
        """The run and finished record of this content elsewhere, if the index names one and it is still there."""
        try:
            entry = json.loads(self.entry_path(cell_id).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        source_run = entry.get("run") if isinstance(entry, dict) else None
        if not isinstance(source_run, str) or source_run == run or not RUN_NAME.match(source_run):
            return None
        record = RunLedger(self.root, source_run).load(cell_id)
        if record is None or record.job_state != JobState.COMPLETED or not record.collected:
            return None
        return source_run, record

    def adopt(self, ledger: RunLedger, cell_id: str) -> CellRecord | None:
        """Copy a finished cell of another run into this one (outputs, log, record), marked with the run that ran
        it; the copy appears whole or not at all. None when there is nothing to reuse."""
        found = self.finished_elsewhere(ledger.run, cell_id)
        if found is None:
            return None
        source_run, record = found
        target = ledger.cell_dir(cell_id)
        target.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{cell_id}.", suffix=".reuse"))
        try:
            source = RunLedger(self.root, source_run).cell_dir(cell_id)
            shutil.copytree(source, staging, dirs_exist_ok=True, ignore=_backend_working_files(source))
            record.reused_from = record.reused_from or source_run
            atomic_write_json(staging / STATUS_FILE, asdict(record))
            os.replace(staging, target)  # refused when the cell's folder already exists: then it runs as usual
        except OSError:
            shutil.rmtree(staging, ignore_errors=True)
            return None
        return record


def _backend_working_files(cell_dir: Path) -> Callable[[str, list[str]], list[str]]:
    """The cell folder's own hidden entries (a local job's working copy and process handle) stay behind: the new
    sweep gets the outputs, log and record, never a handle that would let it signal another sweep's process."""
    top = str(cell_dir)
    return lambda folder, names: [n for n in names if n.startswith(".")] if folder == top else []
