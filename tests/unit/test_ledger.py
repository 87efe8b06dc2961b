"""rjobs.engine.ledger: atomic writes, cell records, summary.csv, metrics.json and log tails."""

from __future__ import annotations

import csv
import io
import json
import math
import threading
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rjobs.core.files import atomic_write_json, atomic_write_text, finite, tail_text
from rjobs.core.states import JobState
from rjobs.engine.ledger import CellRecord, RunLedger, read_metrics

# --- atomic writes --------------------------------------------------------------------------------


def test_atomic_write_replaces_and_leaves_no_temp_files(tmp_path: Path) -> None:
    target = tmp_path / "deep" / "status.json"
    for n in range(20):
        atomic_write_text(target, f"version {n}\n")
    assert target.read_text(encoding="utf-8") == "version 19\n"
    assert [p.name for p in target.parent.iterdir()] == ["status.json"]


def test_failed_write_keeps_the_old_content_and_no_temp_file(tmp_path: Path) -> None:
    target = tmp_path / "summary.csv"
    atomic_write_text(target, "old\n")
    with pytest.raises(UnicodeEncodeError):
        atomic_write_text(target, "half \ud800 written")  # a lone surrogate cannot be encoded
    assert target.read_text(encoding="utf-8") == "old\n"
    assert [p.name for p in tmp_path.iterdir()] == ["summary.csv"]


def test_atomic_write_keeps_text_exactly(tmp_path: Path) -> None:
    target = tmp_path / "t.txt"
    text = "a\r\nb\nc é 你好"
    atomic_write_text(target, text)
    assert target.read_bytes() == text.encode("utf-8")


def test_reader_never_sees_a_partial_file(tmp_path: Path) -> None:
    target = tmp_path / "status.json"
    atomic_write_json(target, {"n": -1, "pad": ""})
    writes, stop = 150, threading.Event()
    reads: list[int] = []
    bad: list[str] = []

    def reader() -> None:
        while not stop.is_set():
            text = target.read_text(encoding="utf-8")
            try:
                reads.append(json.loads(text)["n"])
            except ValueError:
                bad.append(text[:80])

    thread = threading.Thread(target=reader, daemon=True)
    thread.start()
    try:
        for n in range(writes):
            atomic_write_json(target, {"n": n, "pad": "x" * (50_000 + 997 * n % 40_000)})  # sizes vary
    finally:
        stop.set()
        thread.join(timeout=10)
    assert bad == []
    assert reads, "the reader never ran"
    assert reads == sorted(reads)  # old or new, never going back
    assert json.loads(target.read_text(encoding="utf-8"))["n"] == writes - 1
    assert [p.name for p in tmp_path.iterdir()] == ["status.json"]


# --- cell records ---------------------------------------------------------------------------------


def full_record(cell: str = "cfbe47f6d8") -> CellRecord:
    return CellRecord(
        cell=cell,
        params={"seed": 1, "model": "lm", "test_fraction": 0.25, "flag": True, "text": "é 你好"},
        state=JobState.FAILED.value,
        attempt=2,
        failures=1,
        job_name=f"sweep-{cell}-r2",
        handle={"job_name": f"sweep-{cell}-r2", "backend": "local", "data": {"pid": 42}},
        submitted_at=1700000000.5,
        ended_at=1700000042.25,
        duration_s=41.75,
        collected=True,
        metrics={"rmse": 312.5, "r2": 0.84},
        metrics_error="",
        error="Error in fit: boom\nExecution halted",
        url="https://ml.azure.com/runs/x",
    )


def test_record_round_trip(tmp_path: Path) -> None:
    ledger = RunLedger(tmp_path / "results", "sweep")
    record = full_record()
    ledger.save(record)
    assert ledger.status_path(record.cell) == tmp_path / "results" / "sweep" / record.cell / "status.json"
    loaded = ledger.load(record.cell)
    assert loaded == record
    assert loaded is not None and loaded.job_state is JobState.FAILED
    assert type(loaded.params["seed"]) is int and type(loaded.params["flag"]) is bool


