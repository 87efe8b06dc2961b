"""Two flows on one run name log the sweep to MLflow at the same moment: the store ends with one parent run and one
child run per cell, and neither logger fails (a lock beside the ledger, and runs found by tag before any is created).
"""

from __future__ import annotations

import subprocess
import sys
import threading
from typing import Any

import pytest

from rjobs.engine.ledger import RunLedger
from rjobs.results.tracking import log_sweep, make_client
from rjobs.results.tracking_record import log_sweep_if_changed
from tests.reliability.support import OUTCOME_S, wait_until
from tests.results.conftest import Store, build_ledger, demo_cells

LOGGER = """
import sys, time
from pathlib import Path
import mlflow
from rjobs.engine.ledger import RunLedger
from rjobs.results.tracking_record import log_sweep_if_changed

root, run, start, ready = sys.argv[1:5]
ledger = RunLedger(root, run)
records = ledger.records()
Path(ready).touch()
while not Path(start).exists():
    time.sleep(0.001)
log_sweep_if_changed(ledger, records, experiment="concurrent", backend="local", params={"data": "d.csv"})
"""


def sweep_runs(store: Store, run: str) -> tuple[list[Any], dict[str, int]]:
    """The sweep's parent runs, and its child runs counted per cell, in every experiment of the store."""
    experiments = [e.experiment_id for e in store.client.search_experiments()]
    runs = store.client.search_runs(experiments, f"tags.`rjobs.run` = '{run}'", max_results=1000)
    parents = [r for r in runs if r.data.tags.get("rjobs.kind") == "sweep"]
    children: dict[str, int] = {}
    for r in runs:
        if r.data.tags.get("rjobs.kind") == "cell":
            children[r.data.tags["rjobs.cell"]] = children.get(r.data.tags["rjobs.cell"], 0) + 1
    return parents, children


@pytest.mark.slow
def test_two_processes_logging_one_sweep_make_one_parent_and_one_child_per_cell(mlflow_store: Store) -> None:
    run = "concurrent-processes"
    ledger, records = build_ledger(mlflow_store.root, run, demo_cells(1))
    start = mlflow_store.root / f"{run}.start"
    ready = [mlflow_store.root / f"{run}.ready{n}" for n in range(2)]
    loggers = [
        subprocess.Popen(
            [sys.executable, "-c", LOGGER, str(mlflow_store.root), run, str(start), str(flag)],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for flag in ready
    ]
    assert wait_until(lambda: all(flag.exists() for flag in ready), OUTCOME_S)  # both at the start line
    start.touch()
    outputs = [logger.communicate(timeout=OUTCOME_S * 2)[0] for logger in loggers]

    assert [logger.returncode for logger in loggers] == [0, 0], outputs
    assert not any("IntegrityError" in output or "Traceback" in output for output in outputs), outputs
    parents, children = sweep_runs(mlflow_store, run)
    assert len(parents) == 1
    assert children == {r.cell: 1 for r in records}
    assert (ledger.run_dir / "mlflow.lock").is_file()


def test_two_threads_with_their_own_clients_make_one_parent_and_one_child_per_cell(mlflow_store: Store) -> None:
    run = "concurrent-threads"
    ledger, records = build_ledger(mlflow_store.root, run, demo_cells(1))
    barrier = threading.Barrier(3)
    errors: list[BaseException] = []

    def log() -> None:
        client = make_client(mlflow_store.uri)
        barrier.wait(timeout=OUTCOME_S)
        try:
            log_sweep(RunLedger(ledger.root, run), records, experiment="concurrent", backend="local", client=client)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=log) for _ in range(2)]
    for thread in threads:
        thread.start()
    barrier.wait(timeout=OUTCOME_S)
    for thread in threads:
        thread.join(timeout=OUTCOME_S)
    assert not any(thread.is_alive() for thread in threads)
    assert errors == []
    parents, children = sweep_runs(mlflow_store, run)
    assert len(parents) == 1
    assert children == {r.cell: 1 for r in records}


def test_the_second_of_two_sequential_logs_of_the_flow_has_nothing_to_do(mlflow_store: Store) -> None:
    ledger, records = build_ledger(mlflow_store.root, "concurrent-again", demo_cells(1))
    first, logged = log_sweep_if_changed(ledger, records, experiment="concurrent", backend="local")
    second, again = log_sweep_if_changed(ledger, records, experiment="concurrent", backend="local")
    assert (logged, again) == (True, False)
    assert second.parent_run_id == first.parent_run_id
