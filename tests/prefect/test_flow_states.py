"""The train flow's runs mean what they say: a dry run or YAML emission from a run form submits nothing, a failed
cell is one line (not a traceback) and fails the flow run after the results are written, and Prefect's hooks can be
called the way its runner calls them."""

from __future__ import annotations

import logging
from pathlib import Path
from types import SimpleNamespace

import pytest

from flows import train_flow
from flows.parameters import flow_parameters
from rjobs.inputs.options import SweepOptions

pytestmark = [pytest.mark.r, pytest.mark.usefixtures("prefect_server")]


def options(project: Path, **overrides: object) -> SweepOptions:
    (project / "grid.yml").write_text("model: [lm]\nseed: [1, 2]\n")
    base = {"job": str(project / "job.yml"), "results": str(project / "results"), "no_mlflow": True}
    return SweepOptions(**{**base, **overrides})  # type: ignore[arg-type]


@pytest.mark.parametrize("field", ["dry_run", "emit_yaml"])
def test_dry_run_and_emit_yaml_from_a_run_form_submit_nothing(demo_project: Path, field: str) -> None:
    from prefect.client.orchestration import get_client

    value: object = True if field == "dry_run" else str(demo_project / "emitted")
    state = train_flow.train(
        **flow_parameters(options(demo_project, run_name="form", **{field: value})), return_state=True
    )

    assert state.is_completed()
    assert not (demo_project / "results" / "form").exists(), "a cell ran"
    if field == "emit_yaml":
        assert len(list((demo_project / "emitted").glob("form-*.yml"))) == 2
    else:
        with get_client(sync_client=True) as client:
            artifact = client.read_latest_artifacts()
            plans = [a for a in artifact if a.key == "form-plan"]
        assert plans and "2 cell(s) on local" in str(plans[0].data)


def test_a_failed_cell_is_one_line_and_fails_the_flow_after_the_results(
    demo_project: Path, caplog: pytest.LogCaptureFixture
) -> None:
    (demo_project / "r_src" / "train.R").write_text('stop("this seed is cursed")\n')
    caplog.set_level(logging.INFO)

    state = train_flow.train(**flow_parameters(options(demo_project, run_name="cursed", retries=0)), return_state=True)

    assert state.is_failed()
    assert state.message.startswith("2 of 2 cell(s) did not complete: ")
    assert (demo_project / "results" / "cursed" / "summary.csv").is_file()
    assert "Traceback" not in caplog.text
    cell_lines = [r.getMessage() for r in caplog.records if r.getMessage().startswith("Finished in state Failed('job")]
    assert len(cell_lines) == 2 and all("\n" not in line and "std_log.txt" in line for line in cell_lines)


def test_the_cancellation_hook_takes_its_arguments_by_name() -> None:
    cancelled: list[str] = []
    run_id = "run-1"
    train_flow.ACTIVE_SWEEPS[run_id] = SimpleNamespace(cancel_all=lambda: cancelled.append(run_id))  # type: ignore[assignment]
    try:
        train_flow.cancel_on_hook(flow=train_flow.train, flow_run=SimpleNamespace(id=run_id), state=None)
        train_flow.cancel_on_hook(train_flow.train, SimpleNamespace(id=run_id), None)
    finally:
        train_flow.ACTIVE_SWEEPS.pop(run_id, None)  # type: ignore[call-overload]
    assert cancelled == [run_id, run_id]
