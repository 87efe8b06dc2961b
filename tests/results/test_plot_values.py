"""Plots read params as the texts R received: numbers-as-written on a numeric axis labelled as written, the rest
as categories in grid order."""

from __future__ import annotations

from pathlib import Path

import pytest

from rjobs.results.plots import build_figure, grid_order
from tests.results.conftest import Cell, build_ledger


def cells_of(key: str, texts: list[str]) -> list[Cell]:
    return [Cell(f"c{n}", {key: text}, metrics={"rmse": 10.0 - n}) for n, text in enumerate(texts)]


@pytest.mark.parametrize(
    ("texts", "ticks", "labels"),
    [
        (["010", "2", "1e-1"], [0.1, 2.0, 10.0], ["1e-1", "2", "010"]),
        (["0.5", ".25", "1"], [0.25, 0.5, 1.0], [".25", "0.5", "1"]),
    ],
)
def test_texts_that_read_as_numbers_are_a_numeric_axis_labelled_as_written(
    tmp_path: Path, texts: list[str], ticks: list[float], labels: list[str]
) -> None:
    ledger, records = build_ledger(tmp_path, "numbers", cells_of("alpha", texts))
    fig = build_figure("numbers", records, "rmse:min", grid_order(ledger, records))
    (ax,) = fig.axes
    assert [float(t) for t in ax.get_xticks()] == ticks
    assert [t.get_text() for t in ax.get_xticklabels()] == labels


def test_texts_yaml_11_would_type_stay_categories_in_grid_order(tmp_path: Path) -> None:
    texts = ["0x10", "1_000", "yes", ".nan", "2024-01-01"]
    ledger, records = build_ledger(tmp_path, "words", cells_of("alpha", texts))
    fig = build_figure("words", records, "rmse:min", grid_order(ledger, records))
    (ax,) = fig.axes
    assert [t.get_text() for t in ax.get_xticklabels()] == texts
