"""The project's AzureMLBackend through one small sweep of the engine, on the real MLClient over the fake service:
every cell completes and is collected, and the requests it cost are counted per cell at the transport."""

from __future__ import annotations

from pathlib import Path

from rjobs.core.states import JobState
from rjobs.testing.fake_azureml.client import FakeMLClient
from rjobs.testing.fake_azureml.transport import FakeAzureMLTransport
from tests.azure_transport.support import Phases, transport_sweep
from tests.reliability.support import write_project

CELLS = 4
GRID = {"seed": list(range(1, CELLS + 1))}


def test_a_small_sweep_completes_and_costs_a_counted_number_of_requests_per_cell(
    transport: FakeAzureMLTransport, workspace: FakeMLClient, tmp_path: Path, capsys
) -> None:
    workspace.script("*", log="fake job log\n", artifacts={"outputs/metrics.json": b'{"score": 0.5}'})
    job = write_project(tmp_path / "project", azure=True, grid=GRID)
    sweep, phases = transport_sweep(transport, job, tmp_path / "results", "small")
    states = {cell: result.record.state for cell, result in sweep.results.items()}
    assert set(states.values()) == {JobState.COMPLETED.value} and len(states) == CELLS
    assert all(result.record.collected for result in sweep.results.values())
    assert all(result.record.metrics == {"score": 0.5} for result in sweep.results.values())
    cells = Phases.routes(phases.cells)
    assert cells["jobs.create_or_update"] == CELLS
    assert phases.control_plane(phases.cells) / CELLS < 20
    with capsys.disabled():
        control = phases.control_plane(phases.cells)
        print(
            f"\n{CELLS} cells over the transport: setup {len(phases.setup)} requests "
            f"({phases.control_plane(phases.setup)} control plane) {dict(Phases.routes(phases.setup))}; "
            f"cells {len(phases.cells)} requests, {control / CELLS:.2f} control-plane per cell "
            f"{dict(Phases.routes(phases.cells, 'arm') + Phases.routes(phases.cells, 'api'))}; "
            f"blob {dict(Phases.routes(phases.cells, 'blob'))}"
        )
