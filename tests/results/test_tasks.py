"""tasks.tracking: the markdown artifact, and the three tasks in a real flow against a hand-built sweep."""

from __future__ import annotations

import base64
import json
import re
from pathlib import Path

import pytest

from rjobs.backends.base import RegisteredModelRef
from rjobs.engine.ledger import CellRecord, RunLedger
from rjobs.results.selection import NoEligibleCellError
from rjobs.results.tracking import TrackingResult
from tasks.tracking import best_markdown, png_data_uri, selection_summary
from tests.results.conftest import Cell, Store, write_cell

REPO = Path(__file__).resolve().parents[2]
BEST = CellRecord(
    cell="c121",
    params={"model": "ranger", "features": "all", "seed": 1},
    state="Completed",
    job_name="run-c121",
    metrics={"rmse": 278.0, "r2": 0.722},
)
MODEL = RegisteredModelRef("penguins", "3", "runs:/abc/outputs/model.rds", True)
TRACKING = TrackingResult("sqlite:////x/mlflow.db", "7", "parent-id", {"c121": "child-id"})


def png(tmp_path: Path, size: int = 0) -> Path:
    path = tmp_path / "rmse_by_param.png"
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * size)
    return path


def test_markdown_names_the_cell_params_metrics_model_and_runs(tmp_path: Path) -> None:
    text = best_markdown("run", "rmse:min", BEST, MODEL, TRACKING, png(tmp_path))
    assert text.startswith("# Best cell of `run` by `rmse:min`\n")
    assert "Cell **`c121`** (job `run-c121`): `rmse` = 278" in text
    for row in ("| `model` | `ranger` |", "| `features` | `all` |", "| `seed` | `1` |", "| `r2` | 0.722 |"):
        assert row in text
    assert "Model: **`penguins`** version **3** (new version) in mlflow, from `runs:/abc/outputs/model.rds`" in text
    assert "parent run `parent-id`, this cell's run `child-id`" in text
    (uri,) = re.findall(r"!\[rmse by parameter\]\((data:image/png;base64,[A-Za-z0-9+/=]+)\)", text)
    assert base64.b64decode(uri.split(",", 1)[1]).startswith(b"\x89PNG")
    assert f"Plot file: `{tmp_path / 'rmse_by_param.png'}`" in text  # where a UI that drops data: images can look


def test_markdown_without_registration_tracking_or_plot() -> None:
    text = best_markdown("run", "r2:max", BEST, None, None, None)
    assert "Model:" not in text and "MLflow:" not in text and "![" not in text
    assert "`r2` = 0.722" in text


def test_existing_version_is_said_to_be_unchanged(tmp_path: Path) -> None:
    again = RegisteredModelRef("penguins", "3", "runs:/abc/outputs/model.rds", False)
    assert "(existing version, unchanged)" in best_markdown("run", "rmse:min", BEST, again, None, None)


def test_a_big_png_is_linked_not_embedded(tmp_path: Path) -> None:
    big = png(tmp_path, 400_000)
    assert png_data_uri(big) is None
    text = best_markdown("run", "rmse:min", BEST, None, None, big)
    assert f"Plot (too big to embed): `{big}`" in text
    assert "base64" not in text


def test_selection_summary_is_json() -> None:
    summary = selection_summary(BEST, MODEL)
    assert json.loads(json.dumps(summary)) == {
        "cell": "c121",
        "params": {"model": "ranger", "features": "all", "seed": 1},
        "metrics": {"rmse": 278.0, "r2": 0.722},
        "model": {"name": "penguins", "version": "3", "source": "runs:/abc/outputs/model.rds"},
    }


def hand_built_sweep(root: Path, run: str, metrics: bool = True) -> object:
    """A real Sweep over the demo job whose cells already have records and outputs (nothing runs)."""
    from rjobs.backends.local.backend import LocalBackend
    from rjobs.engine.monitor import JobMonitor
    from rjobs.engine.sweep import Sweep, SweepSettings
    from rjobs.inputs.grid import build_cells
    from rjobs.inputs.spec import load_job_spec

    spec = load_job_spec(REPO / "job.yml")
    cells = build_cells(spec, grid={"model": ["lm", "ranger"], "seed": [1, 2]})
    ledger = RunLedger(root, run)
    records = []
    for n, cell in enumerate(cells):
        values = {"rmse": 300.0 - 10 * n, "r2": 0.7 + n / 100} if metrics else {"other": 1.0}
        records.append(write_cell(ledger, Cell(cell.cell_id, dict(cell.params), metrics=values)))
    ledger.write_summary(records, ["model", "seed"])  # as write_results does before these tasks
    backend = LocalBackend()
    return Sweep(spec, cells, backend, ledger, SweepSettings(run=run), JobMonitor(backend))


@pytest.mark.slow
@pytest.mark.usefixtures("prefect_server")
def test_tasks_in_a_flow_log_plot_select_register_and_publish(mlflow_store: Store) -> None:
    from prefect import flow
    from prefect.artifacts import Artifact

    from tasks.tracking import log_to_mlflow, plot_sweep, select_and_register

    sweep = hand_built_sweep(mlflow_store.root, "tasks-a")

    @flow
    def results_flow() -> dict:
        tracking = log_to_mlflow(sweep)
        plot = plot_sweep(sweep, "rmse:min")
        return select_and_register(sweep, "rmse:min", "tasks-model", tracking=tracking, plot=plot)

    first = results_flow()
    best = sweep.cells[first["cell"]]  # type: ignore[attr-defined]
    assert first["cell"] == list(sweep.cells)[-1]  # type: ignore[attr-defined]
    assert first["params"] == dict(best.params)
    assert first["model"]["name"] == "tasks-model" and first["model"]["version"] == "1"
    experiment = mlflow_store.client.get_experiment_by_name("r-penguins")
    runs = mlflow_store.client.search_runs([experiment.experiment_id], "tags.`rjobs.run` = 'tasks-a'")
    assert len(runs) == 5
    parent = next(r for r in runs if r.data.tags.get("rjobs.kind") == "sweep")
    assert parent.data.params == {
        "penguins": "data/penguins.csv",
        "test_fraction": "0.25",
        "features": "flipper_length_mm+species",
    }
    assert (mlflow_store.root / "tasks-a" / "rmse_by_param.png").is_file()
    artifact = Artifact.get("tasks-a-best")
    assert artifact is not None
    assert f"Cell **`{first['cell']}`**" in str(artifact.data)
    assert "data:image/png;base64," in str(artifact.data)
    assert "version **1** (new version)" in str(artifact.data)

    second = results_flow()
    assert second == first
    assert len(mlflow_store.client.search_runs([experiment.experiment_id], "tags.`rjobs.run` = 'tasks-a'")) == 5
    assert len(mlflow_store.client.search_model_versions("name = 'tasks-model'")) == 1


@pytest.mark.slow
@pytest.mark.usefixtures("prefect_server")
def test_no_eligible_cell_fails_the_flow_with_a_type_the_cli_maps_to_exit_1(tmp_path: Path) -> None:
    from prefect import flow

    from tasks.tracking import select_and_register

    sweep = hand_built_sweep(tmp_path, "tasks-b", metrics=False)

    @flow
    def results_flow() -> dict:
        return select_and_register(sweep, "rmse:min")

    state = results_flow(return_state=True)
    assert state.is_failed()
    error = state.result(raise_on_failure=False)
    assert isinstance(error, NoEligibleCellError)
    assert (error.metric, error.completed, error.exit_code) == ("rmse", 4, 1)
