"""The SDK's local validation runs once per job shape: a sweep pays its ~18 ms of CPU once, not once a cell."""

from __future__ import annotations

import dataclasses
import shutil
from collections.abc import Callable
from typing import Any

import pytest
from azure.ai.ml import command
from azure.ai.ml.exceptions import ValidationException
from azure.ai.ml.sweep import Choice
from azure.core.exceptions import HttpResponseError
from marshmallow import ValidationError

from rjobs.backends.azureml.backend import AzureMLBackend
from rjobs.backends.base import CellJob
from rjobs.core.errors import TransientBackendError
from rjobs.core.retry import RetryPolicy
from rjobs.core.states import JobState
from rjobs.inputs.spec import InputSpec, JobSpec, OutputSpec
from rjobs.testing.fake_mlclient import FakeClock, FakeMLClient
from tests.azureml.harness import drive

pytestmark = pytest.mark.azure_fake

Prepared = tuple[AzureMLBackend, dict[str, InputSpec]]
MakeCell = Callable[..., CellJob]
MakeBackend = Callable[..., AzureMLBackend]
CURATED_ENV = "azureml:AzureML-x:1"  # the fake accepts curated environments without registering them


def skip_flags(fake: FakeMLClient) -> list[bool]:
    """What each jobs.create_or_update request said about the SDK's validation: the fake's call log is the truth."""
    return [args["skip_validation"] for op, _, args in fake.calls if op == "jobs.create_or_update"]


# -- (a) a sweep of one shape --------------------------------------------------------------------------


def test_a_sweep_validates_its_first_cell_only(
    fake: FakeMLClient, clock: FakeClock, prepared: Prepared, spec: JobSpec, cell_job: MakeCell
) -> None:
    """Cells differ only in values, so the first cell's validation stands for all of them."""
    backend, data = prepared
    jobs = [cell_job(spec, {"seed": seed, "model": model}, data=data) for seed in range(3) for model in ("lm", "rf")]
    run = drive(backend, jobs, clock.sleep, max_concurrent=3, interval=5.0)

    assert skip_flags(fake) == [False] + [True] * (len(jobs) - 1)
    assert fake.names("jobs.create_or_update") == [job.job_name for job in jobs]
    assert set(run.states.values()) == {JobState.COMPLETED} and len(run.states) == len(jobs)


def test_another_process_validates_its_own_first_job(
    fake: FakeMLClient, prepared: Prepared, make_backend: MakeBackend, spec: JobSpec, cell_job: MakeCell
) -> None:
    """What one backend validated is not known to a second one on the same workspace (e.g. a resumed sweep)."""
    backend, data = prepared
    backend.submit(cell_job(spec, {"seed": 1}, data=data))
    backend.submit(cell_job(spec, {"seed": 2}, data=data))
    other = make_backend(env_smoke=False)
    other.ensure_environment(spec)
    other.ensure_code(spec)
    other.submit(cell_job(spec, {"seed": 3}, data=data))
    other.submit(cell_job(spec, {"seed": 4}, data=data))
    assert skip_flags(fake) == [False, True, False, True]


def test_the_environment_check_does_not_stand_for_the_cells(
    fake: FakeMLClient, make_backend: MakeBackend, spec: JobSpec, cell_job: MakeCell
) -> None:
    """The smoke job has no code or inputs: a different shape, so the first cell is still validated."""
    backend = make_backend()
    data = {k: v for k, v in backend.ensure_data(spec).items() if not v.is_literal}
    backend.ensure_environment(spec)
    backend.submit(cell_job(spec, {"seed": 1}, data=data))
    backend.submit(cell_job(spec, {"seed": 2}, data=data))
    names = fake.names("jobs.create_or_update")
    assert str(names[0]).startswith("rjobs-envcheck-") and len(names) == 3
    assert skip_flags(fake) == [False, False, True]


# -- (b) another shape is validated again ---------------------------------------------------------------


def _other_code(spec: JobSpec, backend: AzureMLBackend) -> JobSpec:
    """The same R code under another folder: registered as another code asset, so another code id."""
    assert spec.code is not None
    copy = spec.code.parent / "r_src_v2"
    shutil.copytree(spec.code, copy)
    return dataclasses.replace(spec, code=copy)


def _other_environment(spec: JobSpec, backend: AzureMLBackend) -> JobSpec:
    """The backend holds the environment reference, not the spec: swap it there."""
    backend.environment = CURATED_ENV
    return spec


def _extra_input(spec: JobSpec, backend: AzureMLBackend) -> JobSpec:
    """One more literal input, used by the command, so the input names differ."""
    extra = InputSpec(name="extra", type="literal", value=2)
    return dataclasses.replace(
        spec, inputs={**spec.inputs, "extra": extra}, command=spec.command + " --extra ${{inputs.extra}}"
    )


def _an_output(spec: JobSpec, backend: AzureMLBackend) -> JobSpec:
    """An output folder, used by the command, so the output names differ."""
    outputs = {"model_dir": OutputSpec(name="model_dir")}
    return dataclasses.replace(spec, outputs=outputs, command=spec.command + " --out ${{outputs.model_dir}}")


VARIANTS: list[tuple[str, Callable[[JobSpec, AzureMLBackend], JobSpec], bool]] = [
    ("same shape, other values", lambda spec, backend: spec, True),
    ("other compute", lambda spec, backend: dataclasses.replace(spec, compute="gpu-cluster"), False),
    ("other experiment", lambda spec, backend: dataclasses.replace(spec, experiment_name="penguins-b"), False),
    ("other environment", _other_environment, False),
    ("other code", _other_code, False),
    ("an extra input", _extra_input, False),
    ("an output", _an_output, False),
]


