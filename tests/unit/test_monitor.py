"""rjobs.engine.monitor: one batched poll for every waiter, transitions once, backoff and deadlines on a fake clock."""

from __future__ import annotations

import itertools
import random
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass

import pytest

from rjobs.backends.base import JobHandle, JobStatus
from rjobs.core.errors import JobTimedOutError, TransientBackendError
from rjobs.core.states import JobState
from rjobs.engine.monitor import JobMonitor

Q, R, C, F = JobState.QUEUED, JobState.RUNNING, JobState.COMPLETED, JobState.FAILED


class FakeClock:
    """Time that moves only when someone sleeps; sleep yields the GIL so other waiters get to run."""

    def __init__(self, start: float = 1000.0) -> None:
        self.now = start
        self.sleeps: list[float] = []
        self._lock = threading.Lock()

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        assert seconds >= 0
        with self._lock:
            self.sleeps.append(seconds)
            self.now += seconds
        time.sleep(0)


@dataclass
class StatusCall:
    at: float
    names: list[str]


class ScriptedBackend:
    """A Backend whose `status` plays, per job, a list of states in turn (the last one repeats)."""

    name = "scripted"

    def __init__(self, clock: FakeClock, scripts: dict[str, list[JobState]], errors: Sequence[Exception] = ()) -> None:
        self.clock = clock
        self.scripts = {name: list(states) for name, states in scripts.items()}
        self.errors = list(errors)
        self.calls: list[StatusCall] = []
        self._lock = threading.Lock()

    def status(self, handles: Sequence[JobHandle]) -> dict[str, JobStatus]:
        with self._lock:
            self.calls.append(StatusCall(self.clock(), [h.job_name for h in handles]))
            if self.errors:
                raise self.errors.pop(0)
            found = {}
            for handle in handles:
                script = self.scripts[handle.job_name]
                state = script.pop(0) if len(script) > 1 else script[0]
                found[handle.job_name] = JobStatus(handle.job_name, state, url=f"https://ml.test/{handle.job_name}")
            return found


class EdgeRng(random.Random):
    """uniform() always at one end of its range, to pin the jitter bounds exactly."""

    def __init__(self, end: str) -> None:
        super().__init__(0)
        self.end = end

    def uniform(self, a: float, b: float) -> float:
        return a if self.end == "low" else b


def handle(name: str) -> JobHandle:
    return JobHandle(job_name=name, backend="scripted")


def gaps(calls: list[StatusCall]) -> list[float]:
    return [later.at - earlier.at for earlier, later in itertools.pairwise(calls)]


Transitions = list[tuple[str, JobState | None, JobState]]


def make_monitor(
    clock: FakeClock, backend: ScriptedBackend, transitions: Transitions | None = None, **kwargs: object
) -> JobMonitor:
    def record(h: JobHandle, previous: JobState | None, status: JobStatus) -> None:
        if transitions is not None:
            transitions.append((h.job_name, previous, status.state))

    return JobMonitor(backend, clock=clock, sleep=clock.sleep, on_transition=record, **kwargs)  # type: ignore[arg-type]


# --- one job --------------------------------------------------------------------------------------


def test_single_job_reports_each_transition_once() -> None:
    clock = FakeClock()
    backend = ScriptedBackend(clock, {"j1": [Q, Q, R, R, R, C]})
    transitions: Transitions = []
    monitor = make_monitor(clock, backend, transitions, interval=2.0, rng=random.Random(7))

    final = monitor.wait(handle("j1"))

    assert final.state is C
    assert final.url == "https://ml.test/j1"
    assert transitions == [("j1", None, Q), ("j1", Q, R), ("j1", R, C)]
    assert len(backend.calls) == 6 == monitor.stats.status_calls
    assert all(call.names == ["j1"] for call in backend.calls)
    assert clock.now > 1000.0 + 5 * 2.0 * 0.9  # it slept between polls, on the fake clock


def test_already_terminal_job_costs_one_call_and_no_sleep() -> None:
    clock = FakeClock()
    backend = ScriptedBackend(clock, {"done": [F]})
    monitor = make_monitor(clock, backend)
    assert monitor.wait(handle("done"), timeout=60).state is F
    assert len(backend.calls) == 1
    assert clock.sleeps == []


