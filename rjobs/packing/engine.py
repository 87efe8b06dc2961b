"""--pack N: a sweep's unfinished cells run as N packed jobs, each a runner with several Rscript processes.

The Sweep keeps what it owns (cells, the ledger, each cell's job, the summary); this collaborator replaces only the
fan-out. Reconcile first, as the Sweep does: items of packs recorded in the ledger are harvested when their pack
is over, or attached to while it runs; completed items are reused, items out of retries are final; the rest are
packed afresh (rjobs.packing.assign) into jobs named from their content, so a repeated launch attaches.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from rjobs.backends.base import JobHandle, PackLaunch, RunsPackedJobs
from rjobs.core.errors import TransientBackendError
from rjobs.core.hashing import content_hash
from rjobs.core.snapshot import code_snapshot
from rjobs.core.states import JobState
from rjobs.engine.ledger import CellRecord
from rjobs.engine.sweep import CellResult, Outcome, Sweep
from rjobs.packing.assign import assign, estimate_sizes
from rjobs.packing.items import (
    PackEntry,
    PackItem,
    ProgressEvent,
    ProgressReader,
    item_work_dir,
    pack_entries,
    write_pack,
)
from rjobs.packing.unpack import Harvest, harvest_item

log = logging.getLogger(__name__)
PACKS_DIR = ".packs"
JOBS_DIR = ".jobs"  # as the local backend's: flows.cancel finds running packs with the run's jobs


def over(state: JobState) -> bool:
    """A pack that ended, or whose job is gone (its folder removed): its items are harvested, never waited on."""
    return state.terminal or state == JobState.ABSENT


@dataclass
class LivePack:
    """A packed job in flight: its handle, folder, items and how far its progress log has been read."""

    handle: JobHandle
    pack_dir: Path
    entries: list[PackEntry]
    reader: ProgressReader
    done: set[str] = field(default_factory=set)


class PackedSweep:
    """Runs a Sweep's cells in packed jobs and leaves its ledger and results exactly as its own fan-out would."""

    def __init__(
        self,
        sweep: Sweep,
        packs: int,
        processes: int,
        on_progress: Callable[[str], None] = log.info,
        on_item: Callable[[CellRecord], None] | None = None,
    ) -> None:
        if not isinstance(sweep.backend, RunsPackedJobs):
            raise TypeError(f"the {sweep.backend.name} backend cannot run packed jobs")
        self.sweep = sweep
        self.backend: RunsPackedJobs = sweep.backend
        self.packs = packs
        self.processes = processes
        self.on_progress = on_progress
        self.on_item = on_item
        """Told of every item that reached its final state in a pack (Completed, or Failed out of attempts)."""
        self.live: dict[str, LivePack] = {}
        self.attempts: dict[str, int] = {}
        self.todo: list[str] = []
        self.aborted = threading.Event()
        self._lock = threading.Lock()

    @property
    def packs_dir(self) -> Path:
        return self.sweep.ledger.run_dir / PACKS_DIR / JOBS_DIR

    def run(self) -> list[str]:
        """Reconcile, pack what is unfinished, watch every pack to its end; the names of the packs launched."""
        self._reconcile()
        self.todo = [cell_id for cell_id in self.sweep.cells if self._needs_run(cell_id)]
        launched = []
        if self.todo and not self.aborted.is_set():
            todo = self.todo
            durations = {cell_id: record.duration_s for cell_id in todo if (record := self.sweep.ledger.load(cell_id))}
            for items in assign(todo, self.packs, estimate_sizes(todo, durations)):
                launched.append(self._launch(items))
        self.watch()
        self._results()
        return launched

    def stop(self) -> list[str]:
        """After an interruption: cancel every pack in flight, wait until each has stopped, keep what finished in
        it, and leave the sweep's results as run() would; the names of the packs cancelled."""
        cancelled = self.cancel_all()
        self.watch()
        self._results()
        return cancelled

    def _reconcile(self) -> None:
        """Packs the ledger knows: over ones harvested now, running ones watched (their items are not packed again)."""
        handles: dict[str, JobHandle] = {}
        for cell_id in self.sweep.cells:
            record = self.sweep.ledger.load(cell_id)
            if record is not None and record.handle and "pack_dir" in (record.handle.get("data") or {}):
                handle = JobHandle.from_json(record.handle)
                handles.setdefault(handle.job_name, handle)
        if not handles:
            return
        statuses = self.sweep.backend.status(list(handles.values()))
        for name, handle in handles.items():
            pack_dir = Path(handle.data["pack_dir"])
            live = LivePack(handle, pack_dir, pack_entries(pack_dir), ProgressReader(pack_dir / "progress.log"))
            if over(statuses[name].state):
                self._sync(handle, pack_dir, None)
                self._harvest_all(live, statuses[name].state)
            else:
                self.live[name] = live
                self.on_progress(f"pack {name}: attached, still running")

    def _needs_run(self, cell_id: str) -> bool:
        record = self.sweep.ledger.load(cell_id)
        if record is None or not record.job_name:
            return True
        if record.job_state == JobState.COMPLETED and record.collected:
            return False
        if any(cell_id in {e.item_id for e in pack.entries} for pack in self.live.values()):
            return False
        if record.job_state.failed and record.job_state != JobState.LOST:
            return self._may_retry(record)
        return True

    def _may_retry(self, record: CellRecord) -> bool:
        """The sweep's own rule (a command sweep never retries a timeout; a parallel job's batches do)."""
        return self.sweep._may_retry(record)

    def _launch(self, cell_ids: list[str]) -> str:
        """Write the pack's folder, start its job, and record every item as submitted in it."""
        sweep, retries = self.sweep, self.sweep.settings.retries
        entries = []
        for cell_id in cell_ids:
            record = sweep.ledger.load(cell_id)
            first = record.attempt + 1 if record is not None and record.job_name else 1
            failures = record.failures if record is not None else 0
            entries.append(PackEntry(cell_id, first, first + max(0, retries - failures)))
        name = f"{sweep.settings.run}-pack-{content_hash(f'{e.item_id}:{e.first_attempt}' for e in entries)}"
        pack_dir = self.packs_dir / name
        spec = sweep.spec
        jobs = {entry.item_id: sweep.cell_job(sweep.cells[entry.item_id], entry.first_attempt) for entry in entries}
        if not (pack_dir / "handle.json").is_file():
            exclude = [sweep.ledger.root, sweep.ledger.run_dir]
            snapshot = code_snapshot(spec.code, exclude=exclude) if spec.code is not None else None
            items = []
            for entry in entries:
                job = jobs[entry.item_id]
                argv = self.backend.item_argv(job, item_work_dir(pack_dir, entry.item_id))
                files = self.backend.item_files(job)
                items.append(PackItem(entry.item_id, entry.first_attempt, entry.last_attempt, argv, files))
            write_pack(pack_dir, items, snapshot, spec.outputs)
        launch = PackLaunch(name, pack_dir, list(jobs.values()), self.processes, sweep.settings.timeout_s)
        handle = self.backend.submit_pack(launch)
        item_handle = {**handle.to_json(), "data": {**handle.data, "pack_dir": str(pack_dir)}}
        for entry in entries:
            cell = sweep.cells[entry.item_id]
            record = sweep.ledger.load(entry.item_id) or CellRecord(cell=entry.item_id, params=dict(cell.params))
            job = jobs[entry.item_id]
            record.job_name, record.attempt, record.handle = job.job_name, entry.first_attempt, item_handle
            record.state, record.submitted_at, record.ended_at = JobState.QUEUED.value, sweep.wall_clock(), None
            record.collected, record.error, record.metrics, record.metrics_error = False, "", {}, ""
            sweep.ledger.save(record)
        with self._lock:
            self.live[name] = LivePack(handle, pack_dir, entries, ProgressReader(pack_dir / "progress.log"))
        self.on_progress(f"pack {name}: {len(entries)} item(s) on {self.processes} process(es)")
        if self.aborted.is_set():  # cancel_all ran while this pack started: it never saw it
            self.backend_cancel(handle)
        return name

    def watch(self) -> None:
        """Poll every live pack: progress as the runner appends it, finished items unpacked at once, and each pack
        harvested whole when it ends (whatever its items' fate)."""
        interval, sleep = self.sweep.monitor.interval, self.sweep.monitor.sleep
        while self.live:
            with self._lock:
                packs = dict(self.live)
            statuses = self.sweep.backend.status([pack.handle for pack in packs.values()])
            for name, pack in packs.items():
                state = statuses[name].state
                self._progress(name, pack, self._new_events(pack, final=over(state)))
                if over(state):
                    self._harvest_all(pack, state)
                    self.on_progress(f"pack {name}: {state}")
                    with self._lock:
                        self.live.pop(name, None)
            if self.live:
                sleep(interval)

    def _new_events(self, pack: LivePack, final: bool) -> list[ProgressEvent]:
        """The runner's new progress lines, with the files of the items they say are done brought first (all of
        them once the pack is over), so unpacking reads a local folder whatever the backend."""
        if final:
            self._sync(pack.handle, pack.pack_dir, None)
            return pack.reader.new_events()
        try:
            self._sync(pack.handle, pack.pack_dir, [])
            events = pack.reader.new_events()
            done = sorted({event.item_id for event in events if event.event == "done"})
            if done:
                self._sync(pack.handle, pack.pack_dir, done)
        except TransientBackendError as exc:  # storage still failing: this poll shows less, the pack's end brings all
            log.warning("pack %s: progress not read this time (%s)", pack.handle.job_name, exc)
            return []
        return events

    def _sync(self, handle: JobHandle, pack_dir: Path, items: list[str] | None) -> None:
        """The backend's sync through the sweep's retry policy (storage has transient errors too)."""
        self.sweep.retry.call("sync_pack", lambda: self.backend.sync_pack(handle, pack_dir, items))

    def _progress(self, name: str, pack: LivePack, events: list[ProgressEvent]) -> None:
        entries = {entry.item_id: entry for entry in pack.entries}
        for event in events:
            if event.event != "done" or event.item_id not in entries:
                continue
            harvest = harvest_item(
                self.sweep.ledger, name, pack.pack_dir, entries[event.item_id], None, self.sweep.wall_clock()
            )
            outcome = "exit 0" if event.exit_code == 0 else f"exit {event.exit_code}"
            if harvest is not None and harvest.final:
                pack.done.add(event.item_id)
                self._count(event.item_id, harvest)
                outcome = harvest.record.state
            self.on_progress(
                f"pack {name} [{len(pack.done)}/{len(pack.entries)}]: cell {event.item_id} {outcome} "
                f"(attempt {event.attempt}, {event.seconds or 0:.2f} s)"
            )

    def _harvest_all(self, pack: LivePack, state: JobState) -> None:
        for entry in pack.entries:
            harvest = harvest_item(
                self.sweep.ledger, pack.handle.job_name, pack.pack_dir, entry, state, self.sweep.wall_clock()
            )
            if harvest is not None:
                self._count(entry.item_id, harvest)

    def _count(self, cell_id: str, harvest: Harvest) -> None:
        self.attempts[cell_id] = self.attempts.get(cell_id, 0) + harvest.attempts
        if harvest.final and self.on_item is not None:
            self.on_item(harvest.record)

    def _results(self) -> None:
        """Each cell's result for run.json and the flow's final state, as the Sweep's own fan-out leaves them."""
        ran = set(self.todo) | set(self.attempts)
        for cell_id in self.sweep.cells:
            record = self.sweep.ledger.load(cell_id) or CellRecord(cell_id, dict(self.sweep.cells[cell_id].params))
            if cell_id not in ran:
                outcome = Outcome.REUSED
            elif record.job_state == JobState.CANCELED:
                outcome = Outcome.CANCELLED
            else:
                outcome = Outcome.SUBMITTED
            self.sweep.results[cell_id] = CellResult(record, outcome, self.attempts.get(cell_id, 0))

    def cancel_all(self) -> list[str]:
        """Stop launching packs and cancel every pack in flight; the watch loop harvests them as they stop."""
        self.aborted.set()
        with self._lock:
            handles = [pack.handle for pack in self.live.values()]
        return [handle.job_name for handle in handles if self.backend_cancel(handle)]

    def backend_cancel(self, handle: JobHandle) -> bool:
        try:
            self.sweep.retry.call("cancel", lambda: self.sweep.backend.cancel(handle))
        except Exception as exc:
            log.error("could not cancel packed job %s (%s)", handle.job_name, exc)
            return False
        return True
