"""The ask-and-tell loop of a sweep job over the engine's Sweep: trials are asked while fewer than
max_concurrent_trials are in flight, each runs as a cell (content-hashed, resumable, retried, collected), finished
ones are told to the sampler, and running ones are checked against the early-termination policy every poll."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait

from rjobs.backends.base import JobHandle, ReportsStepMetrics
from rjobs.core.states import JobState
from rjobs.core.step_metrics import STEP_METRICS_FILE, read_step_metrics
from rjobs.engine.sweep import CellResult, Outcome, Sweep
from rjobs.inputs.grid import Cell
from rjobs.search.policies import primary_values, should_stop
from rjobs.search.samplers import GridSampler, RandomSampler, Sampler, Told
from rjobs.search.sweep_file import SweepJob
from rjobs.search.tpe import TPESampler
from rjobs.search.trials import Trial, TrialBook, TrialState

log = logging.getLogger(__name__)
EARLY_TERMINATION = "early termination"
MAX_REDRAWS = 100
"""Draws that repeat an earlier trial before the space counts as exhausted (only small finite spaces get there)."""


def make_sampler(job: SweepJob) -> Sampler:
    if job.sampling.type == "grid":
        return GridSampler(job.space)
    if job.sampling.type == "bayesian":
        return TPESampler(job.space, job.sampling.seed)
    return RandomSampler(job.space, job.sampling.seed)


class Study:
    """One sweep job's trials on one Sweep; run() returns when the budget is spent, the space is exhausted, the
    sweep's timeout passed or the sweep was aborted."""

    def __init__(
        self,
        job: SweepJob,
        sweep: Sweep,
        *,
        max_concurrent: int,
        poll_s: float = 0.5,
        clock: Callable[[], float] = time.monotonic,
        sampler: Sampler | None = None,
    ) -> None:
        self.job = job
        self.sweep = sweep
        self.max_concurrent = max_concurrent
        self.poll_s = poll_s
        self.clock = clock
        self.sampler = sampler or make_sampler(job)
        self.book = TrialBook.open(sweep.ledger.run_dir, job.sampling.type, job.sampling.seed)
        self._evaluated: dict[str, int] = {}
        self._finished_values: dict[str, list[float]] = {}
        self.terminated: list[str] = []
        for trial in self.book.trials:
            sweep.cells[trial.cell] = Cell(trial.params)

    def run(self) -> None:
        """Resume the trials a crash left running, then ask new ones within the limits; an interruption cancels
        every job in flight (through the sweep) before it propagates."""
        if self.job.early_termination is not None and not isinstance(self.sweep.backend, ReportsStepMetrics):
            log.warning(
                "the %s backend cannot read a running trial's outputs/metrics.jsonl: early termination is off",
                self.sweep.backend.name,
            )
        self._settle_terminated()
        self._reuse_finished()
        resumed = [trial for trial in self.book.trials if not trial.finished]
        started = self.clock()
        futures: dict[Future[CellResult], Trial] = {}
        pool = ThreadPoolExecutor(max_workers=self.max_concurrent, thread_name_prefix="trial")
        try:
            while True:
                if self._timed_out(started) and not self.sweep.aborted.is_set():
                    log.warning(
                        "sweep timeout of %ss reached: cancelling %d trial(s)", self.job.limits.timeout, len(futures)
                    )
                    self.sweep.cancel_all()
                while len(futures) < self.max_concurrent and not self.sweep.aborted.is_set():
                    trial = resumed.pop(0) if resumed else self._ask()
                    if trial is None:
                        break
                    futures[pool.submit(self.sweep.run_cell, trial.cell)] = trial
                if not futures:
                    break
                done, _ = wait(list(futures), timeout=self.poll_s, return_when=FIRST_COMPLETED)
                for future in done:
                    self._tell(futures.pop(future), future.result())
                self._check_early_termination(list(futures.values()))
        except BaseException:
            self.sweep.cancel_all()
            wait(list(futures), timeout=60)
            raise
        finally:
            pool.shutdown(wait=False, cancel_futures=True)

    def _timed_out(self, started: float) -> bool:
        timeout = self.job.limits.timeout
        return timeout is not None and self.clock() - started > timeout

    def history(self) -> list[Told]:
        return [Told(trial.params, trial.loss) for trial in self.book.trials if trial.finished]

    def _ask(self) -> Trial | None:
        """The next trial, recorded in study.json before its job exists; None when the budget or space is spent."""
        index = len(self.book.trials)
        if index >= self.job.limits.max_total_trials:
            return None
        history = self.history()
        for attempt in range(MAX_REDRAWS):
            params = self.sampler.ask(index, history, attempt)
            if params is None:
                return None
            cell = Cell(params)
            if self.book.by_cell(cell.cell_id) is None:
                trial = Trial(index, cell.cell_id, dict(cell.params))
                self.book.trials.append(trial)
                self.book.save()
                self.sweep.cells[cell.cell_id] = cell
                log.info("trial %d: cell %s %s", index, cell.cell_id, cell.params)
                return trial
        log.info("trial %d: every draw repeated an earlier trial; the space is exhausted", index)
        return None

    def _loss(self, metrics: dict[str, float]) -> float | None:
        value = metrics.get(self.job.objective.metric)
        if value is None or value != value:
            return None
        return value if self.job.objective.goal == "min" else -value

    def _tell(self, trial: Trial, result: CellResult) -> None:
        """Record how the trial ended; a trial cancelled by an abort or the sweep's timeout stays running, so a
        re-run runs it."""
        record = result.record
        if trial.state == TrialState.TERMINATED and record.job_state != JobState.COMPLETED:
            record.state, record.error = JobState.CANCELED.value, EARLY_TERMINATION
            self.sweep.ledger.save(record)
        elif record.job_state == JobState.COMPLETED:  # a trial that finished before its cancel took effect counts
            trial.state, trial.loss = TrialState.COMPLETED.value, self._loss(record.metrics)
        elif record.job_state.failed:
            trial.state = TrialState.FAILED.value
        self.book.save()

    def _settle_terminated(self) -> None:
        """A trial marked terminated whose job was not yet cancelled (a crash between the two) is cancelled now."""
        for trial in self.book.trials:
            record = self.sweep.ledger.load(trial.cell)
            if trial.state != TrialState.TERMINATED or record is None or record.error == EARLY_TERMINATION:
                continue
            if record.handle and not record.job_state.terminal:
                handle = JobHandle.from_json(record.handle)
                self.sweep.retry.call("cancel", lambda handle=handle: self.sweep.backend.cancel(handle))
            record.state, record.error = JobState.CANCELED.value, EARLY_TERMINATION
            self.sweep.ledger.save(record)

    def _reuse_finished(self) -> None:
        """Trials an earlier run finished are reused as they ended (a failed one was told as failed: it stays so),
        and counted as reused in run.json."""
        for trial in self.book.trials:
            record = self.sweep.ledger.load(trial.cell)
            if trial.finished and record is not None:
                self.sweep.results[trial.cell] = CellResult(record, Outcome.REUSED)

    def _values(self, trial: Trial, running: dict[str, list[float]]) -> list[float]:
        """A trial's primary-metric values so far: read while it runs, from its collected outputs once finished."""
        if trial.cell in running:
            return running[trial.cell]
        if trial.cell not in self._finished_values:
            steps = read_step_metrics(self.sweep.ledger.outputs_dir(trial.cell) / STEP_METRICS_FILE)
            record = self.sweep.ledger.load(trial.cell)
            backend = self.sweep.backend
            if not steps and record is not None and record.handle and isinstance(backend, ReportsStepMetrics):
                steps = backend.step_metrics(JobHandle.from_json(record.handle))  # stopped early: never collected
            self._finished_values[trial.cell] = primary_values(steps, self.job.objective.metric)
        return self._finished_values[trial.cell]

    def _check_early_termination(self, running: list[Trial]) -> None:
        """Each new interval of each running trial judged against every other trial's values; a trial the policy
        names is marked terminated in study.json, then its job is cancelled through the backend."""
        policy, backend = self.job.early_termination, self.sweep.backend
        if policy is None or not isinstance(backend, ReportsStepMetrics):
            return
        handles: dict[str, JobHandle] = {}
        current: dict[str, list[float]] = {}
        for trial in running:
            record = self.sweep.ledger.load(trial.cell)
            if record is None or not record.handle or record.job_state.terminal or trial.state != TrialState.RUNNING:
                continue
            handles[trial.cell] = JobHandle.from_json(record.handle)
            steps = self.sweep.retry.call("steps", lambda h=handles[trial.cell]: backend.step_metrics(h))
            current[trial.cell] = primary_values(steps, self.job.objective.metric)
        for cell, mine in current.items():
            others = [
                self._values(t, current)
                for t in self.book.trials
                if t.cell != cell and (t.cell in current or t.finished)
            ]
            for interval in range(self._evaluated.get(cell, 0) + 1, len(mine) + 1):
                self._evaluated[cell] = interval
                if should_stop(policy, self.job.objective, mine[:interval], others):
                    self._finished_values[cell] = mine  # its outputs are never collected: keep what it reported
                    self._terminate(cell, handles[cell], interval)
                    break

    def _terminate(self, cell: str, handle: JobHandle, interval: int) -> None:
        trial = self.book.by_cell(cell)
        assert trial is not None
        trial.state = TrialState.TERMINATED.value
        self.book.save()
        self.terminated.append(cell)
        policy = self.job.early_termination.type if self.job.early_termination else ""
        log.info("trial %d (cell %s): stopped by %s at interval %d", trial.index, cell, policy, interval)
        try:
            self.sweep.retry.call("cancel", lambda: self.sweep.backend.cancel(handle))
        except Exception as exc:  # one stuck cancel must not end the study: the next run settles it
            log.error("trial %d: could not cancel job %s (%s)", trial.index, handle.job_name, exc)
