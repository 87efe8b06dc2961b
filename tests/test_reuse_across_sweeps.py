"""A finished cell is reused by its content across run names: adding one seed value to the demo runs only the new
cell (R launches counted), and the reused cells say where they came from."""

from __future__ import annotations

import csv
import json
import os
import shutil
import stat
from pathlib import Path

import pytest

from flows.cli import main

pytestmark = [pytest.mark.r, pytest.mark.usefixtures("prefect_server")]


def counting_rscript(tmp_path: Path) -> tuple[Path, Path]:
    """An Rscript that notes each launch of the job's script, then is Rscript."""
    launches = tmp_path / "launches.txt"
    wrapper = tmp_path / "Rscript-counting"
    real = shutil.which("Rscript")
    assert real is not None
    wrapper.write_text(f'#!/bin/sh\ncase "$*" in *train.R*) echo "$*" >> "{launches}";; esac\nexec "{real}" "$@"\n')
    wrapper.chmod(wrapper.stat().st_mode | stat.S_IEXEC)
    return wrapper, launches


def sweep(project: Path, rscript: Path, seeds: str) -> dict[str, object]:
    """One default-named sweep of lm over the given seeds; its run.json."""
    (project / "grid.yml").write_text(f"model: [lm]\nseed: [{seeds}]\n")
    args = ["--job", str(project / "job.yml"), "--results", str(project / "results"), "--rscript", str(rscript)]
    assert main([*args, "--no-mlflow", "--max-concurrent", "2"]) == 0
    [run_file] = sorted((project / "results").glob("*/run.json"), key=os.path.getmtime)[-1:]
    return json.loads(run_file.read_text())


def test_adding_a_seed_runs_only_the_new_cell(demo_project: Path, tmp_path: Path) -> None:
    rscript, launches = counting_rscript(tmp_path)

    first = sweep(demo_project, rscript, "1, 2")
    assert len(launches.read_text().splitlines()) == 2
    second = sweep(demo_project, rscript, "1, 2, 3")

    assert second["run"] != first["run"], "one more seed is another sweep (another default run name)"
    launched = launches.read_text().splitlines()
    assert len(launched) == 3, launched
    assert "--seed 3" in launched[-1]
    assert (second["cells"], second["submitted"], second["reused"], second["completed"]) == (3, 1, 2, 3)
    with (demo_project / "results" / str(second["run"]) / "summary.csv").open(newline="") as handle:
        rows = {r["param.seed"]: r for r in csv.DictReader(handle)}
    assert {seed: rows[seed]["reused_from"] for seed in rows} == {"1": first["run"], "2": first["run"], "3": ""}
    reused_dir = demo_project / "results" / str(second["run"]) / rows["1"]["cell"]
    assert (reused_dir / "outputs" / "metrics.json").is_file(), "the reused cell's outputs are in the new sweep"
    assert not (reused_dir / ".jobs").exists(), "no handle of the first sweep's process comes along"
    assert task_states(str(second["run"])) == {
        "model=lm seed=1": "Cached",
        "model=lm seed=2": "Cached",
        "model=lm seed=3": "Completed",
    }


def task_states(run: str) -> dict[str, str]:
    """The cell task runs of the flow run named after the sweep, by name, with their state names."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId, FlowRunFilterName

    with get_client(sync_client=True) as client:
        flow_runs = client.read_flow_runs(flow_run_filter=FlowRunFilter(name=FlowRunFilterName(any_=[run])))
        task_runs = client.read_task_runs(
            flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[f.id for f in flow_runs]))
        )
    named = {t.name.rsplit(" (", 1)[0]: t for t in task_runs if t.name.startswith("model=")}  # less " (<cell id>)"
    return {name: t.state.name for name, t in named.items() if t.state is not None}


def test_changed_code_reuses_nothing(demo_project: Path, tmp_path: Path) -> None:
    rscript, launches = counting_rscript(tmp_path)
    sweep(demo_project, rscript, "1")
    with (demo_project / "r_src" / "train.R").open("a") as handle:
        handle.write("\n# a change to the code\n")

    again = sweep(demo_project, rscript, "1")

    assert len(launches.read_text().splitlines()) == 2
    assert (again["submitted"], again["reused"]) == (1, 0)
