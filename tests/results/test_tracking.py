"""rjobs.results.tracking: a parent MLflow run per sweep, a nested child per cell, re-logging that updates in place."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from rjobs.core.errors import InputError
from rjobs.core.states import JobState
from rjobs.engine.ledger import CellRecord
from rjobs.inputs.spec import load_job_spec
from rjobs.results.mlflow_runs import check_filter_value
from rjobs.results.tracking import (
    OUTPUTS_HASH_TAG,
    cell_status,
    fixed_params,
    local_tracking_uri,
    log_sweep,
    mlflow_key,
    sweep_status,
)
from tests.results.conftest import Cell, Store, build_ledger, demo_cells, write_cell

REPO = Path(__file__).resolve().parents[2]


def runs_of(store: Store, experiment_id: str, run: str) -> list[Any]:
    return store.client.search_runs([experiment_id], f"tags.`rjobs.run` = '{run}'", max_results=1000)


def test_parent_and_nested_children_carry_params_metrics_and_tags(mlflow_store: Store) -> None:
    ledger, records = build_ledger(mlflow_store.root, "track-a", demo_cells(), ["model", "features", "seed"])
    result = log_sweep(
        ledger, records, experiment="track-exp-a", backend="local", params={"test_fraction": "0.25", "data": "d.csv"}
    )
    assert result.tracking_uri == mlflow_store.uri
    assert (result.created, result.updated, result.artifacts_logged) == (13, 0, 12)
    client = mlflow_store.client
    runs = runs_of(mlflow_store, result.experiment_id, "track-a")
    parents = [r for r in runs if "mlflow.parentRunId" not in r.data.tags]
    children = [r for r in runs if "mlflow.parentRunId" in r.data.tags]
    assert len(parents) == 1 and len(children) == 12
    parent = parents[0]
    assert parent.info.run_id == result.parent_run_id
    assert parent.info.run_name == "track-a"
    assert parent.data.params == {"test_fraction": "0.25", "data": "d.csv"}
    assert parent.data.tags["rjobs.backend"] == "local"
    assert parent.info.status == "FINISHED"
    assert client.get_experiment(result.experiment_id).name == "track-exp-a"

    by_cell = {r.data.tags["rjobs.cell"]: r for r in children}
    assert set(by_cell) == {r.cell for r in records} == set(result.child_run_ids)
    for record in records:
        child = by_cell[record.cell]
        assert child.info.run_id == result.child_run_ids[record.cell]
        assert child.info.run_name == record.cell
        assert child.data.tags["mlflow.parentRunId"] == parent.info.run_id
        assert child.data.params == {k: str(v) for k, v in record.params.items()}
        assert child.data.metrics == record.metrics
        tags = child.data.tags
        assert (tags["rjobs.run"], tags["rjobs.job_name"], tags["rjobs.attempt"], tags["rjobs.status"]) == (
            "track-a",
            f"track-a-{record.cell}",
            "1",
            "Completed",
        )
        assert child.info.status == "FINISHED"
        assert (child.info.start_time, child.info.end_time) == (1_700_000_000_000, 1_700_000_010_000)
    files = {a.path for a in client.list_artifacts(result.child_run_ids["c001"], "outputs")}
    assert files == {"outputs/metrics.json", "outputs/model.rds"}
    # artifacts live beside the store, not in the current folder's ./mlruns
    assert client.get_experiment(result.experiment_id).artifact_location.startswith(
        (mlflow_store.root / "mlartifacts").as_uri()
    )
    assert not (Path.cwd() / "mlruns").exists()


def test_second_call_reuses_runs_and_updates_a_changed_metric_and_outputs(mlflow_store: Store) -> None:
    ledger, records = build_ledger(mlflow_store.root, "track-b", demo_cells(n_seeds=1))
    first = log_sweep(ledger, records, experiment="track-exp-b", backend="local")
    again = log_sweep(ledger, records, experiment="track-exp-b", backend="local")
    assert (again.created, again.updated, again.artifacts_logged) == (0, 0, 0)
    assert (again.parent_run_id, again.child_run_ids) == (first.parent_run_id, first.child_run_ids)
    assert len(runs_of(mlflow_store, first.experiment_id, "track-b")) == 7

    changed = records[0]
    changed.metrics["rmse"] = 123.5
    ledger.save(changed)
    (ledger.outputs_dir(changed.cell) / "metrics.json").write_text(json.dumps(changed.metrics))
    child_id = first.child_run_ids[changed.cell]
    old_hash = mlflow_store.client.get_run(child_id).data.tags[OUTPUTS_HASH_TAG]

    third = log_sweep(ledger, ledger.records(), experiment="track-exp-b", backend="local")
    assert (third.created, third.updated, third.artifacts_logged) == (0, 1, 1)
    assert len(runs_of(mlflow_store, first.experiment_id, "track-b")) == 7
    child = mlflow_store.client.get_run(child_id)
    assert child.data.metrics["rmse"] == 123.5
    assert child.data.tags[OUTPUTS_HASH_TAG] != old_hash
    assert [m.value for m in mlflow_store.client.get_metric_history(child_id, "rmse")][-1] == 123.5
    assert len(mlflow_store.client.get_metric_history(child_id, "r2")) == 1  # unchanged metrics are not re-logged


def test_failed_and_retried_cells(mlflow_store: Store) -> None:
    cells = [Cell("ok", {"seed": 1}, metrics={"rmse": 1.0}), Cell("bad", {"seed": 2}, "Failed")]
    ledger, records = build_ledger(mlflow_store.root, "track-c", cells)
    result = log_sweep(ledger, records, experiment="track-exp-c", backend="local")
    bad = mlflow_store.client.get_run(result.child_run_ids["bad"])
    assert (bad.info.status, bad.data.tags["rjobs.status"]) == ("FAILED", "Failed")
    assert bad.data.tags["rjobs.error"] == "train.R: error: boom"
    assert OUTPUTS_HASH_TAG not in bad.data.tags
    assert mlflow_store.client.list_artifacts(bad.info.run_id) == []
    assert mlflow_store.client.get_run(result.parent_run_id).info.status == "FAILED"

    retried = write_cell(ledger, Cell("bad", {"seed": 2}, metrics={"rmse": 2.0}))
    retried.attempt, retried.job_name = 2, "track-c-bad-r2"
    ledger.save(retried)
    again = log_sweep(ledger, ledger.records(), experiment="track-exp-c", backend="local")
    assert again.child_run_ids == result.child_run_ids
    bad = mlflow_store.client.get_run(result.child_run_ids["bad"])
    assert (bad.info.status, bad.data.tags["rjobs.attempt"], bad.data.tags["rjobs.job_name"]) == (
        "FINISHED",
        "2",
        "track-c-bad-r2",
    )
    assert bad.data.metrics == {"rmse": 2.0}
    assert mlflow_store.client.get_run(result.parent_run_id).info.status == "FINISHED"


def test_a_sweep_stays_in_the_experiment_it_was_first_logged_in(
    mlflow_store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    ledger, records = build_ledger(mlflow_store.root, "track-d", [Cell("a", {"seed": 1}, metrics={"m": 1.0})])
    first = log_sweep(ledger, records, experiment="track-exp-d1", backend="local")
    second = log_sweep(ledger, records, experiment="track-exp-d2", backend="local")
    assert (second.experiment_id, second.parent_run_id, second.child_run_ids) == (
        first.experiment_id,
        first.parent_run_id,
        first.child_run_ids,
    )
    assert second.created == 0
    assert mlflow_store.client.get_experiment_by_name("track-exp-d2") is None
    assert "already logged in experiment id" in caplog.text


# (state, child status)
STATUS_CASES = [
    (JobState.COMPLETED, "FINISHED"),
    (JobState.FAILED, "FAILED"),
    (JobState.LOST, "FAILED"),
    (JobState.NOT_RESPONDING, "FAILED"),
    (JobState.CANCELED, "KILLED"),
    (JobState.ABSENT, "KILLED"),
    (JobState.RUNNING, "RUNNING"),
    (JobState.QUEUED, "RUNNING"),
]


@pytest.mark.parametrize(("state", "status"), STATUS_CASES)
def test_cell_status(state: JobState, status: str) -> None:
    assert cell_status(state) == status


# (states, parent status)
SWEEP_STATUS_CASES = [
    ([JobState.COMPLETED, JobState.COMPLETED], "FINISHED"),
    ([JobState.COMPLETED, JobState.FAILED], "FAILED"),
    ([JobState.CANCELED, JobState.FAILED], "FAILED"),
    ([JobState.COMPLETED, JobState.CANCELED], "KILLED"),
    ([], "KILLED"),
]


@pytest.mark.parametrize(("states", "status"), SWEEP_STATUS_CASES)
def test_sweep_status(states: list[JobState], status: str) -> None:
    assert sweep_status(states) == status


@pytest.mark.parametrize("value", ["it's", 'a"b', "a`b", "a\\b", "", "a\nb"])
def test_values_that_would_break_a_filter_string_are_refused(value: str) -> None:
    with pytest.raises(InputError, match="cannot be searched for in MLflow"):
        check_filter_value("cell", value)


@pytest.mark.parametrize(("name", "key"), [("rmse", "rmse"), ("R²", "R²"), ("a:b", "a_b"), ("x/y z-1.0", "x/y z-1.0")])
def test_mlflow_key(name: str, key: str) -> None:
    assert mlflow_key(name) == key


def test_local_tracking_uri_is_an_absolute_sqlite_file(tmp_path: Path) -> None:
    assert local_tracking_uri(tmp_path / "results") == f"sqlite:///{(tmp_path / 'results').resolve()}/mlflow.db"


def test_fixed_params_are_the_inputs_no_cell_overrides() -> None:
    spec = load_job_spec(REPO / "job.yml")
    assert fixed_params(spec, ["model", "features", "seed"]) == {
        "penguins": "data/penguins.csv",
        "test_fraction": "0.25",
    }


def test_records_with_quotes_in_cell_ids_are_refused_before_logging(mlflow_store: Store) -> None:
    ledger, _ = build_ledger(mlflow_store.root, "track-e", [Cell("a", {"seed": 1}, metrics={"m": 1.0})])
    with pytest.raises(InputError):
        log_sweep(ledger, [CellRecord("it's", {})], experiment="track-exp-e", backend="local")
    assert mlflow_store.client.get_experiment_by_name("track-exp-e") is None
