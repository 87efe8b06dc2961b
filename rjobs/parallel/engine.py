"""The parallel step on the existing engine: each mini-batch is a cell of a Sweep (its ledger, backends, retries,
resume), run with Azure ML's concurrency and stopped, as Azure stops it, once a failure threshold is crossed."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field, replace
from typing import Any

from rjobs.backends.base import CellJob, JobHandle
from rjobs.core.states import JobState
from rjobs.engine.ledger import CellRecord
from rjobs.engine.sweep import CellResult, Outcome, Sweep
from rjobs.inputs.grid import Cell
from rjobs.inputs.spec import InputSpec
from rjobs.packing.engine import PackedSweep
from rjobs.parallel.appending import FAILED_ITEMS_FILE, ROWS_FILE, count_lines
from rjobs.parallel.batches import Batch
from rjobs.parallel.jobfile import BATCH_INPUTS, MINI_BATCH_INPUT, PARTITION_INPUT, ParallelJob

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class BatchCell(Cell):
    """A cell whose id is its batch's content id, not a hash of the batch file's path: the same items are the same
    cell wherever the results folder lives."""

    batch: str = ""

    @property
    def cell_id(self) -> str:
        return self.batch


class BatchSweep(Sweep):
    """A Sweep whose timed-out jobs are retried too (Azure ML retries a mini-batch that outlived its timeout), and
    whose batch files reach remote jobs as data assets, one content-versioned upload per batch."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._staged: dict[str, InputSpec] = {}
        self.packed = False

    def stage_data(self, uploaded: Mapping[str, str] | None = None) -> dict[str, InputSpec]:
        """The job's shared inputs once; the batch's own input is staged per batch (cell_job), never as a whole."""
        shared = {name: value for name, value in self.spec.inputs.items() if name not in BATCH_INPUTS}
        staged = self.backend.ensure_data(replace(self.spec, inputs=shared))
        self.inputs = {**self.spec.inputs, **staged}
        return self.inputs

    def cell_job(self, cell: Cell, attempt: int) -> CellJob:
        job = super().cell_job(cell, attempt)
        if not self.backend.remote or self.packed:  # a packed batch's file travels in its pack (item_files)
            return job
        if cell.cell_id not in self._staged:
            batch_input = {MINI_BATCH_INPUT: job.inputs[MINI_BATCH_INPUT]}
            staged = self.backend.ensure_data(replace(self.spec, inputs=batch_input))
            self._staged[cell.cell_id] = staged[MINI_BATCH_INPUT]
        return replace(job, inputs={**job.inputs, MINI_BATCH_INPUT: self._staged[cell.cell_id]})

    def _may_retry(self, record: CellRecord) -> bool:
        return record.failures <= self.settings.retries

    def _collect(self, record: CellRecord, handle: JobHandle) -> None:
        """As Sweep's, without metrics: a batch's result is its rows.csv, and a warning per batch would be noise."""
        self.retry.call("collect", lambda: self.backend.collect(handle, self.ledger.cell_dir(record.cell)))
        record.metrics, record.metrics_error, record.error, record.collected = {}, "", "", True
        self.ledger.save(record)


def batch_cells(batches: Sequence[Batch]) -> list[BatchCell]:
    """One cell per batch: --mini_batch is the batch's file, --partition its key values."""
    cells = []
    for batch in batches:
        params = {MINI_BATCH_INPUT: str(batch.path)}
        params.update({PARTITION_INPUT.format(i): text for i, text in enumerate(batch.partition_args, start=1)})
        cells.append(BatchCell(params=params, batch=batch.batch_id))
    return cells


@dataclass
class Tally:
    """Failures so far, as Azure ML counts them: failed batches, and failed items (a failed batch fails them all)."""

    failed_batches: list[str] = field(default_factory=list)
    failed_items: int = 0

    def crossed(self, job: ParallelJob) -> str:
        """Why the job must stop ('' while within both thresholds; -1 tolerates everything)."""
        reasons = []
        if job.mini_batch_error_threshold >= 0 and len(self.failed_batches) > job.mini_batch_error_threshold:
            reasons.append(
                f"{len(self.failed_batches)} failed batch(es), more than mini_batch_error_threshold "
                f"{job.mini_batch_error_threshold}"
            )
        if job.error_threshold >= 0 and self.failed_items > job.error_threshold:
            reasons.append(f"{self.failed_items} failed item(s), more than error_threshold {job.error_threshold}")
        return "; ".join(reasons)