# --- many jobs, many threads ----------------------------------------------------------------------


def test_threads_share_batched_polls() -> None:
    clock = FakeClock()
    jobs = 16
    scripts = {f"job{i:02d}": [Q] * (3 + i % 4) + [R] * (8 + i % 5) + [C] for i in range(jobs)}
    backend = ScriptedBackend(clock, scripts)
    transitions: Transitions = []
    # interval doubles as the waiters' real-time Condition.wait timeout: keep it small so a test never stalls
    monitor = make_monitor(clock, backend, transitions, interval=0.05, rng=random.Random(3))
    results: dict[str, JobStatus] = {}
    errors: list[BaseException] = []
    start = threading.Barrier(jobs)

    def waiter(name: str) -> None:
        try:
            start.wait(timeout=10)
            results[name] = monitor.wait(handle(name), timeout=3600)
        except BaseException as exc:  # surfaced by the asserts below
            errors.append(exc)

    threads = [threading.Thread(target=waiter, args=(name,), daemon=True) for name in scripts]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert not any(thread.is_alive() for thread in threads), "a waiter hung"
    assert errors == []

    assert {name: status.state for name, status in results.items()} == dict.fromkeys(scripts, C)
    polls_needed = sum(len(script) for script in scripts.values())  # what one call per job per poll would cost
    assert monitor.stats.status_calls == len(backend.calls)
    assert len(backend.calls) * 4 < polls_needed
    assert max(len(call.names) for call in backend.calls) >= jobs // 2
    assert sum(len(call.names) for call in backend.calls) / len(backend.calls) > 4
    for name in scripts:
        assert [t for t in transitions if t[0] == name] == [(name, None, Q), (name, Q, R), (name, R, C)]


# --- transient errors -----------------------------------------------------------------------------


def test_retry_after_is_honoured_and_counted() -> None:
    clock = FakeClock()
    backend = ScriptedBackend(clock, {"j": [R, C]}, errors=[TransientBackendError("HTTP 429", retry_after=30)])
    monitor = make_monitor(clock, backend, interval=2.0, rng=random.Random(1))

    assert monitor.wait(handle("j")).state is C

    assert monitor.stats.transient_errors == 1
    assert monitor.stats.status_calls == len(backend.calls) == 3
    assert gaps(backend.calls)[0] >= 30
    assert gaps(backend.calls)[1] <= 2.0 * 1.1  # back to the normal interval after a success


def test_backoff_grows_per_failure_is_capped_and_resets() -> None:
    clock = FakeClock()
    errors = [TransientBackendError("HTTP 503") for _ in range(5)]
    backend = ScriptedBackend(clock, {"j": [R, C]}, errors=errors)
    monitor = make_monitor(clock, backend, interval=2.0, max_interval=10.0, rng=random.Random(5))

    assert monitor.wait(handle("j")).state is C

    observed = gaps(backend.calls)
    windows = [(2, 4), (4, 8), (5, 10), (5, 10), (5, 10), (1.8, 2.2)]  # 2*2^n*[0.5, 1], capped at 10, then reset
    assert len(observed) == len(windows)
    for gap, (low, high) in zip(observed, windows, strict=True):
        assert low - 1e-9 <= gap <= high + 1e-9
    assert monitor.stats.transient_errors == 5


# --- deadline -------------------------------------------------------------------------------------


def test_job_that_never_finishes_times_out_after_one_final_check() -> None:
    clock = FakeClock()
    backend = ScriptedBackend(clock, {"slow": [Q, R]})
    monitor = make_monitor(clock, backend, interval=3.0, rng=random.Random(11))
    deadline = clock.now + 20.0

    with pytest.raises(JobTimedOutError) as caught:
        monitor.wait(handle("slow"), timeout=20.0)

    past_deadline = [call for call in backend.calls if call.at >= deadline]
    assert len(past_deadline) == 1
    assert past_deadline[0].at == pytest.approx(deadline)  # the last sleep was cut to the deadline
    assert backend.calls[-1] is past_deadline[0]
    assert len(backend.calls) >= 20.0 / (3.0 * 1.1)
    assert caught.value.job_name == "slow"
    assert caught.value.look_at == "https://ml.test/slow"
    assert "job slow timed out: not finished after 20 s" in str(caught.value)


