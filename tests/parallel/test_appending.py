"""append_row_to: rows of every batch in order, the header once, a batch column, columns aligned by name."""

from __future__ import annotations

import csv
from pathlib import Path

from rjobs.parallel.appending import append_rows, count_lines


def rows_file(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_rows_are_appended_in_order_with_the_header_once(tmp_path: Path) -> None:
    a = rows_file(tmp_path / "a" / "rows.csv", 'id,p\n1,"x, y"\n2,b\n')
    b = rows_file(tmp_path / "b" / "rows.csv", "id,p\n3,c\n")
    counts = append_rows([("bA", a), ("bB", b), ("bC", tmp_path / "missing.csv")], tmp_path / "out.csv")
    assert counts == {"bA": 2, "bB": 1, "bC": 0}
    with (tmp_path / "out.csv").open(newline="") as handle:
        assert list(csv.reader(handle)) == [
            ["batch", "id", "p"],
            ["bA", "1", "x, y"],
            ["bA", "2", "b"],
            ["bB", "3", "c"],
        ]


def test_a_batch_with_other_columns_is_aligned_to_the_first_header(tmp_path: Path) -> None:
    a = rows_file(tmp_path / "a.csv", "id,p\n1,a\n")
    b = rows_file(tmp_path / "b.csv", "p,extra\nb,zz\n")
    append_rows([("bA", a), ("bB", b)], tmp_path / "out.csv")
    assert (tmp_path / "out.csv").read_text() == "batch,id,p\nbA,1,a\nbB,,b\n"


def test_count_lines_ignores_blank_lines_and_missing_files(tmp_path: Path) -> None:
    assert count_lines(rows_file(tmp_path / "f.txt", "a\n\n b\n")) == 2
    assert count_lines(tmp_path / "none.txt") == 0
