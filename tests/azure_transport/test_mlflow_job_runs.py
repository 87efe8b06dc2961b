"""Defect 10: on Azure ML every job already is an MLflow run, so a sweep logged to the workspace's MLflow nests the
cells' job runs under its parent run instead of creating a copy per cell and uploading its outputs again.

The fake service keeps the workspace's MLflow as a sqlite store: each job it runs is a run whose id is the job's
name, in the job's experiment, its artifacts the job's folder; the workspace reports that store as its tracking URI.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

from rjobs.backends.base import JobsAreMlflowRuns
from rjobs.backends.local.backend import LocalBackend
from rjobs.results.job_runs import tracking_target
from rjobs.results.mlflow_runs import CELL_TAG, KIND_TAG, PARENT_TAG, RUN_TAG
from rjobs.results.tracking import fixed_params, log_sweep, make_client
from rjobs.results.tracking_record import log_sweep_of
from rjobs.testing.clock import FakeClock
from rjobs.testing.fake_azureml.client import FakeMLClient
from rjobs.testing.fake_azureml.transport import FakeAzureMLTransport
from tests.azure_transport.mlflow_support import (
    CELLS,
    EXPERIMENT,
    experiment_runs,
    files_under,
    finished_sweep,
    store_state,
    tracked_service,
)


@pytest.fixture
def tracked_pair(tmp_path: Path, clock: FakeClock) -> Iterator[tuple[FakeMLClient, FakeAzureMLTransport]]:
    with tracked_service(tmp_path, clock) as pair:
        yield pair


@pytest.fixture
def tracked(tracked_pair: tuple[FakeMLClient, FakeAzureMLTransport]) -> FakeMLClient:
    return tracked_pair[0]


@pytest.fixture
def tracked_transport(tracked_pair: tuple[FakeMLClient, FakeAzureMLTransport]) -> FakeAzureMLTransport:
    return tracked_pair[1]


def test_each_cells_job_run_is_nested_under_one_parent_with_the_cells_params_and_metrics(
    tracked_transport: FakeAzureMLTransport, tracked: FakeMLClient, tmp_path: Path
) -> None:
    sweep = finished_sweep(tracked_transport, tracked, tmp_path)
    assert tracked.job_runs is not None
    uri = tracked.job_runs.tracking_uri
    artifacts_before = files_under(tmp_path / "service", tmp_path / "results")
    client = make_client(uri)
    job_names = [record.job_name for record in sweep.records()]
    listed_before = {name: [a.path for a in client.list_artifacts(name)] for name in job_names}

    result, logged = log_sweep_of(sweep)

    assert logged and result.tracking_uri == uri and result.missing_job_runs == []
    assert result.artifacts_logged == 0 and result.created == 1  # the parent run only
    runs = {run.info.run_id: run for run in experiment_runs(uri)}
    assert len(runs) == CELLS + 1
    parents = [run for run in runs.values() if run.data.tags.get(KIND_TAG) == "sweep"]
    assert [p.info.run_id for p in parents] == [result.parent_run_id]
    records = {record.cell: record for record in sweep.records()}
    assert result.child_run_ids == {cell: record.job_name for cell, record in records.items()}
    for cell, record in records.items():
        job_run = runs[record.job_name]  # the job's own run, its id the job's name
        assert job_run.data.tags[PARENT_TAG] == result.parent_run_id
        assert job_run.data.tags[RUN_TAG] == "tracked" and job_run.data.tags[CELL_TAG] == cell
        assert job_run.data.tags[KIND_TAG] == "cell"
        assert job_run.data.params == {key: str(value) for key, value in record.params.items()}
        assert job_run.data.metrics == {"score": 0.5, "rmse": 2.0}
        assert job_run.info.status == "FINISHED"  # the service's, untouched
    # outputs stay the job runs' own artifacts: nothing uploaded by the orchestrator, nothing written to the store
    assert files_under(tmp_path / "service", tmp_path / "results") - artifacts_before <= {
        str(sweep.ledger.run_dir / "mlflow.json"),
        str(sweep.ledger.run_dir / "mlflow.lock"),
    }
    assert {name: [a.path for a in client.list_artifacts(name)] for name in job_names} == listed_before


def test_logging_again_changes_nothing(
    tracked_transport: FakeAzureMLTransport, tracked: FakeMLClient, tmp_path: Path
) -> None:
    sweep = finished_sweep(tracked_transport, tracked, tmp_path)
    first, _ = log_sweep_of(sweep)
    assert tracked.job_runs is not None
    before = store_state(tracked.job_runs.tracking_uri)

    again, logged = log_sweep_of(sweep)  # as the task does on a re-run with nothing new
    assert not logged and again.parent_run_id == first.parent_run_id
    tracking_uri, job_runs = tracking_target(sweep.backend, None)
    forced = log_sweep(  # and past the record, as after a resume that changed nothing MLflow holds
        sweep.ledger,
        sweep.records(),
        experiment=EXPERIMENT,
        backend=sweep.backend.name,
        params=fixed_params(sweep.spec, sweep.grid_keys),
        tracking_uri=tracking_uri,
        job_runs=job_runs,
    )

    assert (forced.created, forced.updated, forced.artifacts_logged) == (0, 0, 0)
    assert forced.parent_run_id == first.parent_run_id and forced.child_run_ids == first.child_run_ids
    assert store_state(tracked.job_runs.tracking_uri) == before


def test_a_cell_whose_job_run_is_gone_is_warned_about_and_skipped_not_copied(
    tracked_transport: FakeAzureMLTransport, tracked: FakeMLClient, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    sweep = finished_sweep(tracked_transport, tracked, tmp_path)
    records = sweep.records()
    gone = records[0]
    assert tracked.job_runs is not None
    tracked.job_runs.delete(gone.job_name)

    with caplog.at_level(logging.WARNING, logger="rjobs.results.job_runs"):
        result, _ = log_sweep_of(sweep)

    assert result.missing_job_runs == [gone.cell]
    assert gone.cell not in result.child_run_ids and len(result.child_run_ids) == CELLS - 1
    runs = experiment_runs(tracked.job_runs.tracking_uri)
    assert len(runs) == CELLS  # the parent and the other cells' job runs: no copy for the missing one
    assert not [run for run in runs if run.data.tags.get(CELL_TAG) == gone.cell]
    warning = next(r.getMessage() for r in caplog.records if r.levelno == logging.WARNING)
    assert gone.job_name in warning and gone.cell in warning and "\n" not in warning


def test_only_the_azure_backend_declares_its_jobs_mlflow_runs(tracked_transport: FakeAzureMLTransport) -> None:
    """Locally a sweep keeps its own child runs: no workspace tracking, no job runs."""
    assert not isinstance(LocalBackend(), JobsAreMlflowRuns)
    assert tracking_target(LocalBackend(), None) == (None, None)
    assert tracking_target(LocalBackend(), "sqlite:///elsewhere.db") == ("sqlite:///elsewhere.db", None)
