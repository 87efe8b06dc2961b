"""rjobs.engine.sweep.Sweep on a ScriptedBackend and a JobMonitor sharing one fake clock: fresh runs, resume, retry
budgets, timeouts, cancel_all and control-plane errors, each asserted on the cell records (the results folder) and on
the calls the engine made. Nothing sleeps for real: the monitor and the retry policy sleep on the fake clock."""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from rjobs.backends.base import Backend, JobHandle, ListsRunJobs
from rjobs.core.errors import TransientBackendError
from rjobs.core.naming import job_name
from rjobs.core.states import JobState
from rjobs.engine.ledger import CellRecord, RunLedger
from rjobs.engine.monitor import JobMonitor
from rjobs.engine.sweep import Action, CellResult, Outcome, Sweep, SweepSettings
from rjobs.inputs.grid import Cell
from rjobs.inputs.spec import InputSpec, JobSpec
from rjobs.testing.clock import FakeClock
from rjobs.testing.scripted import Call, Fault, ScriptedBackend, ScriptedJob

RUN = "run"
INTERVAL = 10.0
C, F, X = JobState.COMPLETED, JobState.FAILED, JobState.CANCELED

DONE = ScriptedJob(phases=[("Queued", 5), ("Running", 20)], outputs={"metrics.json": '{"rmse": 0.5}'}, log="fine\n")
"""Completes 25 s after its submission, with metrics."""
FAILS = ScriptedJob(phases=[("Running", 10)], outcome="Failed", log="Error in train.R: boom\n", detail="exit code 1")
ENDLESS = ScriptedJob(phases=[("Queued", 5), ("Running", 1)], outcome=None, cancel_s=2.0)
"""Runs until cancelled; Canceled 2 s after the cancel."""


def cell(seed: int) -> Cell:
    return Cell({"seed": seed})


def name(seed: int, attempt: int = 1) -> str:
    return job_name(RUN, cell(seed).cell_id, attempt)


@dataclass
class Rig:
    """A Sweep wired as the flow wires it, around a scripted backend and one fake clock."""

    clock: FakeClock
    backend: ScriptedBackend
    ledger: RunLedger
    sweep: Sweep
    seeds: Sequence[int]
    results: dict[int, CellResult] = field(default_factory=dict)

    def run(self, *seeds: int) -> dict[int, CellResult]:
        """run_cell for each seed in turn (all by default), on this thread."""
        for seed in seeds or self.seeds:
            self.results[seed] = self.sweep.run_cell(cell(seed).cell_id)
        return self.results

    def record(self, seed: int) -> CellRecord:
        found = self.ledger.load(cell(seed).cell_id)
        assert found is not None, f"no status.json for seed {seed}"
        return found

    def submitted(self) -> list[str]:
        return [call.jobs[0] for call in self.backend.calls if call.operation == "submit" and not call.error]

    def of(self, job: str, operation: str | None = None) -> list[Call]:
        return [c for c in self.backend.calls if job in c.jobs and (operation is None or c.operation == operation)]


def make_spec(tmp_path: Path) -> JobSpec:
    return JobSpec(
        source=tmp_path / "job.yml",
        command="Rscript train.R --seed ${{inputs.seed}}",
        code=None,
        inputs={"seed": InputSpec("seed", "literal", value=1)},
    )


def make_rig(
    tmp_path: Path,
    scripts: Mapping[str, ScriptedJob] | None = None,
    *,
    seeds: Sequence[int] = (1,),
    default: ScriptedJob | None = DONE,
    faults: Sequence[Fault] = (),
    retries: int = 1,
    timeout_s: float | None = None,
    interval: float = INTERVAL,
    clock: FakeClock | None = None,
    backend: ScriptedBackend | None = None,
) -> Rig:
    """A fresh Sweep over the results folder in tmp_path: a second rig on the same folder is a re-run (a new process
    reading what the first left); pass the first rig's backend and clock to keep the service's jobs."""
    clock = clock or FakeClock()
    backend = backend or ScriptedBackend(clock, scripts, default=default, faults=faults)
    monitor = JobMonitor(backend, interval=interval, clock=clock, sleep=clock.sleep, rng=random.Random(7))
    ledger = RunLedger(tmp_path / "results", RUN)
    settings = SweepSettings(run=RUN, retries=retries, timeout_s=timeout_s)
    sweep = Sweep(make_spec(tmp_path), [cell(s) for s in seeds], backend, ledger, settings, monitor)
    return Rig(clock, backend, ledger, sweep, seeds)


