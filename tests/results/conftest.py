"""Hand-built ledgers (no R): status.json, outputs with metrics.json and model.rds, summary.csv; one MLflow store."""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from rjobs.engine.ledger import CellRecord, RunLedger


@dataclass(frozen=True)
class Cell:
    """One row of a hand-made sweep: id, params, state and metrics (None: no metrics.json)."""

    cell: str
    params: dict[str, Any]
    state: str = "Completed"
    metrics: dict[str, float] | None = None


def write_cell(ledger: RunLedger, cell: Cell, model: bytes | None = None) -> CellRecord:
    """The cell's record and outputs as the sweep would leave them."""
    completed = cell.state == "Completed"
    record = CellRecord(
        cell=cell.cell,
        params=dict(cell.params),
        state=cell.state,
        attempt=1,
        failures=0 if completed else 1,
        job_name=f"{ledger.run}-{cell.cell}",
        submitted_at=1_700_000_000.0,
        ended_at=1_700_000_010.0,
        duration_s=10.0,
        collected=completed,
        metrics=dict(cell.metrics or {}),
        error="" if completed else "train.R: error: boom",
    )
    outputs = ledger.outputs_dir(cell.cell)
    if completed:
        outputs.mkdir(parents=True, exist_ok=True)
        (outputs / "metrics.json").write_text(json.dumps(cell.metrics or {}), encoding="utf-8")
        (outputs / "model.rds").write_bytes(model if model is not None else f"model of {cell.cell}".encode())
    ledger.save(record)
    return record


def build_ledger(
    root: Path, run: str, cells: Sequence[Cell], grid_keys: Sequence[str] | None = None
) -> tuple[RunLedger, list[CellRecord]]:
    """A finished run folder: one record per cell plus summary.csv in the given grid-key order."""
    ledger = RunLedger(root, run)
    records = [write_cell(ledger, cell) for cell in cells]
    keys = list(grid_keys) if grid_keys is not None else list(dict.fromkeys(k for c in cells for k in c.params))
    ledger.write_summary(records, keys)
    ledger.write_run({"run": run, "backend": "local", "cells": len(records)})
    return ledger, records


def demo_cells(n_seeds: int = 2) -> list[Cell]:
    """A small penguins-like sweep: model x features x seed, rmse/r2 from a fixed formula (no ties)."""
    cells = []
    for m, model in enumerate(("lm", "ranger")):
        for f, features in enumerate(("flipper", "flipper+species", "all")):
            for seed in range(1, n_seeds + 1):
                rmse = 400.0 - 60 * f - 5 * m + 3 * seed
                cells.append(
                    Cell(
                        f"c{m}{f}{seed}",
                        {"model": model, "features": features, "seed": seed},
                        metrics={"rmse": rmse, "r2": 1 - rmse / 1000},
                    )
                )
    return cells


@dataclass(frozen=True)
class Store:
    """One sqlite MLflow store shared by a test session: creating one takes seconds."""

    root: Path
    uri: str
    client: Any


@pytest.fixture(scope="session")
def mlflow_store(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Store]:
    """A results root with its mlflow.db; tests use their own run and model names in it.

    Creating the tables (Alembic migrations) takes 2-10 s, so a migrated empty store is kept in pytest's cache,
    per MLflow version, and copied: later sessions open theirs in a fraction of a second.
    """
    import mlflow

    from rjobs.results.tracking import STORE_FILE, local_tracking_uri, make_client

    root = tmp_path_factory.mktemp("results")
    cache = getattr(request.config, "cache", None)
    template = cache.mkdir(f"mlflow-store-{mlflow.__version__}") / STORE_FILE if cache is not None else None
    if template is not None and template.is_file():
        shutil.copyfile(template, root / STORE_FILE)
    uri = local_tracking_uri(root)
    client = make_client(uri)
    client.search_experiments()  # creates the tables now if the copy was not there, not in the first test
    if template is not None and not template.is_file():
        partial = template.with_suffix(".tmp")
        shutil.copyfile(root / STORE_FILE, partial)
        os.replace(partial, template)
    yield Store(root, uri, client)
