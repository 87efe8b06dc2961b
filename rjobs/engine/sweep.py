"""One sweep: each cell reconciled with the backend (the truth), run, retried, collected and recorded."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field, replace
from typing import Any

from rjobs.backends.base import Backend, CellJob, EnvironmentInfo, JobHandle
from rjobs.core.errors import JobTimedOutError, TransientBackendError
from rjobs.core.files import tail_text
from rjobs.core.naming import job_name
from rjobs.core.retry import RetryPolicy
from rjobs.core.states import STALLED, JobState
from rjobs.engine.ledger import CellRecord, RunLedger, read_metrics
from rjobs.engine.monitor import JobMonitor
from rjobs.engine.outcomes import Action, CellResult, Outcome
from rjobs.engine.progress import SweepProgress
from rjobs.engine.reuse import ContentIndex
from rjobs.engine.stalled import settle_stalled, until_stopped
from rjobs.engine.submission import Submission
from rjobs.inputs.grid import Cell
from rjobs.inputs.spec import InputSpec, JobSpec

log = logging.getLogger(__name__)


@dataclass
class SweepSettings:
    """Per-sweep knobs shared by the CLI, the Prefect form and tests."""

    run: str
    retries: int = 1
    timeout_s: float | None = None
    extra_tags: Mapping[str, str] = field(default_factory=dict)
    job_slot: Callable[[], AbstractContextManager[object]] = nullcontext
    """Held while a job is submitted and in flight: a cluster-wide limit shared with other sweeps plugs in here."""
    reuse: ContentIndex | None = None
    """Finished cells of other sweeps by content: a cell found there is copied, not run."""
    progress: SweepProgress | None = None
    """Told of every finished cell, for a progress display."""


CONTROL_PLANE_ATTEMPTS = 6
"""Attempts per control-plane operation (submit, collect, cancel...) through transient errors; each attempt is one
SDK call with azure-core's own HTTP retries inside it (rjobs.backends.azureml.workspace)."""


