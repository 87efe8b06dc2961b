"""rjobs.results.plots: one PNG per sweep, a panel per grid key at a fixed size, the best cell marked."""

from __future__ import annotations

import struct
from pathlib import Path

import pytest

from rjobs.engine.ledger import RunLedger
from rjobs.results.plots import (
    DPI,
    PANEL_HEIGHT_IN,
    PANEL_WIDTH_IN,
    build_figure,
    grid_order,
    plot_metric_by_param,
    plot_path,
)
from rjobs.results.selection import NoEligibleCellError
from tests.results.conftest import Cell, build_ledger, demo_cells

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def png_size(path: Path) -> tuple[int, int]:
    """Width and height from the IHDR chunk, which must come first."""
    data = path.read_bytes()
    assert data[:8] == PNG_SIGNATURE
    length, kind = struct.unpack(">I4s", data[8:16])
    assert (length, kind) == (13, b"IHDR")
    return struct.unpack(">II", data[16:24])


# (case, grid keys, expected pixel size)
SIZE_CASES = [
    ("three params, three panels", ["model", "features", "seed"], (1200, 350)),
    ("two params", ["model", "seed"], (800, 350)),
    ("one param", ["features"], (400, 350)),
]


@pytest.mark.parametrize(("case", "keys", "size"), SIZE_CASES, ids=[c[0] for c in SIZE_CASES])
def test_png_has_one_fixed_size_panel_per_param(
    tmp_path: Path, case: str, keys: list[str], size: tuple[int, int]
) -> None:
    cells = [Cell(c.cell, {k: c.params[k] for k in keys}, metrics=c.metrics) for c in demo_cells()]
    ledger, records = build_ledger(tmp_path, "sweep1", cells, keys)
    path = plot_metric_by_param(ledger, records, "rmse:min")
    assert path == tmp_path.resolve() / "sweep1" / "rmse_by_param.png"
    assert png_size(path) == size == (int(PANEL_WIDTH_IN * DPI * len(keys)), int(PANEL_HEIGHT_IN * DPI))
    assert not [p.name for p in path.parent.iterdir() if p.name.endswith(".tmp")]


def test_figure_panels_follow_the_grid_and_mark_the_best(tmp_path: Path) -> None:
    ledger, records = build_ledger(tmp_path, "sweep2", demo_cells(), ["model", "features", "seed"])
    fig = build_figure("sweep2", records, "rmse:min", grid_order(ledger, records))
    assert [ax.get_xlabel() for ax in fig.axes] == ["model", "features", "seed"]
    # categories in the grid's order (summary.csv rows), not alphabetical; numbers on a numeric axis
    assert [t.get_text() for t in fig.axes[0].get_xticklabels()] == ["lm", "ranger"]
    assert [t.get_text() for t in fig.axes[1].get_xticklabels()] == ["flipper", "flipper+species", "all"]
    assert list(fig.axes[2].get_xticks()) == [1, 2]
    best_rmse = min(r.metrics["rmse"] for r in records)
    for ax in fig.axes:
        stars = [c for c in ax.collections if c.get_label() == "best"]
        assert len(stars) == 1
        assert [float(y) for _, y in stars[0].get_offsets()] == [best_rmse]
    assert fig.axes[2].collections[-1].get_offsets()[0][0] == 1  # the best cell has seed 1
    title = fig.get_suptitle()
    assert "sweep2: rmse by parameter" in title
    assert "best c121" in title
    assert "12 of 12 completed" in title


def test_failed_and_metricless_cells_are_left_out(tmp_path: Path) -> None:
    cells = [
        Cell("a", {"model": "lm"}, metrics={"rmse": 3.0}),
        Cell("b", {"model": "lm"}, "Failed"),
        Cell("c", {"model": "ranger"}, metrics={"mae": 1.0}),
        Cell("d", {"model": "ranger"}, metrics={"rmse": 2.0}),
    ]
    ledger, records = build_ledger(tmp_path, "sweep3", cells)
    fig = build_figure("sweep3", records, "rmse:max", grid_order(ledger, records))
    plotted = sum(len(c.get_offsets()) for c in fig.axes[0].collections)
    assert plotted == 2
    assert "best a" in fig.get_suptitle()
    assert "2 of 3 completed" in fig.get_suptitle()


def test_long_category_labels_wrap_at_plus(tmp_path: Path) -> None:
    long = "bill_length_mm+bill_depth_mm+flipper_length_mm+species+sex"
    cells = [Cell("a", {"features": long}, metrics={"rmse": 1.0}), Cell("b", {"features": "x"}, metrics={"rmse": 2.0})]
    ledger, records = build_ledger(tmp_path, "sweep4", cells)
    fig = build_figure("sweep4", records, "rmse:min", grid_order(ledger, records))
    label = fig.axes[0].get_xticklabels()[0].get_text()
    assert label.replace("\n", "") == long
    assert all(len(line) <= 20 for line in label.splitlines())


def test_metric_name_is_made_safe_for_the_file_name(tmp_path: Path) -> None:
    assert plot_path(RunLedger(tmp_path, "r"), "val/loss (x)").name == "val_loss_x_by_param.png"


def test_no_eligible_cell_raises_and_writes_nothing(tmp_path: Path) -> None:
    ledger, records = build_ledger(tmp_path, "sweep5", [Cell("a", {"seed": 1}, "Failed")])
    with pytest.raises(NoEligibleCellError, match="rmse"):
        plot_metric_by_param(ledger, records, "rmse:min")
    assert not list(ledger.run_dir.glob("*.png"))


def test_a_sweep_without_params_gets_one_panel_by_cell(tmp_path: Path) -> None:
    ledger, records = build_ledger(tmp_path, "sweep6", [Cell("a", {}, metrics={"r2": 0.5})], [])
    path = plot_metric_by_param(ledger, records, "r2:max")
    assert png_size(path) == (400, 350)