def test_default_record_round_trip(tmp_path: Path) -> None:
    ledger = RunLedger(tmp_path, "sweep")
    ledger.save(CellRecord(cell="c1", params={}))
    loaded = ledger.load("c1")
    assert loaded == CellRecord(cell="c1", params={})
    assert loaded is not None and loaded.job_state is JobState.ABSENT


def test_load_ignores_unknown_keys(tmp_path: Path) -> None:
    ledger = RunLedger(tmp_path, "sweep")
    ledger.save(full_record("c1"))
    raw = json.loads(ledger.status_path("c1").read_text(encoding="utf-8"))
    ledger.status_path("c1").write_text(json.dumps({**raw, "added_later": 1}), encoding="utf-8")
    assert ledger.load("c1") == full_record("c1")


def test_records_in_cell_order_skipping_folders_without_status(tmp_path: Path) -> None:
    ledger = RunLedger(tmp_path, "sweep")
    for cell in ["cb", "ca", "cc"]:
        ledger.save(CellRecord(cell=cell, params={"k": cell}))
    (ledger.run_dir / "cz").mkdir()
    atomic_write_text(ledger.run_dir / "summary.csv", "x\n")
    assert [r.cell for r in ledger.records()] == ["ca", "cb", "cc"]
    assert RunLedger(tmp_path, "no-such-run").records() == []


UNREADABLE: list[Any] = [
    pytest.param(b"", id="empty"),
    pytest.param(b'{"cell": "c1", "params": {', id="truncated"),
    pytest.param(b"\xff\xfe\x00garbage", id="binary"),
    pytest.param(None, id="directory"),
    pytest.param(b"null", id="json-null"),
    pytest.param(b"[1, 2]", id="json-list"),
    pytest.param(b"{}", id="no-fields"),
]


@pytest.mark.parametrize("content", UNREADABLE)
def test_unreadable_status_is_no_record(tmp_path: Path, content: bytes | None) -> None:
    ledger = RunLedger(tmp_path, "sweep")
    path = ledger.status_path("c1")
    if content is None:
        path.mkdir(parents=True)
    else:
        path.parent.mkdir(parents=True)
        path.write_bytes(content)
    assert ledger.load("c1") is None
    assert ledger.load("missing") is None


# --- summary.csv ----------------------------------------------------------------------------------


def read_csv(path: Path) -> list[list[str]]:
    return list(csv.reader(io.StringIO(path.read_text(encoding="utf-8"))))


def test_summary_columns_and_rows(tmp_path: Path) -> None:
    ledger = RunLedger(tmp_path, "sweep")
    failed = full_record("c2")
    failed.error = 'line 1\nline 2\nline 3, with comma\nline "4"\n'
    done = CellRecord(
        cell="c1",
        params={"model": "ranger", "seed": 2, "flag": False},
        state="Completed",
        attempt=1,
        job_name="sweep-c1",
        duration_s=12.3456,
        metrics={"rmse": 300.0, "mae": 250.5},
    )
    path = ledger.write_summary([done, failed], ["model", "seed", "flag"])

    assert path == tmp_path / "sweep" / "summary.csv"
    rows = read_csv(path)
    assert rows[0] == [
        "cell", "status", "attempt", "job_name", "duration_s",
        "param.model", "param.seed", "param.flag", "metric.mae", "metric.r2", "metric.rmse", "reused_from", "error",
    ]  # fmt: skip
    assert rows[1] == [
        "c1", "Completed", "1", "sweep-c1", "12.346", "ranger", "2", "false", "250.5", "", "300.0", "", "",
    ]  # fmt: skip
    assert rows[2] == [
        "c2", "Failed", "2", "sweep-c2-r2", "41.750", "lm", "1", "true", "", "0.84", "312.5", "",
        'line 2 | line 3, with comma | line "4"',
    ]  # fmt: skip
    assert len(rows) == 3


