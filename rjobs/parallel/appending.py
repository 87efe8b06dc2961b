"""append_row_to: every finished batch's rows.csv streamed into one CSV, in input order, header once, with a
`batch` column, written atomically (a crash leaves the previous file or none, never half of one)."""

from __future__ import annotations

import csv
import logging
from collections.abc import Sequence
from pathlib import Path

from rjobs.core.files import atomic_writer
from rjobs.core.safe_files import open_regular

log = logging.getLogger(__name__)
ROWS_FILE = "rows.csv"
FAILED_ITEMS_FILE = "failed_items.txt"
BATCH_COLUMN = "batch"


def count_lines(path: Path) -> int:
    """Non-empty lines of a text file a batch wrote (failed_items.txt); 0 when it is absent or no regular file."""
    try:
        with open_regular(path) as handle:
            return sum(1 for line in handle if line.strip())
    except OSError:
        return 0


def read_lines(path: Path, limit: int = 1000) -> list[str]:
    """The first `limit` non-empty lines of a batch's text file, for the run's list of failed items."""
    found: list[str] = []
    try:
        with open_regular(path) as handle:
            for line in handle:
                text = line.decode("utf-8", errors="replace").strip()
                if text:
                    found.append(text)
                if len(found) >= limit:
                    break
    except OSError:
        return []
    return found


def append_rows(parts: Sequence[tuple[str, Path]], target: Path) -> dict[str, int]:
    """(batch id, rows.csv) in order into target; returns rows appended per batch. Columns follow the first batch's
    header: a later batch's missing column is empty and an extra one is dropped with a warning."""
    counts: dict[str, int] = {}
    header: list[str] | None = None
    with atomic_writer(target) as out:
        writer = csv.writer(out, lineterminator="\n")
        for batch, rows_file in parts:
            counts[batch] = 0
            try:
                handle = open_regular(rows_file)
            except OSError:
                continue
            with handle, open(handle.fileno(), encoding="utf-8", newline="", closefd=False) as text:
                reader = csv.reader(text)
                columns = next(reader, None)
                if columns is None:
                    continue
                if header is None:
                    header = columns
                    writer.writerow([BATCH_COLUMN, *header])
                elif columns != header:
                    extra = sorted(set(columns) - set(header))
                    if extra:
                        log.warning("batch %s: columns %s are not in the first batch's header; dropped", batch, extra)
                where = {name: index for index, name in enumerate(columns)}
                same = columns == header
                for row in reader:
                    if same:
                        writer.writerow([batch, *row])
                    else:
                        picked = [row[where[n]] if n in where and where[n] < len(row) else "" for n in header]
                        writer.writerow([batch, *picked])
                    counts[batch] += 1
    return counts