class ParallelRun:
    """Runs every batch through the sweep with at most job.concurrency in flight, counting failures as they end."""

    def __init__(self, job: ParallelJob, batches: Sequence[Batch], sweep: Sweep, *, pack: bool = False) -> None:
        self.job = job
        self.pack = pack
        """--pack: the batches run in resources.instance_count packed jobs of max_concurrency_per_instance
        processes each (rjobs.packing), as Azure ML's parallel job runs them on its nodes."""
        self.packed: PackedSweep | None = None
        self.batches = {batch.batch_id: batch for batch in batches}
        self.sweep = sweep
        self.tally = Tally()
        self.stopped = ""
        """Why the run stopped early: the thresholds crossed (empty when it ran every batch)."""

    def failed_items(self, batch_id: str, record: CellRecord) -> int:
        """Items of the batch that failed: all of them when the batch failed, else failed_items.txt's lines."""
        if record.job_state.failed:
            return self.batches[batch_id].items
        if record.job_state == JobState.COMPLETED:
            return count_lines(self.sweep.ledger.outputs_dir(batch_id) / FAILED_ITEMS_FILE)
        return 0

    def rows(self, batch_id: str) -> int:
        """Rows the batch wrote to append (its rows.csv's lines past the header)."""
        return max(0, count_lines(self.sweep.ledger.outputs_dir(batch_id) / ROWS_FILE) - 1)

    def _count(self, result: CellResult) -> None:
        self._count_record(result.record)

    def _count_record(self, record: CellRecord) -> None:
        if record.job_state.failed:
            self.tally.failed_batches.append(record.cell)
        self.tally.failed_items += self.failed_items(record.cell, record)
        reason = self.tally.crossed(self.job)
        if reason and not self.stopped:
            self.stopped = reason
            log.error("stopping: %s; cancelling the batches in flight", reason)
            (self.packed or self.sweep).cancel_all()

    def run(self, on_done: Callable[[CellResult], Any] | None = None) -> None:
        """Every batch in input order; a batch waits for a slot, so a stop submits nothing more."""
        if self.pack:
            self._run_packed(on_done)
            return
        pending = list(self.batches)
        running: dict[Future[CellResult], str] = {}
        with ThreadPoolExecutor(max_workers=self.job.concurrency, thread_name_prefix="batch") as pool:
            try:
                while pending or running:
                    while pending and len(running) < self.job.concurrency and not self.sweep.aborted.is_set():
                        ident = pending.pop(0)
                        running[pool.submit(self.sweep.run_cell, ident)] = ident
                    if not running:
                        break
                    done, _ = wait(running, return_when=FIRST_COMPLETED)
                    for future in done:
                        running.pop(future)
                        result = future.result()
                        self._count(result)
                        if on_done is not None:
                            on_done(result)
            except BaseException:
                self.sweep.cancel_all()
                raise

    def _run_packed(self, on_done: Callable[[CellResult], Any] | None) -> None:
        """The batches not yet done in instance_count packed jobs; thresholds counted as each batch ends in them."""

        def ended(record: CellRecord) -> None:
            if record.metrics_error:  # as BatchSweep._collect: a batch's result is its rows, not metrics.json
                record.metrics_error = ""
                self.sweep.ledger.save(record)
            self._count_record(record)
            if on_done is not None:
                on_done(CellResult(record, Outcome.SUBMITTED, 1))

        job = self.job
        if isinstance(self.sweep, BatchSweep):
            self.sweep.packed = True
        self.packed = PackedSweep(
            self.sweep, job.instance_count, job.max_concurrency_per_instance, on_progress=log.info, on_item=ended
        )
        try:
            self.packed.run()
        except BaseException:
            self.packed.stop()
            raise