@pytest.fixture(autouse=True)
def no_real_sleep(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Any real sleep in the engine would be a bug here: every wait goes through the fake clock."""

    def forbidden(seconds: float) -> None:
        raise AssertionError(f"real time.sleep({seconds}) in a unit test of the engine")

    monkeypatch.setattr(time, "sleep", forbidden)
    yield


# --- a fresh run ------------------------------------------------------------------------------------------------


def test_fresh_run_submits_each_cell_once_waits_for_it_and_collects(tmp_path: Path) -> None:
    rig = make_rig(tmp_path, seeds=(1, 2, 3))
    assert rig.sweep.plan() == dict.fromkeys((cell(s).cell_id for s in (1, 2, 3)), Action.SUBMIT)

    results = rig.run()
    summary = rig.sweep.finish()

    assert {seed: r.outcome for seed, r in results.items()} == dict.fromkeys((1, 2, 3), Outcome.SUBMITTED)
    assert rig.submitted() == [name(1), name(2), name(3)]
    for seed in (1, 2, 3):
        record = rig.record(seed)
        assert (record.state, record.attempt, record.job_name, record.collected) == ("Completed", 1, name(seed), True)
        assert record.metrics == {"rmse": 0.5} and record.error == ""
        assert (rig.ledger.outputs_dir(cell(seed).cell_id) / "metrics.json").is_file()
        ops = [c.operation for c in rig.of(name(seed))]
        assert ops[0] == "submit" and ops[-1] == "collect" and set(ops[1:-1]) == {"status"}  # no find: no intent
        submit, collect = rig.of(name(seed), "submit")[0], rig.of(name(seed), "collect")[0]
        assert collect.at >= submit.at + DONE.duration  # collected once its job had ended, not before
        assert collect.at < submit.at + DONE.duration + INTERVAL * 1.1 + 1e-9  # and within one poll of it
    assert summary["completed"] == 3 and summary["submitted"] == 3 and summary["transient_retries"] == 0
    assert summary["status_calls"] == rig.backend.count("status")
    assert rig.ledger.summary_path.read_text().count("\n") == 4  # header and one row per cell


def test_prepare_stages_data_environment_and_code_once_before_any_job(tmp_path: Path) -> None:
    rig = make_rig(tmp_path, seeds=(1, 2))
    info = rig.sweep.prepare()
    rig.run()
    assert info.reference == "scripted:environment"
    assert rig.backend.ops()[:4] == ["ensure_data", "ensure_environment", "ensure_code", "submit"]
    assert [rig.backend.count(op) for op in ("ensure_data", "ensure_environment", "ensure_code")] == [1, 1, 1]


@pytest.mark.parametrize(
    ("retries", "outcomes", "attempts", "final"),
    [
        (0, ["Failed"], 1, F),
        (1, ["Failed", "Completed"], 2, C),
        (1, ["Failed", "Failed", "Completed"], 2, F),
        (2, ["NotResponding", "Failed", "Completed"], 3, C),
        (3, ["Completed"], 1, C),
    ],
)
def test_a_failed_job_is_resubmitted_as_the_next_attempt_within_the_retry_budget_only(
    tmp_path: Path, retries: int, outcomes: list[str], attempts: int, final: JobState
) -> None:
    scripts = {
        name(1, n): ScriptedJob(phases=[("Running", 10)], outcome=o, log=f"{o} at attempt {n}\n")
        for n, o in enumerate(outcomes, 1)
    }
    rig = make_rig(tmp_path, scripts, default=None, retries=retries)

    result = rig.run()[1]

    assert rig.submitted() == [name(1, n) for n in range(1, attempts + 1)]  # run-<cell>, run-<cell>-r2, ...
    record = rig.record(1)
    assert (record.job_state, record.attempt, record.job_name) == (final, attempts, name(1, attempts))
    assert record.failures == sum(1 for o in outcomes[:attempts] if o != "Completed")
    assert record.collected is (final == C)
    if final == F:
        assert record.error == f"Failed at attempt {attempts}"  # the tail of the job's log
        assert rig.backend.count("logs", name(1, attempts)) == 1
    assert result.outcome == Outcome.SUBMITTED and result.submissions == attempts


# --- resume: the backend is the truth, the results folder its cache ----------------------------------------------


@dataclass(frozen=True)
class Resume:
    """One row: what an earlier run left, and what this run must plan, ask and conclude."""

    record: Mapping[str, Any] | None
    """The cell's status.json (None: none)."""
    job_age_s: float | None
    """The service holds the attempt-1 job, started this long ago (None: it holds no job)."""
    planned: Action
    outcome: Outcome
    ops: Mapping[str, Sequence[str]]
    """Per job: the distinct operations called about it, in order (statuses repeat as polls need); []: none."""
    final: str = "Completed"
    retries: int = 1


ATTACH = ["find", "status", "collect"]
SUBMIT = ["find", "submit", "status", "collect"]
FRESH = ["submit", "status", "collect"]
"""A job the ledger never intended is created without a find (rjobs.engine.submission)."""
RESUME = {
    "collected: reused without a call": Resume(
        {"state": "Completed", "attempt": 1, "job_name": name(1), "collected": True},
        None, Action.REUSE, Outcome.REUSED, {name(1): []},
    ),
    "in flight: attached, not resubmitted": Resume(
        {"state": "Running", "attempt": 1, "job_name": name(1)},
        10.0, Action.CHECK, Outcome.ATTACHED, {name(1): ATTACH, name(1, 2): []},
    ),
    "completed, not collected: collected": Resume(
        {"state": "Completed", "attempt": 1, "job_name": name(1)},
        100.0, Action.CHECK, Outcome.ATTACHED, {name(1): ATTACH},
    ),
    "intended, never recorded (a crash): found and attached by its name": Resume(
        {"intent": name(1)}, 10.0, Action.SUBMIT, Outcome.ATTACHED, {name(1): ATTACH}
    ),
    "intended, never created (a crash): found absent, then submitted": Resume(
        {"intent": name(1)}, None, Action.SUBMIT, Outcome.SUBMITTED, {name(1): SUBMIT}
    ),
    "never intended, made by someone else: the create attaches by its name": Resume(
        None, 10.0, Action.SUBMIT, Outcome.SUBMITTED, {name(1): FRESH}
    ),
    "recorded, unknown to the service: submitted under its name": Resume(
        {"state": "Queued", "attempt": 1, "job_name": name(1)},
        None, Action.CHECK, Outcome.SUBMITTED, {name(1): SUBMIT},
    ),
    "failed within the budget: resubmitted as -r2": Resume(
        {"state": "Failed", "attempt": 1, "failures": 1, "job_name": name(1), "error": "boom"},
        100.0, Action.CHECK, Outcome.SUBMITTED, {name(1): [], name(1, 2): FRESH}, retries=1,
    ),
    "failed beyond the budget: left failed, no call": Resume(
        {"state": "Failed", "attempt": 2, "failures": 2, "job_name": name(1, 2), "error": "boom"},
        100.0, Action.CHECK, Outcome.REUSED, {name(1, 2): [], name(1, 3): []}, final="Failed", retries=1,
    ),
    "timed out: not retried, no call": Resume(
        {"state": "Failed", "attempt": 1, "failures": 1, "job_name": name(1), "error": "timed out: after 60 s"},
        None, Action.CHECK, Outcome.REUSED, {name(1, 2): []}, final="Failed", retries=3,
    ),
    "cancelled: resubmitted as the next attempt": Resume(
        {"state": "Canceled", "attempt": 1, "job_name": name(1), "error": "cancelled"},
        100.0, Action.CHECK, Outcome.SUBMITTED, {name(1): [], name(1, 2): FRESH},
    ),
}  # fmt: skip


@pytest.mark.parametrize("case", list(RESUME.values()), ids=list(RESUME))
def test_resume_reconciles_each_cell_with_the_backend(tmp_path: Path, case: Resume) -> None:
    clock = FakeClock()
    backend = ScriptedBackend(clock, default=DONE)
    if case.job_age_s is not None:
        backend.add_existing(name(1), started_at=clock() - case.job_age_s)
    if case.record is not None:
        RunLedger(tmp_path / "results", RUN).save(CellRecord(cell=cell(1).cell_id, params={"seed": 1}, **case.record))
    rig = make_rig(tmp_path, clock=clock, backend=backend, retries=case.retries)

    assert rig.sweep.plan() == {cell(1).cell_id: case.planned}
    result = rig.run()[1]

    assert result.outcome == case.outcome
    for job, ops in case.ops.items():
        assert list(dict.fromkeys(c.operation for c in rig.of(job))) == ops, job
    if case.outcome == Outcome.REUSED:
        assert rig.backend.calls == []
    assert rig.record(1).state == case.final
    assert rig.record(1).collected is (case.final == "Completed")


def test_a_rerun_of_a_finished_sweep_asks_the_backend_nothing(tmp_path: Path) -> None:
    first = make_rig(tmp_path, seeds=(1, 2))
    first.run()
    first.sweep.finish()
    untouched = ScriptedBackend(FakeClock(), default=None)  # any job it were asked to submit would be an error

    again = make_rig(tmp_path, seeds=(1, 2), backend=untouched)
    results = again.run()
    summary = again.sweep.finish()

    assert {r.outcome for r in results.values()} == {Outcome.REUSED}
    assert untouched.calls == []
    assert summary["reused"] == 2 and summary["submitted"] == 0 and summary["completed"] == 2


# --- timeouts ---------------------------------------------------------------------------------------------------


def test_a_job_past_its_deadline_is_checked_once_more_then_cancelled_and_not_retried(tmp_path: Path) -> None:
    rig = make_rig(tmp_path, default=ENDLESS, timeout_s=100.0, retries=3)

    result = rig.run()[1]

    record = rig.record(1)
    assert record.job_state == F and record.error.startswith("timed out") and record.failures == 1
    assert rig.submitted() == [name(1)]  # a timeout would only time out again: no -r2
    assert result.outcome == Outcome.SUBMITTED
    calls = rig.of(name(1))
    cancel_at = [c.operation for c in calls].index("cancel")
    deadline = calls[1].at + 100.0  # the submit's time: the wait starts right after it
    before = [c for c in calls[:cancel_at] if c.operation == "status"]
    assert before[-1].at >= deadline > before[-2].at  # one final check at the deadline, then the cancel
    assert rig.backend.count("cancel") == 1
    assert rig.backend.state_of(name(1)) == X
    after = [c for c in calls[cancel_at:] if c.operation == "status"]
    assert after and after[-1].at >= calls[cancel_at].at + ENDLESS.cancel_s  # held its slot until the job stopped
    assert rig.sweep.finish()["failed"] == 1


def test_a_job_ending_between_its_last_poll_and_its_deadline_is_collected_not_cancelled(tmp_path: Path) -> None:
    ends_at_24 = ScriptedJob(phases=[("Queued", 4), ("Running", 20)], outputs={"metrics.json": "{}"})
    rig = make_rig(tmp_path, default=ends_at_24, timeout_s=25.0)  # polls near 0, 10, 20; the next one is past 25

    rig.run()

    assert rig.record(1).state == "Completed" and rig.record(1).collected
    assert rig.backend.count("cancel") == 0


def test_a_job_that_ignores_its_cancel_does_not_hold_the_cell_forever(tmp_path: Path) -> None:
    stubborn = ScriptedJob(phases=[("Running", 1)], outcome=None, cancel_s=None)
    rig = make_rig(tmp_path, default=stubborn, timeout_s=60.0)

    rig.run()

    assert rig.record(1).error.startswith("timed out")
    assert rig.backend.count("cancel") == 1
    assert rig.backend.state_of(name(1)) == JobState.RUNNING  # it never stopped; the sweep moved on regardless


# --- cancel_all -------------------------------------------------------------------------------------------------


def test_cancel_all_cancels_the_jobs_in_flight_and_records_unstarted_cells_cancelled(tmp_path: Path) -> None:
    seeds = (1, 2, 3, 4)
    # a small interval: it doubles as the real-time wait of a waiter that is not polling (should cancel_all break,
    # the endless jobs end the test through the backend's max_calls, not a hang)
    rig = make_rig(tmp_path, seeds=seeds, default=ENDLESS, interval=0.05)
    both_submitted = threading.Event()
    rig.backend.on("submit", both_submitted.set, when=lambda call: rig.backend.count("submit") == 2)
    rig.backend.on("status", lambda: both_submitted.wait(timeout=30))  # the first poller waits for the 2nd job
    cancelled: list[str] = []
    rig.backend.on("status", lambda: cancelled.extend(rig.sweep.cancel_all()), when=lambda call: len(call.jobs) == 2)

    with ThreadPoolExecutor(max_workers=2) as pool:  # two cells in flight; the 3rd waits, the 4th is never run
        results = list(pool.map(rig.sweep.run_cell, [cell(s).cell_id for s in seeds[:3]]))
    summary = rig.sweep.finish()

    assert sorted(cancelled) == sorted([name(1), name(2)])
    assert rig.submitted() == [name(1), name(2)] or rig.submitted() == [name(2), name(1)]
    assert [rig.backend.count("cancel", name(s)) for s in seeds] == [1, 1, 0, 0]
    assert [r.outcome for r in results] == [Outcome.CANCELLED] * 3
    for seed in (1, 2):
        assert rig.record(seed).state == "Canceled" and rig.record(seed).job_name == name(seed)
        assert rig.backend.state_of(name(seed)) == X
    for seed in (3, 4):
        assert rig.record(seed).state == "Canceled" and rig.record(seed).job_name == ""
        assert rig.record(seed).error == "cancelled before it started"
    assert summary["cancelled"] == 4 and summary["submitted"] == 2


# --- control-plane errors ---------------------------------------------------------------------------------------


TRANSIENT = {
    "find": (DONE, None, C),
    "submit": (DONE, None, C),
    "status": (DONE, None, C),
    "collect": (DONE, None, C),
    "logs": (FAILS, None, F),
    "cancel": (ENDLESS, 50.0, F),
}


@pytest.mark.parametrize(
    ("operation", "script", "timeout_s", "final"), [(k, *v) for k, v in TRANSIENT.items()], ids=list(TRANSIENT)
)
def test_a_transient_error_is_retried_and_counted(
    tmp_path: Path, operation: str, script: ScriptedJob, timeout_s: float | None, final: JobState
) -> None:
    rig = make_rig(tmp_path, default=script, faults=[Fault(operation, calls=(1,))], retries=0, timeout_s=timeout_s)
    if operation == "find":  # a find is made only for a job the ledger intended
        rig.ledger.save(CellRecord(cell=cell(1).cell_id, params={"seed": 1}, intent=name(1)))

    rig.run()
    summary = rig.sweep.finish()

    calls = [c for c in rig.backend.calls if c.operation == operation]
    assert calls[0].error == "TransientBackendError" and len(calls) >= 2 and not calls[1].error
    assert rig.backend.created() == [name(1)] and rig.submitted() == [name(1)]
    record = rig.record(1)
    assert record.job_state == final and record.collected is (final == C)
    assert "control plane" not in record.error
    assert summary["transient_retries"] == 1


def test_a_submit_whose_answer_was_lost_attaches_instead_of_creating_a_second_job(tmp_path: Path) -> None:
    rig = make_rig(tmp_path, faults=[Fault("submit", lost=True)])

    rig.run()

    assert [c.error for c in rig.backend.calls if c.operation == "submit"] == ["TransientBackendError", ""]
    assert rig.backend.created() == [name(1)]
    assert rig.record(1).state == "Completed" and rig.record(1).collected


@pytest.mark.parametrize("operation", ["find", "submit", "collect"])
def test_an_error_that_persists_fails_its_cell_not_the_sweep(tmp_path: Path, operation: str) -> None:
    rig = make_rig(tmp_path, seeds=(1, 2), faults=[Fault(operation, calls=None, job=name(1))])
    if operation == "find":  # a find is made only for a job the ledger intended
        rig.ledger.save(CellRecord(cell=cell(1).cell_id, params={"seed": 1}, intent=name(1)))

    results = rig.run()  # no exception escapes run_cell
    summary = rig.sweep.finish()

    tries = rig.backend.count(operation, name(1))
    assert 1 < tries <= 10  # retried, a bounded number of times
    assert summary["transient_retries"] == tries - 1
    failed = rig.record(1)
    assert failed.error.startswith("control plane kept failing")
    assert not failed.collected
    assert results[2].outcome == Outcome.SUBMITTED
    assert rig.record(2).state == "Completed" and rig.record(2).collected and rig.record(2).error == ""
    assert rig.submitted() == ([name(1)] if operation == "collect" else []) + [name(2)]


def test_a_status_that_keeps_failing_ends_in_the_timeout_not_a_hang(tmp_path: Path) -> None:
    rig = make_rig(tmp_path, faults=[Fault("status", calls=None)], timeout_s=120.0)

    rig.run()

    assert rig.record(1).error.startswith("timed out")
    assert rig.sweep.finish()["transient_retries"] == rig.backend.count("status")


def test_a_cell_whose_collect_kept_failing_is_collected_by_the_next_run_without_resubmitting(tmp_path: Path) -> None:
    first = make_rig(tmp_path, faults=[Fault("collect", calls=None)])
    first.run()
    assert not first.record(1).collected
    healthy = ScriptedBackend(first.clock, default=DONE)
    healthy.add_existing(name(1), started_at=first.clock() - 100.0)  # the control plane is back, the job long done

    again = make_rig(tmp_path, clock=first.clock, backend=healthy)
    assert again.sweep.plan() == {cell(1).cell_id: Action.CHECK}
    result = again.run()[1]

    assert result.outcome == Outcome.ATTACHED
    assert healthy.count("submit") == 0 and healthy.count("collect") == 1
    assert again.record(1).collected and again.record(1).metrics == {"rmse": 0.5} and again.record(1).error == ""


def test_a_job_submitted_before_a_control_plane_failure_is_counted_as_submitted(tmp_path: Path) -> None:
    rig = make_rig(tmp_path, faults=[Fault("collect", calls=None)])
    rig.run()
    assert rig.submitted() == [name(1)]
    assert rig.sweep.finish()["submitted"] == 1


# --- the scripted backend itself --------------------------------------------------------------------------------


def test_the_scripted_backend_is_a_backend_that_lists_a_runs_jobs() -> None:
    backend = ScriptedBackend(FakeClock(), default=DONE)
    assert isinstance(backend, Backend) and isinstance(backend, ListsRunJobs)
    backend.add_existing("run-a")
    backend.add_existing("other-b")
    assert [h.job_name for h in backend.jobs_of_run("run", Path("."))] == ["run-a"]


@pytest.mark.parametrize(
    ("script", "cancel_after", "timeline"),
    [
        (DONE, None, {0: "Queued", 4.9: "Queued", 5: "Running", 24.9: "Running", 25: "Completed", 1e6: "Completed"}),
        (FAILS, None, {0: "Running", 10: "Failed"}),
        (ENDLESS, None, {0: "Queued", 6: "Running", 1e6: "Running"}),
        (ENDLESS, 10.0, {9: "Running", 10: "CancelRequested", 11.9: "CancelRequested", 12: "Canceled"}),
        (ScriptedJob(phases=[("Running", 11)], cancel_s=5.0), 10.0, {10: "CancelRequested", 11: "Completed"}),
        (ScriptedJob(phases=[("Running", 5)], outcome=None, cancel_s=None), 1.0, {2: "Running", 1e6: "Running"}),
        (DONE, 30.0, {30: "Completed", 40: "Completed"}),  # a cancel after the end changes nothing
    ],
)
def test_scripted_jobs_follow_their_phases_on_the_clock(
    script: ScriptedJob, cancel_after: float | None, timeline: dict[float, str]
) -> None:
    clock = FakeClock(start=0.0)
    backend = ScriptedBackend(clock, {"j": script})
    handle = backend.add_existing("j")
    seen = {}
    for at in sorted({*timeline, *([cancel_after] if cancel_after is not None else [])}):
        clock.advance(at - clock())
        if at == cancel_after:
            backend.cancel(handle)
        if at in timeline:
            seen[at] = backend.status([handle])["j"].state.value
    assert seen == timeline


def test_the_scripted_backend_records_calls_raises_faults_and_writes_outputs(tmp_path: Path) -> None:
    clock = FakeClock(start=0.0)
    boom = RuntimeError("not transient")
    backend = ScriptedBackend(
        clock, {"j": DONE}, faults=[Fault("status", calls=(2,)), Fault("collect", calls=(1,), error=boom)]
    )
    handle = backend.add_existing("j")
    backend.status([handle, JobHandle("ghost", "scripted")])
    with pytest.raises(TransientBackendError, match="status failure"):
        backend.status([handle])
    clock.advance(30.0)
    with pytest.raises(RuntimeError, match="not transient"):
        backend.collect(handle, tmp_path)
    outputs = backend.collect(handle, tmp_path)
    assert (outputs / "metrics.json").read_text() == '{"rmse": 0.5}' and (
        tmp_path / "std_log.txt"
    ).read_text() == "fine\n"
    assert [(c.operation, c.jobs, c.at, c.error) for c in backend.calls] == [
        ("status", ("j", "ghost"), 0.0, ""),
        ("status", ("j",), 0.0, "TransientBackendError"),
        ("collect", ("j",), 30.0, "RuntimeError"),
        ("collect", ("j",), 30.0, ""),
    ]


def test_an_engine_that_loops_fails_instead_of_hanging() -> None:
    backend = ScriptedBackend(FakeClock(), default=DONE, max_calls=3)
    handle = backend.add_existing("j")
    for _ in range(3):
        backend.status([handle])
    with pytest.raises(RuntimeError, match="more than 3 backend calls"):
        backend.status([handle])


def test_collecting_an_unfinished_job_is_an_error(tmp_path: Path) -> None:
    backend = ScriptedBackend(FakeClock(), {"j": DONE})
    handle = backend.add_existing("j")
    with pytest.raises(RuntimeError, match="has not finished"):
        backend.collect(handle, tmp_path)


BAD_SCRIPTS: dict[str, tuple[dict[str, Any], str]] = {
    "unknown state": ({"phases": [("Sleeping", 1)]}, "not a job state"),
    "terminal phase": ({"phases": [("Completed", 1)]}, "cannot be a phase"),
    "negative seconds": ({"phases": [("Running", -1)]}, "seconds >= 0"),
    "infinite seconds": ({"phases": [("Running", float("inf"))]}, "finite number"),
    "not a pair": ({"phases": [("Running",)]}, r"\(state, seconds\) pair"),
    "phases as text": ({"phases": "Running"}, "sequence of"),
    "outcome not terminal": ({"outcome": "Running"}, "not terminal"),
    "never ends without a phase": ({"phases": [], "outcome": None}, "at least one phase"),
    "output outside outputs/": ({"outputs": {"../x": "y"}}, "relative path inside"),
    "absolute output": ({"outputs": {"/etc/x": "y"}}, "relative path inside"),
    "output not text": ({"outputs": {"m.json": 1}}, "text or bytes"),
    "negative cancel": ({"cancel_s": -2}, "cancel_s"),
}


@pytest.mark.parametrize(("fields", "message"), list(BAD_SCRIPTS.values()), ids=list(BAD_SCRIPTS))
def test_a_bad_job_script_is_a_clear_error(fields: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        ScriptedJob(**fields)


BAD_FAULTS: dict[str, tuple[dict[str, Any], str]] = {
    "unknown operation": ({"operation": "submitt"}, "unknown operation"),
    "call zero": ({"operation": "submit", "calls": (0,)}, "count from 1"),
    "calls as a number": ({"operation": "submit", "calls": 2}, "collection of call numbers"),
    "no calls": ({"operation": "submit", "calls": ()}, "non-empty"),
    "error as a class": ({"operation": "submit", "error": TransientBackendError}, "exception instance"),
    "empty job pattern": ({"operation": "submit", "job": ""}, "job name or fnmatch"),
}


@pytest.mark.parametrize(("fields", "message"), list(BAD_FAULTS.values()), ids=list(BAD_FAULTS))
def test_a_bad_fault_is_a_clear_error(fields: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Fault(**fields)


def test_a_bad_backend_setup_is_a_clear_error() -> None:
    clock = FakeClock()
    with pytest.raises(ValueError, match="expected a ScriptedJob"):
        ScriptedBackend(clock, {"j": {"outcome": "Completed"}})  # type: ignore[dict-item]
    with pytest.raises(ValueError, match="Fault instances"):
        ScriptedBackend(clock, faults=["submit"])  # type: ignore[list-item]
    with pytest.raises(ValueError, match="callable"):
        ScriptedBackend(1000.0)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="unknown operation"):
        ScriptedBackend(clock).on("sumbit", lambda: None)
    with pytest.raises(ValueError, match="max_calls"):
        ScriptedBackend(clock, max_calls=0)
    backend = ScriptedBackend(clock, {"run-*": DONE})
    with pytest.raises(ValueError, match="no script for job 'other'"):
        backend.add_existing("other")


def test_threads_share_one_scripted_backend_safely() -> None:
    clock = FakeClock()
    backend = ScriptedBackend(clock, default=DONE, faults=[Fault("status", calls=range(1, 1000, 7))])
    handles = [backend.add_existing(f"j{i}") for i in range(8)]
    errors: list[int] = []
    lock = threading.Lock()

    def poll(handle: JobHandle) -> None:
        for _ in range(200):
            try:
                backend.status([handle])
            except TransientBackendError:
                with lock:
                    errors.append(1)

    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(poll, handles))
    assert backend.count("status") == 1600
    assert len(errors) == len(range(1, 1000, 7)) == sum(1 for c in backend.calls if c.error)
