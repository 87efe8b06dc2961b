"""One `python -m flows.train` invocation resolves its options once and asks local R about packages once: the CLI
hands its prepared sweep (resolution and backend) to the flow instead of the flow recomputing both."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

import rjobs.engine.wiring as wiring
from flows.cli import main
from rjobs.environment import check as envcheck

pytestmark = [pytest.mark.r, pytest.mark.usefixtures("prefect_server")]


def test_one_invocation_resolves_once_and_checks_r_once(demo_project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    resolved: list[str] = []
    checked: list[Path] = []
    real_resolve, real_check = wiring.resolve, envcheck.check_environment

    def counting_resolve(options: Any) -> Any:
        resolved.append(options.job)
        return real_resolve(options)

    def counting_check(code: Path, *args: Any, **kwargs: Any) -> Any:
        checked.append(code)
        return real_check(code, *args, **kwargs)

    monkeypatch.setattr(wiring, "resolve", counting_resolve)
    monkeypatch.setattr(envcheck, "check_environment", counting_check)
    (demo_project / "grid.yml").write_text("model: [lm]\nseed: [1]\n")
    args = ["--job", str(demo_project / "job.yml"), "--results", str(demo_project / "results"), "--no-mlflow"]

    assert main([*args, "--run-name", "once"]) == 0

    assert resolved == [str(demo_project / "job.yml")]
    assert checked == [demo_project / "r_src"]


def test_the_flow_prepares_for_itself_when_nothing_was_handed_over(
    demo_project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A deployment or the UI calls the flow directly: it resolves once itself."""
    from flows.parameters import flow_parameters
    from flows.train_flow import train
    from rjobs.inputs.options import SweepOptions

    resolved: list[str] = []
    real_resolve = wiring.resolve
    monkeypatch.setattr(wiring, "resolve", lambda options: resolved.append(options.job) or real_resolve(options))
    (demo_project / "grid.yml").write_text("model: [lm]\nseed: [1]\n")
    options = SweepOptions(
        job=str(demo_project / "job.yml"), results=str(demo_project / "results"), run_name="direct", no_mlflow=True
    )

    state = train(**flow_parameters(options), return_state=True)

    assert state.is_completed()
    assert resolved == [str(demo_project / "job.yml")]
