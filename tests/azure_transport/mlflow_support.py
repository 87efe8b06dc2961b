"""A sweep run on the fake Azure ML service whose workspace MLflow is modelled, logged as the log-to-mlflow task logs
it, and the store's state read back: shared by the transport tests and the flow-level test of defect 10."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from rjobs.engine.sweep import Sweep
from rjobs.results.tracking import make_client
from rjobs.testing.clock import FakeClock
from rjobs.testing.fake_azureml.client import FakeMLClient
from rjobs.testing.fake_azureml.transport import FakeAzureMLTransport, blob_clients_through
from tests.azure_transport.support import transport_sweep
from tests.reliability.support import write_project

CELLS = 3
GRID = {"seed": list(range(1, CELLS + 1))}
EXPERIMENT = "reliability"  # write_project's experiment_name for Azure


@contextmanager
def tracked_service(tmp_path: Path, clock: FakeClock) -> Iterator[tuple[FakeMLClient, FakeAzureMLTransport]]:
    """A workspace whose MLflow is modelled (a run per job, named as the job, in a sqlite store) and its transport,
    with the SDK's storage clients routed through it."""
    workspace = FakeMLClient(clock, seed=11, store=tmp_path / "service", mlflow_store=tmp_path / "workspace-mlflow.db")
    transport = FakeAzureMLTransport(workspace)
    with blob_clients_through(transport):
        yield workspace, transport


def finished_sweep(transport: FakeAzureMLTransport, workspace: FakeMLClient, tmp_path: Path) -> Sweep:
    """A sweep of CELLS cells run to completion and collected (no smoke job: the experiment holds only cell jobs)."""
    workspace.script("*", log="fake job log\n", artifacts={"outputs/metrics.json": b'{"score": 0.5, "rmse": 2.0}'})
    job = write_project(tmp_path / "project", azure=True, grid=GRID)
    sweep, _ = transport_sweep(transport, job, tmp_path / "results", "tracked", backend_options={"env_smoke": False})
    assert all(result.record.collected for result in sweep.results.values())
    return sweep


def experiment_runs(tracking_uri: str) -> list[Any]:
    client = make_client(tracking_uri)
    experiment = client.get_experiment_by_name(EXPERIMENT)
    return client.search_runs([experiment.experiment_id], max_results=1000)


def store_state(tracking_uri: str) -> dict[str, Any]:
    """Every run of the experiment as stored: params, metrics with their number of points, tags, status."""
    client = make_client(tracking_uri)
    state = {}
    for run in experiment_runs(tracking_uri):
        points = {key: len(client.get_metric_history(run.info.run_id, key)) for key in run.data.metrics}
        state[run.info.run_id] = (run.data.params, run.data.metrics, points, run.data.tags, run.info.status)
    return state


def files_under(*roots: Path) -> set[str]:
    return {str(p) for root in roots if root.exists() for p in root.rglob("*") if p.is_file()}