@pytest.mark.parametrize(("change", "skipped"), [(c, s) for _, c, s in VARIANTS], ids=[v[0] for v in VARIANTS])
def test_another_shape_is_validated_again(
    fake: FakeMLClient,
    prepared: Prepared,
    spec: JobSpec,
    cell_job: MakeCell,
    change: Callable[[JobSpec, AzureMLBackend], JobSpec],
    skipped: bool,
) -> None:
    """A job unlike those created so far is validated; once created, its shape is known too."""
    backend, data = prepared
    backend.submit(cell_job(spec, {"seed": 1}, data=data))
    variant = change(spec, backend)
    backend.submit(cell_job(variant, {"seed": 2}, data=data))
    backend.submit(cell_job(variant, {"seed": 3}, data=data))
    assert skip_flags(fake) == [False, skipped, True]


# -- (c) a failed create does not mark the shape validated ------------------------------------------------


FAILURES: list[tuple[str, str | None, int, str | None, type[Exception] | None, list[bool]]] = [
    # label, fault kind, times, first job's name, error submit raises, flags: first submit's attempts, two more cells
    ("503 once, the retry creates", "503", 1, None, None, [False, False, True, True]),
    ("429 past the retries", "429", 4, None, TransientBackendError, [False] * 4 + [False, True]),
    ("connection reset past the retries", "connection", 4, None, TransientBackendError, [False] * 4 + [False, True]),
    ("the service refuses the name", None, 0, "bad.name!", HttpResponseError, [False, False, True]),
]


@pytest.mark.parametrize(
    ("kind", "times", "name", "error", "flags"), [row[1:] for row in FAILURES], ids=[row[0] for row in FAILURES]
)
def test_a_failed_create_does_not_mark_the_shape(
    fake: FakeMLClient,
    prepared: Prepared,
    spec: JobSpec,
    cell_job: MakeCell,
    kind: str | None,
    times: int,
    name: str | None,
    error: type[Exception] | None,
    flags: list[bool],
) -> None:
    """Only a created job proves its shape; until then every attempt, and the next cell, is validated."""
    backend, data = prepared
    engine = RetryPolicy(sleep=FakeClock().sleep)  # the engine retries submit through transient errors
    assert engine.attempts == 4  # the table's attempt counts assume it
    if kind is not None:
        fake.inject("jobs.create_or_update", kind, times=times)
    first = cell_job(spec, {"seed": 1}, data=data)
    if name is not None:
        first = dataclasses.replace(first, job_name=name)
    if error is None:
        engine.call("submit", lambda: backend.submit(first))
    else:
        with pytest.raises(error):
            engine.call("submit", lambda: backend.submit(first))
    backend.submit(cell_job(spec, {"seed": 2}, data=data))
    backend.submit(cell_job(spec, {"seed": 3}, data=data))
    assert skip_flags(fake) == flags


# -- (d) the fake skips exactly the SDK's validation ---------------------------------------------------------


def _job(**changes: Any) -> Any:
    """A valid command job but for changes, on an environment the fake needs no registration for."""
    settings: dict[str, Any] = {
        "name": "j1",
        "command": "echo ${{inputs.a}}",
        "inputs": {"a": 1},
        "environment": CURATED_ENV,
        "compute": "cpu-cluster",
        "experiment_name": "e",
    }
    settings.update(changes)
    return command(**settings)


def _choice(rest: dict[str, Any]) -> bool:
    """Unvalidated, the distribution goes out as a literal: its repr, which Azure would pass to R as text."""
    return rest["inputs"]["a"]["jobInputType"] == "literal" and "Choice object" in rest["inputs"]["a"]["value"]


def _many_instances(rest: dict[str, Any]) -> bool:
    """Unvalidated, the bad count reaches the REST body (the fake accepts it; the service would be the judge)."""
    return rest["resources"]["instanceCount"] == "many"


INVALID: list[tuple[str, Callable[[], Any], type[Exception], str, Any]] = [
    # label, job, what validation raises and says, then unvalidated: a check of the stored REST, or (error, message)
    (
        "a sweep distribution as input",
        lambda: _job(inputs={"a": Choice([1, 2])}),
        ValidationException,
        "Sweep",
        _choice,
    ),
    ("instance_count not a number", lambda: _job(instance_count="many"), ValidationError, "many", _many_instances),
    (
        "no environment",
        lambda: _job(environment=None),
        ValidationException,
        "environment",
        (ValidationException, "required"),
    ),
    ("timeout not a duration", lambda: _job(timeout="soon"), ValidationError, "soon", (TypeError, "timedelta")),
]


@pytest.mark.parametrize(
    ("make", "rejection", "match", "unvalidated"), [row[1:] for row in INVALID], ids=[row[0] for row in INVALID]
)
def test_the_fake_skips_only_the_sdk_validation(
    fake: FakeMLClient,
    make: Callable[[], Any],
    rejection: type[Exception],
    match: str,
    unvalidated: Any,
) -> None:
    """Validation rejects before any request; skipped, the job meets the SDK's serialisation and the fake's checks."""
    with pytest.raises(rejection, match=match):
        fake.jobs.create_or_update(make())
    assert fake.count("jobs.create_or_update") == 0 and "j1" not in fake._jobs

    if isinstance(unvalidated, tuple):
        error, message = unvalidated
        with pytest.raises(error, match=message):
            fake.jobs.create_or_update(make(), skip_validation=True)
        assert fake.count("jobs.create_or_update") == 0 and "j1" not in fake._jobs
    else:
        created = fake.jobs.create_or_update(make(), skip_validation=True)
        assert created.name == "j1" and skip_flags(fake) == [True]
        assert unvalidated(fake.job_record("j1")["rest"]["properties"])
