"""--pack on the Azure path: each pack one command job of the real MLClient over the fake service, running the
POSIX runner over real R in the job's code snapshot; the runner writes into an rw_mount output that the fake syncs
to its blobs while the job runs, and the orchestrator mirrors progress and finished items from there."""

from __future__ import annotations

import csv
import json
import random
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from rjobs.engine.ledger import RunLedger
from rjobs.engine.monitor import JobMonitor
from rjobs.engine.sweep import Sweep, SweepSettings
from rjobs.packing.engine import PackedSweep
from rjobs.results.mlflow_runs import CELL_TAG, PARENT_TAG
from rjobs.results.tracking_record import log_sweep_of
from rjobs.testing.clock import FakeClock
from rjobs.testing.fake_azureml.client import FakeMLClient
from rjobs.testing.fake_azureml.transport import FakeAzureMLTransport
from tests.azure_transport.mlflow_support import experiment_runs
from tests.azure_transport.support import transport_backend, transport_sweep
from tests.reliability.support import load_sweep, write_project

pytestmark = pytest.mark.r

# ok: outputs at once; flaky: its first attempt fails (a file beside --counter remembers it); gate: waits, 90 s at
# most, until the --gate file exists. Every item copies the mounted data file into its outputs.
ITEM_R = r"""
args <- commandArgs(trailingOnly = TRUE)
value <- function(flag) args[[match(flag, args) + 1]]
seed <- value("--seed"); mode <- value("--mode"); gate <- value("--gate"); counter <- value("--counter")
dir.create("outputs", showWarnings = FALSE)
cat("item", seed, "mode", mode, "\n")
if (mode == "flaky" && !file.exists(paste0(counter, ".", seed))) {
  file.create(paste0(counter, ".", seed)); message("flaky: the first attempt fails"); quit(status = 4)
}
if (mode == "gate") {
  waited <- 0
  while (!file.exists(gate) && waited < 90) { Sys.sleep(0.05); waited <- waited + 0.05 }
  if (!file.exists(gate)) quit(status = 9)
}
writeLines(readLines(value("--data")), "outputs/data_copy.txt")
writeLines(sprintf('{"seed": %s, "score": %s}', seed, as.numeric(seed) / 10), "outputs/metrics.json")
"""
COMMAND = (
    "Rscript item.R --seed ${{inputs.seed}} --mode ${{inputs.mode}} --gate ${{inputs.gate}} "
    "--counter ${{inputs.counter}} --data ${{inputs.data}}"
)
NO_SMOKE = {"env_smoke": False, "r_packages": lambda _code: {}}


@pytest.fixture
def workspace(tmp_path: Path, clock: FakeClock) -> Iterator[FakeMLClient]:
    """The fake service running each job's command for real and in the background, as a cluster node would."""
    fake = FakeMLClient(
        clock,
        seed=11,
        store=tmp_path / "service",
        run_commands=True,
        live_commands=True,
        mlflow_store=tmp_path / "workspace-mlflow.db",
    )
    yield fake
    fake.stop_commands()


def project(root: Path, cells: list[dict[str, object]]) -> Path:
    (root / "rows.txt").parent.mkdir(parents=True, exist_ok=True)
    (root / "rows.txt").write_text("a\nb\n")
    inputs = {
        "seed": 1,
        "mode": "ok",
        "gate": str(root / "gate"),
        "counter": str(root / "flaky"),
        "data": {"type": "uri_file", "path": "rows.txt"},
    }
    return write_project(
        root, script=ITEM_R, script_name="item.R", command=COMMAND, inputs=inputs, grid=cells, azure=True
    )


def packed_sweep(
    transport: FakeAzureMLTransport,
    job: Path,
    results: Path,
    run: str,
    on_progress: Callable[[str], None],
    processes: int = 2,
) -> tuple[Sweep, PackedSweep]:
    """The engine's Sweep on the Azure backend over the transport, its fan-out replaced by one pack; the watch loop
    polls every 15 fake seconds."""
    spec, cells = load_sweep(job)
    backend = transport_backend(transport, job, **NO_SMOKE)
    clock = transport.clock
    monitor = JobMonitor(backend, interval=15.0, clock=clock, sleep=clock.sleep, rng=random.Random(0))
    sweep = Sweep(spec, cells, backend, RunLedger(results, run), SweepSettings(run=run, retries=1), monitor)
    sweep.prepare()
    return sweep, PackedSweep(sweep, packs=1, processes=processes, on_progress=on_progress)


def tree(run_dir: Path, pattern: str) -> dict[str, bytes]:
    return {str(p.relative_to(run_dir)): p.read_bytes() for p in sorted(run_dir.glob(pattern)) if p.is_file()}


def summary_rows(run_dir: Path) -> dict[str, list[str]]:
    with (run_dir / "summary.csv").open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    columns = [c for c in rows[0] if c.startswith(("param.", "metric.")) or c in ("status", "error")]
    return {row["cell"]: [row[c] for c in columns] for row in rows}


