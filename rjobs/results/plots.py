"""One PNG per sweep: the chosen metric against each grid parameter, so a user sees what drives it at a glance.

Drawn with matplotlib's object API on the Agg canvas (no pyplot, no display, no global state), so it is
safe from the flow's worker threads.
"""

from __future__ import annotations

import csv
import os
import re
import tempfile
import textwrap
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rjobs.core.states import JobState
from rjobs.core.values import number_of, value_text
from rjobs.engine.ledger import CellRecord, RunLedger
from rjobs.inputs.result_options import Objective, parse_objective
from rjobs.results.selection import eligible, select_best

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

PANEL_WIDTH_IN, PANEL_HEIGHT_IN, DPI = 4.0, 3.5, 100
LABEL_WIDTH = 18
POINT, BEST = "#1f77b4", "#d62728"


def plot_path(ledger: RunLedger, metric: str) -> Path:
    """results/<run>/<metric>_by_param.png, with the metric made safe for a file name."""
    safe = re.sub(r"[^A-Za-z0-9_.-]+", "_", metric).strip("_.") or "metric"
    return ledger.run_dir / f"{safe}_by_param.png"


def grid_order(ledger: RunLedger, records: Sequence[CellRecord]) -> dict[str, list[str]]:
    """Each grid key's values in the grid's order (summary.csv's param.* columns and rows), else the records'."""
    try:
        with ledger.summary_path.open(encoding="utf-8", newline="") as handle:
            rows = list(csv.DictReader(handle))
            header = list(rows[0]) if rows else []
    except OSError:
        rows, header = [], []
    keys = [column.split(".", 1)[1] for column in header if column.startswith("param.")]
    if not keys:
        seen: dict[str, None] = {}
        for record in records:
            seen.update(dict.fromkeys(record.params))
        keys = list(seen)
    order: dict[str, list[str]] = {}
    for key in keys:
        values = [row.get(f"param.{key}", "") for row in rows] + [value_text(r.params.get(key)) for r in records]
        order[key] = list(dict.fromkeys(values))
    return order


def _label(value: Any) -> str:
    """A category as tick text: long '+'-joined feature lists wrap at '+' instead of running into each other."""
    text = value_text(value) or "(unset)"
    if len(text) <= LABEL_WIDTH:
        return text
    lines = textwrap.wrap(text.replace("+", "+ "), LABEL_WIDTH, break_on_hyphens=False)
    return "\n".join(line.replace("+ ", "+").strip() for line in lines)


def build_figure(
    run: str,
    records: Sequence[CellRecord],
    objective: str | Objective,
    grid: Mapping[str, Sequence[str]] | Sequence[str],
) -> Figure:
    """One panel per grid key: numbers as a scatter, categories as box + points in grid order; the best as a star."""
    from matplotlib.figure import Figure

    chosen = parse_objective(objective)
    best = select_best(records, chosen)
    points = eligible(records, chosen)
    grid_keys = list(grid)
    order = {k: list(grid[k]) for k in grid_keys} if isinstance(grid, Mapping) else {}
    keys = grid_keys or ["cell"]
    fig = Figure(figsize=(PANEL_WIDTH_IN * len(keys), PANEL_HEIGHT_IN), dpi=DPI, layout="constrained")
    axes = fig.subplots(1, len(keys), sharey=True, squeeze=False)[0]
    for index, (ax, key) in enumerate(zip(axes, keys, strict=True)):
        xs = [r.cell if key == "cell" and not grid_keys else r.params.get(key) for r, _ in points]
        ys = [value for _, value in points]
        is_best = [r.cell == best.cell for r, _ in points]  # type: ignore[union-attr]
        numbers = [number_of(x) for x in xs]
        if xs and all(n is not None for n in numbers):
            _numeric_panel(ax, numbers, ys, is_best, [value_text(x) for x in xs])
        else:
            _category_panel(ax, xs, ys, is_best, order.get(key, []))
        ax.set_xlabel(key)
        ax.margins(y=0.08)  # room for the star at the top or bottom edge
        ax.grid(axis="y", alpha=0.3)
        if index == 0:
            ax.set_ylabel(f"{chosen.metric} ({chosen.goal} is best)")
    fig.align_xlabels(axes)  # wrapped tick labels in one panel must not push only its axis label down
    completed = sum(1 for r in records if r.job_state == JobState.COMPLETED)
    value = next(v for r, v in points if r.cell == best.cell)  # type: ignore[union-attr]
    fig.suptitle(
        f"{run}: {chosen.metric} by parameter\n"
        f"\u2605 best {best.cell} ({chosen.metric}={value:.4g}); {len(points)} of {completed} completed cells plotted",
        fontsize=10,
    )
    return fig