def test_summary_without_records(tmp_path: Path) -> None:
    rows = read_csv(RunLedger(tmp_path, "sweep").write_summary([], ["seed"]))
    assert rows == [["cell", "status", "attempt", "job_name", "duration_s", "param.seed", "reused_from", "error"]]


def test_write_run(tmp_path: Path) -> None:
    ledger = RunLedger(tmp_path, "sweep")
    path = ledger.write_run({"run": "sweep", "cells": 12})
    assert json.loads(path.read_text(encoding="utf-8")) == {"run": "sweep", "cells": 12}


# --- metrics.json ---------------------------------------------------------------------------------

METRICS: list[Any] = [
    pytest.param('{"rmse": 312.5, "r2": 0.84, "n": 100}', {"rmse": 312.5, "r2": 0.84, "n": 100.0}, "", id="flat"),
    pytest.param('{"rmse": [312.5], "n": [100]}', {"rmse": 312.5, "n": 100.0}, "", id="jsonlite-boxed"),
    pytest.param("{}", {}, "", id="empty-object"),
    pytest.param('{"m": {"rmse": 1}}', {}, "is not flat name -> number ('m' is dict)", id="nested"),
    pytest.param('{"rmse": 1, "model": "lm"}', {}, "('model' is str)", id="string"),
    pytest.param('{"ok": true}', {}, "('ok' is bool)", id="bool"),
    pytest.param('{"r2": null, "rmse": 1.5}', {"rmse": 1.5}, "", id="null-alone-left-out"),
    pytest.param('{"r2": [null], "n": 3}', {"n": 3.0}, "", id="boxed-null-left-out"),
    pytest.param('{"a": "NA", "b": "NaN", "c": "Inf", "d": "-Inf", "e": 2}', {"e": 2.0}, "", id="jsonlite-na-strings"),
    pytest.param('{"r2": "NA ", "rmse": 1}', {}, "('r2' is str)", id="other-text"),
    pytest.param('{"r": [1, 2]}', {}, "('r' is list)", id="long-list"),
    pytest.param("[1, 2]", {}, "is not a JSON object", id="array"),
    pytest.param('{"rmse": 1', {}, "is not valid JSON", id="invalid-json"),
    pytest.param(None, {}, "no metrics.json in outputs", id="missing"),
]


@pytest.mark.parametrize(("text", "metrics", "reason"), METRICS)
def test_read_metrics(tmp_path: Path, text: str | None, metrics: dict[str, float], reason: str) -> None:
    if text is not None:
        (tmp_path / "metrics.json").write_text(text, encoding="utf-8")
    found, why = read_metrics(tmp_path)
    assert found == metrics
    assert all(type(v) is float for v in found.values())
    if reason:
        assert reason in why
    else:
        assert why == ""


# --- log tails ------------------------------------------------------------------------------------


class CountingFile:
    """Wraps a binary file and counts the bytes read from it."""

    def __init__(self, raw: Any, counter: list[int]) -> None:
        self.raw, self.counter = raw, counter

    def read(self, size: int = -1) -> bytes:
        data = self.raw.read(size)
        self.counter.append(len(data))
        return data

    def __getattr__(self, name: str) -> Any:
        return getattr(self.raw, name)

    def __enter__(self) -> CountingFile:
        return self

    def __exit__(self, *exc: object) -> None:
        self.raw.close()