def test_a_packed_azure_sweep_is_the_unpacked_one_with_progress_while_it_runs_and_retries_inside(
    transport: FakeAzureMLTransport, workspace: FakeMLClient, tmp_path: Path
) -> None:
    cells: list[dict[str, object]] = [
        {"seed": 1, "mode": "ok"},
        {"seed": 2, "mode": "flaky"},
        {"seed": 3, "mode": "gate"},
    ]
    job = project(tmp_path / "project", cells)
    results = tmp_path / "results"
    seen: list[tuple[str, str]] = []

    def on_progress(line: str) -> None:
        """An item's result while its pack's job still runs is what opens the gate seed 3 waits at: without
        progress during the job, seed 3 would wait out its 90 s and fail."""
        if "[" in line and " Completed " in line:
            seen.append((line, workspace.state_of(line.split()[1])))
            (tmp_path / "project" / "gate").touch()

    sweep, packed = packed_sweep(transport, job, results, "packed", on_progress)
    launched = packed.run()
    assert sweep.finish()["completed"] == 3
    assert len(launched) == 1 and workspace.state_of(launched[0]) == "Completed"
    assert seen and seen[0][1] == "Running", seen  # the first item's result arrived while its pack ran
    flaky = sweep.ledger.load(next(c for c in sweep.cells if sweep.cells[c].params["mode"] == "flaky"))
    assert flaky is not None and (flaky.attempt, flaky.failures, flaky.state) == (2, 1, "Completed")
    creates = [r for r in transport.records if r.route == "jobs.create_or_update"]
    assert len(creates) == 1  # three cells and a retry, one job

    for counter in (tmp_path / "project").glob("flaky.*"):  # the unpacked run's flaky cell fails its first try too
        counter.unlink()
    transport_sweep(transport, job, results, "unpacked", backend_options=NO_SMOKE)
    packed_dir, plain_dir = results / "packed", results / "unpacked"
    assert tree(packed_dir, "*/outputs/**/*") == tree(plain_dir, "*/outputs/**/*")
    assert len(tree(plain_dir, "*/outputs/**/*")) == 2 * 3
    assert tree(packed_dir, "*/std_log.txt") == tree(plain_dir, "*/std_log.txt")
    assert summary_rows(packed_dir) == summary_rows(plain_dir)


def test_a_pack_cancelled_half_way_keeps_its_finished_items_and_the_rerun_packs_only_the_rest(
    transport: FakeAzureMLTransport, workspace: FakeMLClient, tmp_path: Path
) -> None:
    cells: list[dict[str, object]] = [
        {"seed": 1, "mode": "ok"},
        {"seed": 2, "mode": "ok"},
        {"seed": 3, "mode": "gate"},
        {"seed": 4, "mode": "gate"},
    ]
    job = project(tmp_path / "project", cells)
    with job.open("a") as handle:  # a job file asking for several nodes: a pack still runs on one
        handle.write("resources:\n  instance_count: 3\n")
    results = tmp_path / "results"
    holder: list[PackedSweep] = []

    def cancel_after_two(line: str) -> None:
        """All four items start at once (4 processes): the two ok ones end, the gated two wait."""
        if "[2/4]" in line:
            holder[0].cancel_all()

    sweep, packed = packed_sweep(transport, job, results, "halfway", cancel_after_two, processes=4)
    holder.append(packed)
    first = packed.run()
    assert workspace.state_of(first[0]) == "Canceled"
    assert workspace.job_record(first[0])["rest"]["properties"]["resources"]["instanceCount"] == 1
    records = {cell: sweep.ledger.load(cell) for cell in sweep.cells}
    states = {int(str(sweep.cells[c].params["seed"])): r.state for c, r in records.items() if r is not None}
    assert states == {1: "Completed", 2: "Completed", 3: "Canceled", 4: "Canceled"}
    kept = {c: (r.job_name, r.ended_at) for c, r in records.items() if r is not None and r.state == "Completed"}

    (tmp_path / "project" / "gate").touch()
    sweep, packed = packed_sweep(transport, job, results, "halfway", lambda _line: None)
    second = packed.run()
    assert sweep.finish()["completed"] == 4
    assert len(second) == 1 and second[0] != first[0]
    items = (results / "halfway" / ".packs" / ".jobs" / second[0] / "items.txt").read_text().split("\n")
    assert sorted(int(str(sweep.cells[line.split()[0]].params["seed"])) for line in items if line) == [3, 4]
    for cell, (name, ended) in kept.items():
        record = sweep.ledger.load(cell)
        assert record is not None and (record.job_name, record.ended_at) == (name, ended)


