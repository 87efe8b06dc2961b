"""Splitting: deterministic, content-addressed, bounded in memory (chunked), and stable as an input grows."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rjobs.core.errors import InputError
from rjobs.parallel import tables
from rjobs.parallel.batches import split_folder
from rjobs.parallel.tables import split_partitions, split_rows
from tests.parallel.support import write_files


def listed(batch_path: Path) -> list[str]:
    return [Path(line).name for line in batch_path.read_text().splitlines()]


def test_folder_batches_are_content_addressed_and_stable(tmp_path: Path) -> None:
    write_files(tmp_path / "data", {f"f{i}.txt": str(i) for i in range(5)})
    first = split_folder(tmp_path / "data", 2, tmp_path / "b1")
    again = split_folder(tmp_path / "data", 2, tmp_path / "b2")  # no manifest: the same ids from the content alone
    assert [b.batch_id for b in first] == [b.batch_id for b in again]
    assert [listed(b.path) for b in first] == [["f0.txt", "f1.txt"], ["f2.txt", "f3.txt"], ["f4.txt"]]
    assert [b.items for b in first] == [2, 2, 1]


def test_a_changed_file_changes_only_its_batch_and_new_files_form_new_batches(tmp_path: Path) -> None:
    write_files(tmp_path / "data", {f"f{i}.txt": str(i) for i in range(6)})
    before = {b.batch_id for b in split_folder(tmp_path / "data", 2, tmp_path / "b")}
    write_files(tmp_path / "data", {"f3.txt": "changed", "a.txt": "new", "f9.txt": "new"})
    after = split_folder(tmp_path / "data", 2, tmp_path / "b")
    kept = [b for b in after if b.batch_id in before]
    assert [listed(b.path) for b in kept] == [["f0.txt", "f1.txt"], ["f4.txt", "f5.txt"]]
    fresh = sorted(sorted(listed(b.path)) for b in after if b.batch_id not in before)
    assert fresh == [["a.txt", "f2.txt"], ["f3.txt", "f9.txt"]]
    assert listed(after[0].path)[0] == "a.txt"  # input order: by each batch's first file


def test_rows_appended_to_a_table_leave_full_batches_unchanged(tmp_path: Path) -> None:
    pd.DataFrame({"x": range(10)}).to_csv(tmp_path / "t.csv", index=False)
    before = [b.batch_id for b in split_rows(tmp_path / "t.csv", 4, tmp_path / "b")]
    pd.DataFrame({"x": range(13)}).to_csv(tmp_path / "t.csv", index=False)
    after = split_rows(tmp_path / "t.csv", 4, tmp_path / "b")
    assert [b.batch_id for b in after][:2] == before[:2] and after[2].batch_id != before[2]
    assert [b.items for b in after] == [4, 4, 4, 1]


@settings(max_examples=40, deadline=None)
@given(
    values=st.lists(st.text(alphabet='ab ,"\n1', max_size=6), min_size=1, max_size=60),
    size=st.integers(1, 25),
    chunk=st.integers(1, 9),
)
def test_row_batches_hold_every_row_once_in_order_whatever_the_chunking(
    values: list[str], size: int, chunk: int
) -> None:
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        pd.DataFrame({"id": range(len(values)), "v": values}).to_csv(root / "t.csv", index=False)
        original = tables.CHUNK_ROWS
        tables.CHUNK_ROWS = chunk
        try:
            batches = split_rows(root / "t.csv", size, root / "b")
        finally:
            tables.CHUNK_ROWS = original
        whole = split_rows(root / "t.csv", size, root / "b2")
        assert [b.batch_id for b in batches] == [b.batch_id for b in whole]  # chunking never shows in the batches
        frames = [pd.read_csv(b.path, dtype=str, keep_default_na=False) for b in batches]
        assert all(len(f) <= size for f in frames) and [b.items for b in batches] == [len(f) for f in frames]
        joined = pd.concat(frames)
        assert list(joined["id"]) == [str(i) for i in range(len(values))]
        assert list(joined["v"]) == values


def test_parquet_splits_as_the_same_table_in_csv_does(tmp_path: Path) -> None:
    frame = pd.DataFrame({"id": [f"r{i}" for i in range(11)], "x": [str(i * 3) for i in range(11)]})
    frame.to_csv(tmp_path / "t.csv", index=False)
    frame.to_parquet(tmp_path / "t.parquet")
    csv_ids = [b.batch_id for b in split_rows(tmp_path / "t.csv", 4, tmp_path / "a")]
    parquet_ids = [b.batch_id for b in split_rows(tmp_path / "t.parquet", 4, tmp_path / "b")]
    assert csv_ids == parquet_ids


def test_partitions_group_rows_across_chunks_in_first_seen_order(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(tables, "CHUNK_ROWS", 2)
    frame = pd.DataFrame({"k": list("BABCA"), "j": list("xxyxx"), "v": range(5)})
    frame.to_csv(tmp_path / "t.csv", index=False)
    batches = split_partitions(tmp_path / "t.csv", ["k", "j"], tmp_path / "b")
    assert [b.partition_args for b in batches] == [["k=B", "j=x"], ["k=A", "j=x"], ["k=B", "j=y"], ["k=C", "j=x"]]
    assert [list(pd.read_csv(b.path)["v"]) for b in batches] == [[0], [1, 4], [2], [3]]


def test_an_unknown_partition_key_or_table_type_is_an_input_error(tmp_path: Path) -> None:
    pd.DataFrame({"k": [1]}).to_csv(tmp_path / "t.csv", index=False)
    with pytest.raises(InputError, match="partition_keys: names island, not a column"):
        split_partitions(tmp_path / "t.csv", ["island"], tmp_path / "b")
    (tmp_path / "t.json").write_text("{}")
    with pytest.raises(InputError, match="is not a table rjobs can split"):
        split_rows(tmp_path / "t.json", 3, tmp_path / "b")
