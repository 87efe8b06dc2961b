"""The results folder: the backend's cache on disk, written atomically so a crash never half-writes it."""

from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from rjobs.core.files import LOG_FILE, OUTPUTS_DIR, atomic_write_json, atomic_write_text
from rjobs.core.states import JobState
from rjobs.core.values import value_text

STATUS_FILE = "status.json"
SUMMARY_FILE = "summary.csv"
RUN_FILE = "run.json"


@dataclass
class CellRecord:
    """What we know of one cell, persisted as results/<run>/<cell>/status.json."""

    cell: str
    params: dict[str, Any]
    state: str = JobState.ABSENT.value
    attempt: int = 0
    failures: int = 0
    job_name: str = ""
    handle: dict[str, Any] | None = None
    submitted_at: float | None = None
    ended_at: float | None = None
    duration_s: float | None = None
    collected: bool = False
    metrics: dict[str, float] = field(default_factory=dict)
    metrics_error: str = ""
    error: str = ""
    url: str = ""
    reused_from: str = ""
    """The run whose job produced this cell, when it was reused from another sweep by its content."""
    intent: str = ""
    """The job name about to be created, saved before the create (rjobs.engine.submission)."""

    @property
    def job_state(self) -> JobState:
        return JobState(self.state)


class RunLedger:
    """Paths and reads/writes of one run's results folder, so every layer agrees on the layout."""

    def __init__(self, results_root: str | Path, run: str) -> None:
        self.root = Path(results_root).resolve()
        self.run = run
        self.run_dir = self.root / run

    def cell_dir(self, cell: str) -> Path:
        return self.run_dir / cell

    def status_path(self, cell: str) -> Path:
        return self.cell_dir(cell) / STATUS_FILE

    def outputs_dir(self, cell: str) -> Path:
        return self.cell_dir(cell) / OUTPUTS_DIR

    def log_path(self, cell: str) -> Path:
        return self.cell_dir(cell) / LOG_FILE

    @property
    def summary_path(self) -> Path:
        return self.run_dir / SUMMARY_FILE

    @property
    def run_json_path(self) -> Path:
        return self.run_dir / RUN_FILE

    def load(self, cell: str) -> CellRecord | None:
        """The cell's last record, or None; an unreadable file (never ours when atomic) counts as none."""
        path = self.status_path(cell)
        try:
            raw = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        if not isinstance(raw, dict):
            return None
        known = set(CellRecord.__dataclass_fields__)
        try:
            record = CellRecord(**{k: v for k, v in raw.items() if k in known})
        except TypeError:
            return None
        if isinstance(record.metrics, dict):  # status.json is strict JSON: a NaN metric was saved as null
            record.metrics = {k: math.nan if v is None else v for k, v in record.metrics.items()}
        return record

    def save(self, record: CellRecord) -> None:
        """status.json as strict JSON: a NaN or infinite metric is written as null (and read back as NaN)."""
        atomic_write_json(self.status_path(record.cell), asdict(record))

    def records(self) -> list[CellRecord]:
        """Every cell record of the run, in cell-id order (for cancel and results commands)."""
        if not self.run_dir.is_dir():
            return []
        found = (self.load(p.name) for p in sorted(self.run_dir.iterdir()) if (p / STATUS_FILE).is_file())
        return [r for r in found if r is not None]

    def write_summary(self, records: Sequence[CellRecord], grid_keys: Sequence[str]) -> Path:
        """summary.csv: cell, status, attempt, job_name, duration_s, param.*, metric.*, reused_from, error."""
        metric_names = sorted({name for r in records for name in r.metrics})
        header = ["cell", "status", "attempt", "job_name", "duration_s"]
        header += [f"param.{k}" for k in grid_keys] + [f"metric.{m}" for m in metric_names] + ["reused_from", "error"]
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(header)
        for r in records:
            duration = "" if r.duration_s is None else f"{r.duration_s:.3f}"
            row = [r.cell, r.state, r.attempt, r.job_name, duration]
            row += [value_text(r.params.get(k)) for k in grid_keys]
            row += [value_text(r.metrics.get(m)) for m in metric_names]
            row.append(r.reused_from)
            row.append(" | ".join(r.error.strip().splitlines()[-3:]) if r.error else "")
            writer.writerow(row)
        atomic_write_text(self.summary_path, buffer.getvalue())
        return self.summary_path

    def write_run(self, data: Mapping[str, Any]) -> Path:
        atomic_write_json(self.run_json_path, dict(data))
        return self.run_json_path


NO_VALUE_TEXTS = frozenset({"NA", "NaN", "Inf", "-Inf"})
"""What jsonlite writes for R's missing and infinite numbers by default: no value, like JSON null."""


def read_metrics(outputs_dir: Path) -> tuple[dict[str, float], str]:
    """metrics.json as flat name -> number; anything else gives no metrics and a reason, never a crash.

    A metric without a value (null, or jsonlite's "NA") is left out alone: the cell's other metrics stay."""
    path = outputs_dir / "metrics.json"
    if not path.is_file():
        return {}, f"no {path.name} in outputs"
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        return {}, f"{path.name} is not valid JSON ({exc})"
    if not isinstance(raw, dict):
        return {}, f"{path.name} is not a JSON object"
    metrics: dict[str, float] = {}
    for name, value in raw.items():
        if isinstance(value, list) and len(value) == 1:
            value = value[0]
        if value is None or (isinstance(value, str) and value in NO_VALUE_TEXTS):
            continue
        if isinstance(value, bool) or not isinstance(value, int | float):
            return {}, f"{path.name} is not flat name -> number ({name!r} is {type(value).__name__})"
        metrics[str(name)] = float(value)
    return metrics, ""