def test_tail_of_a_50_mb_log_reads_only_the_end(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    log = tmp_path / "std_log.txt"
    block = b"".join(b"noise %07d the quick brown fox\n" % n for n in range(30_000))  # ~1 MB
    with log.open("wb") as handle:
        for _ in range(50):
            handle.write(block)
        handle.write(b"".join(b"final line %d\n" % n for n in range(30)))
    assert log.stat().st_size > 50_000_000

    counter: list[int] = []
    real_open = Path.open
    monkeypatch.setattr(Path, "open", lambda self, *a, **k: CountingFile(real_open(self, *a, **k), counter))
    tail = tail_text(log)

    assert tail == "\n".join(f"final line {n}" for n in range(10, 30))
    assert sum(counter) <= 16384


@pytest.mark.parametrize(
    ("content", "kwargs", "expected"),
    [
        (b"a\nb\nc\n", {}, "a\nb\nc"),
        (b"a\nb\nc", {"max_lines": 2}, "b\nc"),
        (b"", {}, ""),
        (b"x" * 100 + b"\nkept 1\nkept 2\n", {"max_bytes": 20}, "kept 1\nkept 2"),  # partial first line dropped
        (b"\xff\xfeok\n", {}, "\ufffd\ufffdok"),
    ],
)
def test_tail_text(tmp_path: Path, content: bytes, kwargs: dict[str, int], expected: str) -> None:
    log = tmp_path / "log.txt"
    log.write_bytes(content)
    assert tail_text(log, **kwargs) == expected


def test_tail_of_a_missing_log_is_empty(tmp_path: Path) -> None:
    assert tail_text(tmp_path / "nope.txt") == ""


# --- strict JSON -----------------------------------------------------------------------------------------


def strict_loads(text: str) -> Any:
    """json.loads that refuses what only Python's json writes: bare NaN, Infinity and -Infinity."""

    def refuse(constant: str) -> None:
        raise ValueError(f"not strict JSON: bare {constant}")

    return json.loads(text, parse_constant=refuse)


def test_a_nan_metric_is_null_in_status_json_and_nan_again_when_read(tmp_path: Path) -> None:
    ledger = RunLedger(tmp_path, "sweep")
    record = CellRecord(cell="c1", params={"seed": "1"}, metrics={"rmse": math.nan, "r2": math.inf, "mae": 1.5})
    ledger.save(record)
    raw = strict_loads(ledger.status_path("c1").read_text(encoding="utf-8"))
    assert raw["metrics"] == {"rmse": None, "r2": None, "mae": 1.5}
    loaded = ledger.load("c1")
    assert loaded is not None and math.isnan(loaded.metrics["rmse"]) and math.isnan(loaded.metrics["r2"])
    assert loaded.metrics["mae"] == 1.5


def test_run_json_is_strict(tmp_path: Path) -> None:
    path = RunLedger(tmp_path, "sweep").write_run({"best": {"rmse": math.nan}, "scores": [math.inf, 1.0]})
    assert strict_loads(path.read_text(encoding="utf-8")) == {"best": {"rmse": None}, "scores": [None, 1.0]}


JSON_LEAVES = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=10))
JSON_DATA = st.recursive(
    JSON_LEAVES,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=5), inner, max_size=4),
    max_leaves=20,
)


@settings(max_examples=200, deadline=None, database=None)
@given(JSON_DATA)
def test_property_every_json_written_parses_strictly(tmp_path_factory: pytest.TempPathFactory, data: Any) -> None:
    path = tmp_path_factory.mktemp("json") / "data.json"
    atomic_write_json(path, data)
    assert strict_loads(path.read_text(encoding="utf-8")) == json.loads(json.dumps(finite(data)))


@settings(max_examples=200, deadline=None, database=None)
@given(
    st.dictionaries(st.text(min_size=1, max_size=8), st.floats(), max_size=5),
    st.dictionaries(st.sampled_from(["seed", "alpha", "model"]), st.text(max_size=8), max_size=3),
)
def test_property_status_json_is_strict_and_round_trips(
    tmp_path_factory: pytest.TempPathFactory, metrics: dict[str, float], params: dict[str, str]
) -> None:
    ledger = RunLedger(tmp_path_factory.mktemp("ledger"), "sweep")
    ledger.save(CellRecord(cell="c1", params=params, metrics=metrics))
    strict_loads(ledger.status_path("c1").read_text(encoding="utf-8"))
    loaded = ledger.load("c1")
    assert loaded is not None and loaded.params == params
    assert set(loaded.metrics) == set(metrics)
    for name, value in metrics.items():
        assert loaded.metrics[name] == value if math.isfinite(value) else math.isnan(loaded.metrics[name])
