"""One packed item's truth into results/<run>/<item>/ exactly as an unpacked job's: outputs, std_log.txt and
status.json, so summary.csv, MLflow, selection and registration cannot tell them apart.

What the runner's status file says decides: exit 0 is Completed (outputs collected as the local backend collects a
job's: no symlink out of the item's folder, no special file read); a non-zero exit on its last allowed attempt, or
a timeout, is Failed; anything else (no status yet, or attempts left) ended with its pack and stays unfinished:
Canceled when the pack was cancelled, Lost otherwise, and the next run packs it again.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

from rjobs.backends.local.collect import collect_outputs, copy_log
from rjobs.core.files import LOG_FILE, tail_text
from rjobs.core.naming import job_name
from rjobs.core.states import JobState
from rjobs.engine.ledger import CellRecord, RunLedger, read_metrics
from rjobs.packing.items import PackEntry, item_log, item_outputs, item_work_dir, read_status


@dataclass(frozen=True)
class Harvest:
    """What unpacking found: the item's record as saved, whether it is final, and attempts the pack ran of it."""

    record: CellRecord
    final: bool
    attempts: int


def harvest_item(
    ledger: RunLedger, pack_name: str, pack_dir: Path, entry: PackEntry, pack_state: JobState | None, now: float
) -> Harvest | None:
    """Unpack the item if its pack says it finished; with pack_state (the pack is over), settle it as Lost or
    Canceled otherwise. None while the item still runs in a live pack, or once it is settled (each item is
    harvested once per pack: its record is Queued from the pack's launch until then)."""
    record = ledger.load(entry.item_id)
    if record is None or record.job_state.terminal or (record.handle or {}).get("job_name") != pack_name:
        return None  # settled already, or packed again since into a newer pack
    status = read_status(pack_dir, entry.item_id)
    finished = status is not None and (
        status.exit_code == 0 or status.timed_out or status.attempt >= entry.last_attempt
    )
    if not finished and pack_state is None:
        return None
    attempts = 0 if status is None else status.attempt - entry.first_attempt + 1
    cell_dir = ledger.cell_dir(entry.item_id)
    if status is not None:
        record.attempt = status.attempt
        record.job_name = job_name(ledger.run, entry.item_id, status.attempt)
        record.duration_s = status.seconds
        copy_log(record.job_name, item_log(pack_dir, entry.item_id), cell_dir / LOG_FILE)
    record.ended_at = now
    if status is not None and status.exit_code == 0:
        record.failures += attempts - 1
        outputs = cell_dir / "outputs"
        collect_outputs(
            record.job_name, item_outputs(pack_dir, entry.item_id), item_work_dir(pack_dir, entry.item_id), outputs
        )
        record.metrics, record.metrics_error = read_metrics(outputs)
        record.state, record.collected, record.error = JobState.COMPLETED.value, True, ""
    elif status is not None and finished:
        record.failures += attempts
        record.state = JobState.FAILED.value
        if status.timed_out:
            record.error = f"timed out: item {entry.item_id} ran {status.seconds:.1f} s in packed job {pack_name}"
        else:
            tail = tail_text(cell_dir / LOG_FILE).strip()
            record.error = tail or f"exit code {status.exit_code} in packed job {pack_name}"
    else:
        if status is not None:  # failed attempts before the pack ended count against the retry budget
            record.failures += attempts
        record.state = (JobState.CANCELED if pack_state == JobState.CANCELED else JobState.LOST).value
        record.error = f"its packed job {pack_name} ended ({pack_state}) before the item finished"
    ledger.save(record)
    if record.job_state == JobState.COMPLETED:  # only once saved: a harvest cut short by a signal is done again
        shutil.rmtree(item_work_dir(pack_dir, entry.item_id), ignore_errors=True)
    return Harvest(record, finished, attempts)