def test_job_finishing_at_the_final_check_is_not_a_timeout() -> None:
    clock = FakeClock()
    deadline = clock.now + 10.0

    class FinishesAtDeadline(ScriptedBackend):
        def status(self, handles: Sequence[JobHandle]) -> dict[str, JobStatus]:
            self.calls.append(StatusCall(self.clock(), [h.job_name for h in handles]))
            state = C if self.clock() >= deadline else R
            return {h.job_name: JobStatus(h.job_name, state) for h in handles}

    backend = FinishesAtDeadline(clock, {})
    monitor = make_monitor(clock, backend, interval=4.0, rng=random.Random(2))
    assert monitor.wait(handle("j"), timeout=10.0).state is C
    assert [call.at >= deadline for call in backend.calls].count(True) == 1


# --- jitter ---------------------------------------------------------------------------------------


def test_jitter_stays_within_ten_percent_of_the_interval() -> None:
    clock = FakeClock()
    backend = ScriptedBackend(clock, {"j": [R] * 60 + [C]})
    monitor = make_monitor(clock, backend, interval=5.0, rng=random.Random(1234))

    monitor.wait(handle("j"))

    observed = gaps(backend.calls)
    assert len(observed) == 60
    assert all(4.5 - 1e-9 <= gap <= 5.5 + 1e-9 for gap in observed)
    assert min(observed) < 4.7 and max(observed) > 5.3  # jittered, not a fixed interval


@pytest.mark.parametrize(("end", "factor"), [("low", 0.9), ("high", 1.1)])
def test_jitter_bounds_are_exact(end: str, factor: float) -> None:
    clock = FakeClock()
    backend = ScriptedBackend(clock, {"j": [R, R, R, C]})
    monitor = make_monitor(clock, backend, interval=10.0, rng=EdgeRng(end))
    monitor.wait(handle("j"))
    assert gaps(backend.calls) == pytest.approx([10.0 * factor] * 3)


# --- quiet polls space out ------------------------------------------------------------------------


def test_quiet_polls_space_out_by_the_growth_up_to_the_cap() -> None:
    clock = FakeClock()
    backend = ScriptedBackend(clock, {"j": [R] * 6 + [C]})
    monitor = make_monitor(clock, backend, interval=10.0, max_interval=40.0, quiet_growth=1.5, rng=EdgeRng("low"))
    monitor.wait(handle("j"))
    assert gaps(backend.calls) == pytest.approx([0.9 * p for p in (15.0, 22.5, 33.75, 40.0, 40.0, 40.0)])


def test_a_job_ending_brings_the_pause_back_to_the_interval() -> None:
    clock = FakeClock()
    backend = ScriptedBackend(clock, {"a": [R, R, R, C], "b": [R, R, C]})
    monitor = make_monitor(clock, backend, interval=10.0, max_interval=40.0, quiet_growth=2.0, rng=EdgeRng("low"))
    monitor.wait(handle("a"))
    first_of_b = len(backend.calls)
    monitor.wait(handle("b"))
    assert gaps(backend.calls[:first_of_b]) == pytest.approx([18.0, 36.0, 36.0])
    assert gaps(backend.calls[first_of_b:]) == pytest.approx([18.0, 36.0])  # from the interval again, not from 40


@pytest.mark.parametrize("growth", [0.0, 0.5, 0.999])
def test_a_growth_below_one_is_refused(growth: float) -> None:
    with pytest.raises(ValueError, match="quiet_growth"):
        make_monitor(FakeClock(), ScriptedBackend(FakeClock(), {}), quiet_growth=growth)


# --- handles --------------------------------------------------------------------------------------


def test_job_handle_json_round_trip() -> None:
    original = JobHandle(job_name="run-c1", backend="azureml", data={"studio_url": "https://x", "n": 1})
    assert JobHandle.from_json(original.to_json()) == original
    assert JobHandle.from_json({"job_name": "a", "backend": "local"}).data == {}