class Sweep:
    """The engine behind the flow: no Prefect here, so tests and other orchestrators can drive it."""

    def __init__(
        self,
        spec: JobSpec,
        cells: Sequence[Cell],
        backend: Backend,
        ledger: RunLedger,
        settings: SweepSettings,
        monitor: JobMonitor,
        *,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        self.spec = spec
        self.cells = {cell.cell_id: cell for cell in cells}
        self.backend = backend
        self.ledger = ledger
        self.settings = settings
        self.monitor = monitor
        self.wall_clock = wall_clock
        self.inputs: dict[str, InputSpec] = dict(spec.inputs)
        self._in_flight: dict[str, JobHandle] = {}
        self.results: dict[str, CellResult] = {}
        self.retry = RetryPolicy(
            attempts=CONTROL_PLANE_ATTEMPTS,
            base_s=monitor.interval,
            cap_s=max(monitor.interval, monitor.max_interval),
            sleep=monitor.sleep,
            rng=monitor.rng,
        )
        self.submission = Submission(backend, ledger, self.retry)
        self._lock = threading.Lock()
        self.aborted = threading.Event()

    @property
    def grid_keys(self) -> list[str]:
        keys: dict[str, None] = {}
        for cell in self.cells.values():
            keys.update(dict.fromkeys(cell.params))
        return list(keys)

    def records(self) -> list[CellRecord]:
        """The sweep's cells as the ledger has them, in grid order (cells never run get an empty record)."""
        return [self.ledger.load(cell_id) or CellRecord(cell_id, dict(c.params)) for cell_id, c in self.cells.items()]

    def plan(self) -> dict[str, Action]:
        """From the results folder alone: collected cells are reused, known jobs checked, the rest submitted."""
        actions = {}
        reuse = self.settings.reuse
        for cell_id in self.cells:
            record = self.ledger.load(cell_id)
            if record is None and reuse is not None and reuse.finished_elsewhere(self.settings.run, cell_id):
                actions[cell_id] = Action.REUSE
            elif record is None or not record.job_name:
                actions[cell_id] = Action.SUBMIT
            elif record.job_state == JobState.COMPLETED and record.collected:
                actions[cell_id] = Action.REUSE
            else:
                actions[cell_id] = Action.CHECK
        return actions

    def stage_data(self, uploaded: Mapping[str, str] | None = None) -> dict[str, InputSpec]:
        """Data inputs as jobs will see them, bound into every cell's job; remote backends read uploaded copies."""
        spec = self.spec
        if uploaded and self.backend.remote:
            inputs = {**spec.inputs, **{name: replace(spec.inputs[name], path=ref) for name, ref in uploaded.items()}}
            spec = replace(spec, inputs=inputs)
        self.inputs = self.backend.ensure_data(spec)
        return self.inputs

    def prepare(self) -> EnvironmentInfo:
        """Data, environment and code once, before the fan-out, so a broken setup costs no cell."""
        self.stage_data()
        info = self.backend.ensure_environment(self.spec)
        self.backend.ensure_code(self.spec)
        return info

    def cell_job(self, cell: Cell, attempt: int) -> CellJob:
        """The cell's inputs bound over the job's, with tags that let anyone find the job again."""
        inputs = dict(self.inputs)
        for key, value in cell.params.items():
            inputs[key] = self.spec.inputs[key].with_value(value)
        tags = {"rjobs.run": self.settings.run, "rjobs.cell": cell.cell_id, "rjobs.attempt": str(attempt)}
        tags.update({f"param.{k}": str(v) for k, v in cell.params.items()})
        tags.update(self.settings.extra_tags)
        return CellJob(
            run=self.settings.run,
            cell_id=cell.cell_id,
            attempt=attempt,
            job_name=job_name(self.settings.run, cell.cell_id, attempt),
            spec=self.spec,
            params=dict(cell.params),
            inputs=inputs,
            cell_dir=self.ledger.cell_dir(cell.cell_id),
            tags=tags,
        )

    def run_cell(self, cell_id: str) -> CellResult:
        """Run one cell and remember its result for run.json; a control plane that stays down fails only this cell."""
        submissions = [0]
        try:
            result = self._run_cell(cell_id, submissions)
        except TransientBackendError as exc:
            cell = self.cells[cell_id]
            record = self.ledger.load(cell_id) or CellRecord(cell=cell_id, params=dict(cell.params))
            record.error = f"control plane kept failing, re-run to reconcile: {exc}"
            self.ledger.save(record)
            outcome = Outcome.SUBMITTED if record.job_name else Outcome.CANCELLED
            result = CellResult(record, outcome, submissions[0])
        with self._lock:
            self.results[cell_id] = result
        if self.settings.progress is not None:
            self.settings.progress.finished(cell_id, result.record.job_state, result.outcome == Outcome.REUSED)
        return result

    def _run_cell(self, cell_id: str, submitted: list[int]) -> CellResult:
        """Reuse, attach, collect, submit or resubmit, until the cell is terminal or its budget is spent; submitted[0]
        counts the jobs this call created, for run.json, even when a later control-plane error escapes."""
        cell = self.cells[cell_id]
        record = self.ledger.load(cell_id)
        if record is None and self.settings.reuse is not None:
            record = self.settings.reuse.adopt(self.ledger, cell_id)
        record = record or CellRecord(cell=cell_id, params=dict(cell.params))
        if record.job_state == JobState.COMPLETED and record.collected:
            return CellResult(record, Outcome.REUSED, reused_from=record.reused_from)
        attempt = max(record.attempt, 1)
        if record.job_name and record.job_state.failed:
            if not self._may_retry(record):
                return CellResult(record, Outcome.REUSED)
            attempt += 1
        elif record.job_name and record.job_state == JobState.CANCELED:
            attempt += 1
        submissions = 0
        while True:
            job = self.cell_job(cell, attempt)
            with self.settings.job_slot():
                handle = self.submission.find(record, job)
                if handle is None:
                    if self.aborted.is_set():
                        return self._cancelled(record, submissions)
                    handle = self.submission.create(record, job)
                    submissions += 1
                    submitted[0] = submissions
                    self.submission.record(record, job, handle, self.wall_clock())
                elif record.job_name != job.job_name:  # its submitter died before recording it: record it now
                    self.submission.record(record, job, handle, self.wall_clock())  # so flows.cancel finds it
                else:
                    record.job_name, record.attempt, record.handle = job.job_name, attempt, handle.to_json()
                status = self._wait(record, handle)
            if status is None:
                return CellResult(
                    record, Outcome.CANCELLED if self.aborted.is_set() else Outcome.SUBMITTED, submissions
                )
            if status == JobState.COMPLETED:
                self._collect(record, handle)
                return CellResult(record, self._outcome(submissions), submissions)
            if status == JobState.CANCELED:
                if self.aborted.is_set() or submissions:
                    return self._cancelled(record, submissions)
                attempt += 1
                continue
            if self._may_retry(record):
                attempt += 1
                continue
            return CellResult(record, self._outcome(submissions), submissions)

    def _may_retry(self, record: CellRecord) -> bool:
        """Failures within the budget are retried; a timeout is not, it would only time out again."""
        return record.failures <= self.settings.retries and not record.error.startswith("timed out")

    def _outcome(self, submissions: int) -> Outcome:
        return Outcome.SUBMITTED if submissions else Outcome.ATTACHED

    def _wait(self, record: CellRecord, handle: JobHandle) -> JobState | None:
        """Wait for a terminal state and record it; None when a timeout or an abort ended the wait."""
        with self._lock:
            self._in_flight[handle.job_name] = handle
            aborted = self.aborted.is_set()
        if aborted:  # submitted while cancel_all ran, after it looked: cancel_all never saw this job
            self._cancel(handle)
        try:
            status = self.monitor.wait(handle, self.settings.timeout_s)
            stopped = status.state not in STALLED
            if not stopped:  # it may come back; else cancelled and seen stopped before any retry
                status, stopped = settle_stalled(self.monitor, handle, status, self._cancel)
        except JobTimedOutError as exc:
            self._cancel(handle)
            until_stopped(self.monitor, handle)  # hold the slot: the next cell never runs beside it
            record.state, record.error = JobState.FAILED.value, f"timed out: {exc.detail}"
            record.failures += 1
            self._finish(record)
            return JobState.FAILED
        finally:
            with self._lock:
                self._in_flight.pop(handle.job_name, None)
        record.state, record.url = status.state.value, status.url or record.url
        if status.state.failed:
            record.failures += 1
            log_path = self.retry.call("logs", lambda: self.backend.logs(handle, self.ledger.cell_dir(record.cell)))
            tail = tail_text(log_path) if log_path else ""
            record.error = (tail or status.detail or status.state.value).strip()
            record.error = record.error if stopped else f"timed out: {status.state} and not stopped by a cancel"
        elif status.state == JobState.CANCELED:
            record.error = "cancelled"
        self._finish(record)
        return status.state

    def _finish(self, record: CellRecord) -> None:
        record.ended_at = self.wall_clock()
        if record.submitted_at is not None:
            record.duration_s = max(0.0, record.ended_at - record.submitted_at)
        self.ledger.save(record)

    def _collect(self, record: CellRecord, handle: JobHandle) -> None:
        outputs = self.retry.call("collect", lambda: self.backend.collect(handle, self.ledger.cell_dir(record.cell)))
        record.metrics, record.metrics_error = read_metrics(outputs)
        record.error = ""  # an earlier run's "control plane kept failing" no longer holds: the job is collected
        if record.metrics_error:
            log.warning("cell %s: metrics ignored: %s", record.cell, record.metrics_error)
        record.collected = True
        self.ledger.save(record)
        if self.settings.reuse is not None:
            self.settings.reuse.remember(self.settings.run, record.cell)

    def _cancelled(self, record: CellRecord, submissions: int) -> CellResult:
        record.state = JobState.CANCELED.value
        record.error = record.error or "cancelled before it started"
        self.ledger.save(record)
        return CellResult(record, Outcome.CANCELLED, submissions)

    def cancel_all(self) -> list[str]:
        """Stop new submissions and cancel every job in flight; waiters see Canceled within one poll."""
        self.aborted.set()
        with self._lock:
            handles = list(self._in_flight.values())
        return [handle.job_name for handle in handles if self._cancel(handle)]

    def _cancel(self, handle: JobHandle) -> bool:
        """Ask the job to stop, through transient errors; a cancel that still fails is logged with the command that
        finishes the job, never raised, so one stuck cancel spares no other job."""
        try:
            self.retry.call("cancel", lambda: self.backend.cancel(handle))
        except Exception as exc:
            log.error(
                "could not cancel job %s (%s); run python -m flows.cancel --run %s",
                handle.job_name,
                exc,
                self.settings.run,
            )
            return False
        return True

    def _final_record(self, cell_id: str) -> CellRecord:
        """The cell's record for the table; a cell the fan-out never reached in an aborted sweep was cancelled
        before it started (saved so, as run_cell would have), not Absent."""
        record = self.ledger.load(cell_id)
        if record is None:
            record = CellRecord(cell_id, dict(self.cells[cell_id].params))
            if self.aborted.is_set():
                self._cancelled(record, 0)
        return record

    def finish(self, extra: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """summary.csv and run.json from the ledger (the flow's own history is never needed)."""
        with self._lock:
            results = list(self.results.values())
        records = [self._final_record(cell_id) for cell_id in self.cells]
        self.ledger.write_summary(records, self.grid_keys)
        states = [r.job_state for r in records]
        by_outcome = [r.outcome for r in results]
        summary: dict[str, Any] = {
            "run": self.settings.run,
            "backend": self.backend.name,
            "cells": len(records),
            "submitted": sum(r.submissions for r in results),
            "reused": by_outcome.count(Outcome.REUSED),
            "completed": states.count(JobState.COMPLETED),
            "failed": sum(1 for s in states if s.failed),
            "cancelled": states.count(JobState.CANCELED),
            "status_calls": self.monitor.stats.status_calls,
            "transient_retries": self.retry.retries + self.monitor.stats.transient_errors,
        }
        summary.update(extra or {})
        self.ledger.write_run(summary)
        return summary
