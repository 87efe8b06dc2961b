"""The log-to-mlflow task on the Azure backend over the fake service's transport, in a Prefect flow: each cell's
job run is nested under the sweep's parent run (no copies), and running the task twice changes nothing in MLflow.
Here, not in tests/azure_transport, because a Prefect flow's heartbeat sleeps for real."""

from __future__ import annotations

from pathlib import Path

import pytest

from rjobs.results.tracking import TrackingResult
from rjobs.testing.clock import FakeClock
from tests.azure_transport.mlflow_support import CELLS, finished_sweep, store_state, tracked_service

pytestmark = [pytest.mark.azure_fake, pytest.mark.slow, pytest.mark.usefixtures("prefect_server")]


def test_the_log_to_mlflow_task_nests_the_job_runs_and_twice_changes_nothing(tmp_path: Path) -> None:
    from prefect import flow

    from tasks.tracking import log_to_mlflow

    with tracked_service(tmp_path, FakeClock()) as (workspace, transport):
        sweep = finished_sweep(transport, workspace, tmp_path)
        assert workspace.job_runs is not None
        uri = workspace.job_runs.tracking_uri

        @flow
        def logging_flow() -> TrackingResult:
            return log_to_mlflow(sweep)

        first = logging_flow()
        before = store_state(uri)
        second = logging_flow()

    assert first.tracking_uri == uri and first.artifacts_logged == 0
    assert len(before) == CELLS + 1
    assert set(first.child_run_ids.values()) == {record.job_name for record in sweep.ledger.records()}
    assert (second.parent_run_id, second.child_run_ids) == (first.parent_run_id, first.child_run_ids)
    assert store_state(uri) == before
