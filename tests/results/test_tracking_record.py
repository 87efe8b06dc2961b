"""rjobs.results.tracking_record: a re-run with nothing new leaves MLflow alone; anything that log_sweep writes from,
changed, logs again; a failed log is never recorded as done."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from rjobs.engine.ledger import CellRecord, RunLedger
from rjobs.results import tracking_record
from rjobs.results.tracking_record import log_sweep_if_changed, record_path
from tests.results.conftest import Store, build_ledger, demo_cells

Change = Callable[[RunLedger, list[CellRecord]], dict[str, Any]]


ARGUMENTS: dict[str, Any] = {"experiment": "record-exp", "backend": "local", "params": {"data": "d.csv"}}


def logged_sweep(mlflow_store: Store, run: str) -> tuple[RunLedger, list[CellRecord], Any]:
    """A sweep logged once through log_sweep_if_changed."""
    ledger, records = build_ledger(mlflow_store.root, run, demo_cells(1))
    first, logged = log_sweep_if_changed(ledger, records, **ARGUMENTS)
    assert logged
    return ledger, records, first


def test_unchanged_rerun_returns_the_recorded_runs_without_logging(
    mlflow_store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    ledger, records, first = logged_sweep(mlflow_store, "record-a")
    saved = json.loads(record_path(ledger).read_text())
    assert saved["parent_run_id"] == first.parent_run_id and saved["tracking_uri"] == mlflow_store.uri

    def refuse(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("logged again although nothing changed")

    monkeypatch.setattr(tracking_record, "log_sweep", refuse)
    again, logged = log_sweep_if_changed(ledger, ledger.records(), **ARGUMENTS)
    assert not logged
    assert (again.tracking_uri, again.experiment_id, again.parent_run_id) == (
        first.tracking_uri,
        first.experiment_id,
        first.parent_run_id,
    )
    assert again.child_run_ids == first.child_run_ids and len(again.child_run_ids) == len(records)


def _metric(ledger: RunLedger, records: list[CellRecord]) -> dict[str, Any]:
    record = records[0]
    record.metrics = {**record.metrics, "rmse": 1.0}
    ledger.save(record)
    return {}


def _output(ledger: RunLedger, records: list[CellRecord]) -> dict[str, Any]:
    (ledger.outputs_dir(records[0].cell) / "extra.csv").write_text("a\n1\n")
    return {}


def _store_gone(ledger: RunLedger, records: list[CellRecord]) -> dict[str, Any]:
    other = ledger.root.parent / "elsewhere"
    other.mkdir(exist_ok=True)
    return {"tracking_uri": f"sqlite:///{other / 'mlflow.db'}"}


def _record_corrupt(ledger: RunLedger, records: list[CellRecord]) -> dict[str, Any]:
    record_path(ledger).write_text("{not json")
    return {}


CHANGES: list[tuple[str, Change]] = [
    ("a metric", _metric),
    ("an output file", _output),
    ("the fixed params", lambda ledger, records: {"params": {"data": "other.csv"}}),
    ("the experiment", lambda ledger, records: {"experiment": "record-exp-2"}),
    ("the tracking store", _store_gone),
    ("a corrupt record", _record_corrupt),
]


@pytest.mark.parametrize(("case", "change"), CHANGES, ids=[c[0] for c in CHANGES])
def test_any_change_logs_again(mlflow_store: Store, case: str, change: Change, monkeypatch: pytest.MonkeyPatch) -> None:
    ledger, records, _ = logged_sweep(mlflow_store, "record-" + case.replace(" ", "-"))
    arguments = {**ARGUMENTS, **change(ledger, records)}
    calls: list[str] = []

    def counting(*args: Any, **kwargs: Any) -> Any:
        calls.append(kwargs["tracking_uri"])
        return real(*args, **kwargs)

    real = tracking_record.log_sweep
    monkeypatch.setattr(tracking_record, "log_sweep", counting)
    _, logged = log_sweep_if_changed(ledger, ledger.records(), **arguments)
    assert logged and len(calls) == 1


def test_deleted_local_store_logs_again(tmp_path: Path) -> None:
    """The record names a sqlite store that is gone (results folder cleaned): MLflow must get the sweep again."""
    ledger, records = build_ledger(tmp_path, "record-gone", demo_cells(1))
    store = tmp_path / "mlflow.db"
    uri = f"sqlite:///{store}"
    record_path(ledger).parent.mkdir(parents=True, exist_ok=True)
    digest = tracking_record.fingerprint(ledger, records, "x", "local", {})
    saved = {"fingerprint": digest, "tracking_uri": uri, "experiment_id": "1", "parent_run_id": "p"}
    saved["child_run_ids"] = {}
    record_path(ledger).write_text(json.dumps(saved))
    assert tracking_record.unchanged_since_last_log(ledger, uri, digest) is None
    store.write_bytes(b"")
    assert tracking_record.unchanged_since_last_log(ledger, uri, digest) is not None


def test_a_failed_log_is_not_recorded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    ledger, records = build_ledger(tmp_path, "record-fail", demo_cells(1))

    def fail(*args: Any, **kwargs: Any) -> None:
        raise ConnectionError("tracking server went away")

    monkeypatch.setattr(tracking_record, "log_sweep", fail)
    with pytest.raises(ConnectionError):
        log_sweep_if_changed(ledger, records, experiment="x", backend="local")
    assert not record_path(ledger).exists()