def _split(
    xs: list[Any], ys: list[float], is_best: list[bool]
) -> tuple[list[Any], list[float], list[Any], list[float]]:
    """Points and the best point apart, so the best is drawn last and on top."""
    rest = [(x, y) for x, y, b in zip(xs, ys, is_best, strict=True) if not b]
    top = [(x, y) for x, y, b in zip(xs, ys, is_best, strict=True) if b]
    return [x for x, _ in rest], [y for _, y in rest], [x for x, _ in top], [y for _, y in top]


def _numeric_panel(ax: Axes, xs: list[Any], ys: list[float], is_best: list[bool], texts: list[str]) -> None:
    """Values that read as numbers (params are texts: "010", "1e-7") placed by number, labelled as written."""
    px, py, bx, by = _split(xs, ys, is_best)
    ax.scatter(px, py, s=28, color=POINT, alpha=0.7, zorder=3)
    _mark_best(ax, bx, by)
    distinct = sorted(set(xs))
    if len(distinct) <= 10:
        written = dict(zip(reversed(xs), reversed(texts), strict=True))  # the first spelling of each number
        ax.set_xticks(distinct, [written[x] for x in distinct])
        span = (distinct[-1] - distinct[0]) or 1
        ax.set_xlim(distinct[0] - 0.15 * span, distinct[-1] + 0.15 * span)


def _category_panel(ax: Axes, xs: list[Any], ys: list[float], is_best: list[bool], order: Sequence[str]) -> None:
    present = {_label(x) for x in xs}
    categories = [label for label in dict.fromkeys(_label(v or None) for v in order) if label in present]
    categories += sorted(present - set(categories))
    position = {label: i for i, label in enumerate(categories)}
    groups: dict[str, list[float]] = {label: [] for label in categories}
    for x, y in zip(xs, ys, strict=True):
        groups[_label(x)].append(y)
    ax.boxplot(
        [groups[label] for label in categories],
        positions=list(range(len(categories))),
        widths=0.5,
        showfliers=False,
        medianprops={"color": "grey"},
    )
    seen: dict[str, int] = {}
    spread = []
    for x in xs:
        label = _label(x)
        n, k = len(groups[label]), seen.get(label, 0)
        seen[label] = k + 1
        spread.append(position[label] + (0.0 if n == 1 else -0.15 + 0.3 * k / (n - 1)))  # even, not random
    px, py, bx, by = _split(spread, ys, is_best)
    ax.scatter(px, py, s=28, color=POINT, alpha=0.7, zorder=3)
    _mark_best(ax, bx, by)
    ax.set_xticks(range(len(categories)), categories, fontsize=8)
    ax.set_xlim(-0.6, len(categories) - 0.4)


def _mark_best(ax: Axes, xs: list[Any], ys: list[float]) -> None:
    ax.scatter(xs, ys, s=160, marker="*", color=BEST, edgecolors="black", linewidths=0.5, zorder=4, label="best")


def plot_metric_by_param(
    ledger: RunLedger,
    records: Sequence[CellRecord],
    objective: str | Objective,
    grid_keys: Sequence[str] | None = None,
) -> Path:
    """Draw and save results/<run>/<metric>_by_param.png (written atomically) and return its path."""
    chosen = parse_objective(objective)
    fig = build_figure(ledger.run, records, chosen, grid_order(ledger, records) if grid_keys is None else grid_keys)
    path = plot_path(ledger, chosen.metric)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            fig.savefig(handle, format="png", dpi=DPI)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path
