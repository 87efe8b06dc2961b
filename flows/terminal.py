"""What `python -m flows.train` shows on a terminal: a progress bar with the cells per state and the time left while
the sweep runs (Prefect's per-cell log lines then go to the UI and log file only), and the final table sorted by the
selected metric with the best cell marked and long values wrapped."""

from __future__ import annotations

import logging
import math
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, TextIO

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn
from rich.table import Table

from rjobs.engine.progress import ProgressSnapshot, SweepProgress
from rjobs.inputs.result_options import Objective
from rjobs.results.presentation import metric_columns, short_number, sorted_rows

REFRESH_S = 0.25


class PerCellLinesHidden(logging.Filter):
    """Drop INFO lines about single cells (task runs' own lines and those the flow marks per-cell)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno >= logging.WARNING:
            return True
        per_task = record.name.startswith(("prefect.task_runs", "prefect.task_engine"))
        return not (per_task or getattr(record, "rjobs_per_cell", False))


def console_handlers() -> list[Any]:
    """Prefect's console handlers, wherever its logging configuration attached them."""
    from prefect.logging.handlers import PrefectConsoleHandler

    loggers = [
        logging.getLogger(),
        *(v for v in logging.Logger.manager.loggerDict.values() if isinstance(v, logging.Logger)),
    ]
    found: dict[int, Any] = {}
    for logger in loggers:
        for handler in logger.handlers:
            if isinstance(handler, PrefectConsoleHandler):
                found[id(handler)] = handler
    return list(found.values())


def time_left(snapshot: ProgressSnapshot) -> str:
    if snapshot.remaining_s is None:
        return "time left: estimating"
    seconds = math.ceil(snapshot.remaining_s)
    return f"time left: {seconds // 60}m{seconds % 60:02d}s" if seconds >= 60 else f"time left: {seconds}s"


def counts_text(snapshot: ProgressSnapshot) -> str:
    return snapshot.line().partition(": ")[2]


@contextmanager
def progress_bar(progress: SweepProgress, run: str, stream: TextIO) -> Iterator[None]:
    """The bar on `stream` while the block runs; Prefect's console lines print above it, per-cell ones not at all."""
    console = Console(file=stream)
    bar = Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[counts]}"),
        TextColumn("{task.fields[left]}"),
        console=console,
        transient=False,
        auto_refresh=False,
    )
    handlers = console_handlers()
    hidden = PerCellLinesHidden()
    previous = [handler.console for handler in handlers]
    stop = threading.Event()
    snapshot = progress.snapshot()
    task = bar.add_task(run, total=snapshot.total, counts=counts_text(snapshot), left=time_left(snapshot))

    def refresh() -> None:
        while True:
            current = progress.snapshot()
            bar.update(task, completed=current.done, counts=counts_text(current), left=time_left(current))
            bar.refresh()
            if stop.wait(REFRESH_S):
                return

    for handler in handlers:
        handler.addFilter(hidden)
        handler.console = console
    bar.start()
    updater = threading.Thread(target=refresh, name="progress-bar", daemon=True)
    updater.start()
    try:
        yield
    finally:
        stop.set()
        updater.join(timeout=5)
        current = progress.snapshot()
        bar.update(task, completed=current.done, counts=counts_text(current), left="")
        bar.refresh()
        bar.stop()
        for handler, old in zip(handlers, previous, strict=True):
            handler.removeFilter(hidden)
            handler.console = old


def rich_table(rows: list[dict[str, str]], best: str | None, objective: Objective | None) -> Table:
    """Metrics first after the status, 4 significant digits, long values wrapped, the best cell marked."""
    table = Table(show_lines=False, header_style="bold")
    if not rows:
        return table
    metrics = metric_columns(rows[0], objective)
    params = [c for c in rows[0] if c.startswith("param.")]
    columns = ["cell", "status", *metrics, *params, "duration_s"]
    table.add_column("best")
    for column in columns:
        numeric = column.startswith("metric.") or column == "duration_s"
        table.add_column(column.split(".", 1)[-1], justify="right" if numeric else "left", overflow="fold")
    for row in sorted_rows(rows, objective):
        mark = "*" if row["cell"] == best else ""
        cells = [short_number(row.get(c, "")) if c.startswith("metric.") else row.get(c, "") for c in columns]
        table.add_row(mark, *cells, style="bold" if mark else None)
    return table


def print_rich_table(rows: list[dict[str, str]], best: str | None, objective: Objective | None, stream: TextIO) -> None:
    Console(file=stream).print(rich_table(rows, best, objective))