def test_cells_of_a_packed_azure_sweep_are_logged_as_runs_of_their_own_under_the_sweep(
    transport: FakeAzureMLTransport, workspace: FakeMLClient, tmp_path: Path
) -> None:
    """The pack is the Azure ML job (and the MLflow run the service made for it); a packed cell has no job run of
    its own to nest, so it is logged as locally: a child run with its params, metrics and outputs."""
    cells: list[dict[str, object]] = [{"seed": 1, "mode": "ok"}, {"seed": 2, "mode": "ok"}]
    job = project(tmp_path / "project", cells)
    sweep, packed = packed_sweep(transport, job, tmp_path / "results", "packed-mlflow", lambda _line: None)
    (launched,) = packed.run()
    assert sweep.finish()["completed"] == 2

    result, logged = log_sweep_of(sweep)

    assert logged and result.missing_job_runs == []
    assert (result.created, result.artifacts_logged) == (1 + 2, 2)  # the parent and a run per cell; their outputs
    runs = {run.info.run_id: run for run in experiment_runs(result.tracking_uri)}
    children = [run for run in runs.values() if run.data.tags.get(PARENT_TAG) == result.parent_run_id]
    assert sorted(run.data.tags[CELL_TAG] for run in children) == sorted(sweep.cells)
    assert sorted(run.data.metrics["score"] for run in children) == [0.1, 0.2]
    assert launched in runs and PARENT_TAG not in runs[launched].data.tags  # the pack's own job run, left as it is
    assert set(runs) == {result.parent_run_id, launched, *(run.info.run_id for run in children)}


@pytest.mark.usefixtures("prefect_server")
def test_the_train_command_runs_a_packed_azure_sweep_end_to_end(
    transport: FakeAzureMLTransport, workspace: FakeMLClient, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`python -m flows.train --backend azureml --pack 1`: the CLI, the flow and its tasks over the real MLClient
    and the fake service. Three cells and a retry are one job, the outputs are those of the items, and the re-run
    submits nothing. Flow-run heartbeats are off, as with the CLI's own temporary server (their thread sleeps real
    seconds); the service's clock moves 15 s per poll."""
    from flows.temporary_server import without_heartbeats
    from flows.train import main as train_main
    from rjobs.backends.azureml import backend as azure_backend
    from rjobs.backends.azureml import workspace as azure_workspace
    from rjobs.backends.azureml.workspace import SDK_RETRY
    from rjobs.testing.fake_azureml.transport import fake_ml_client

    backend_class = azure_backend.AzureMLBackend

    def make_ml_client(*_args: object, **_kwargs: object) -> object:
        return fake_ml_client(transport, show_progress=False, **SDK_RETRY)

    def backend_over_transport(*args: Any, **kwargs: Any) -> Any:
        """The backend the flow builds, its storage clients sent through the transport too."""
        return backend_class(*args, storage_options={"transport": transport, **SDK_RETRY}, **kwargs)

    monkeypatch.setattr(azure_workspace, "make_ml_client", make_ml_client)
    monkeypatch.setattr(azure_backend, "AzureMLBackend", backend_over_transport)
    workspace.advance_per_call = 15.0
    cells: list[dict[str, object]] = [
        {"seed": 1, "mode": "ok"},
        {"seed": 2, "mode": "flaky"},
        {"seed": 3, "mode": "ok"},
    ]
    job = project(tmp_path / "project", cells)
    results = tmp_path / "results"
    argv = ["--job", str(job), "--backend", "azureml", "--results", str(results), "--run-name", "e2e"]
    argv += ["--pack", "1", "--pack-processes", "2", "--retries", "1", "--poll-interval", "0.05", "--no-mlflow"]

    with without_heartbeats():
        assert train_main(argv) == 0
    created = [r.url.split("?")[0].rsplit("/", 1)[-1] for r in transport.records if r.route == "jobs.create_or_update"]
    assert [name.split("-")[:2] for name in created] == [["rjobs", "envcheck"], ["e2e", "pack"]]  # smoke job, pack
    with (results / "e2e" / "summary.csv").open(newline="") as handle:
        attempts = {row["param.mode"] + row["param.seed"]: row["attempt"] for row in csv.DictReader(handle)}
    assert attempts == {"ok1": "1", "flaky2": "2", "ok3": "1"}  # the retry ran inside the pack
    rows = summary_rows(results / "e2e")
    assert sorted(row[0] for row in rows.values()) == ["Completed"] * 3
    for cell in rows:
        outputs = results / "e2e" / cell / "outputs"
        assert (outputs / "data_copy.txt").read_text() == "a\nb\n"
        assert json.loads((outputs / "metrics.json").read_text())["seed"] in (1, 2, 3)

    before = len(transport.records)
    with without_heartbeats():
        assert train_main(argv) == 0
    assert [r for r in transport.records[before:] if r.route == "jobs.create_or_update"] == []
    assert json.loads((results / "e2e" / "run.json").read_text())["reused"] == 3
