"""Mini-batches of a table input (CSV or Parquet): rows in batches of N, or one batch per partition, read in chunks
so the table is never whole in memory; each batch is a CSV named by the hash of its bytes."""

from __future__ import annotations

import hashlib
import io
import os
import shutil
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import IO

import pandas as pd

from rjobs.core.errors import InputError
from rjobs.core.hashing import hash_file
from rjobs.parallel.batches import Batch, batch_id

CHUNK_ROWS = 50_000
"""Rows read at once: the orchestrator's memory is bounded by this, not by the table's size."""
TABLE_SUFFIXES = (".csv", ".parquet", ".pq")


def read_chunks(path: Path, rows: int = CHUNK_ROWS) -> Iterator[pd.DataFrame]:
    """The table in chunks of at most `rows` rows. CSV cells stay the text as written (no NA or type guessing)."""
    suffix = path.suffix.lower()
    if suffix == ".csv":
        with pd.read_csv(path, chunksize=rows, dtype=str, keep_default_na=False, na_filter=False) as reader:
            yield from reader
    elif suffix in (".parquet", ".pq"):
        import pyarrow.parquet as pq

        with pq.ParquetFile(path) as table:
            for record_batch in table.iter_batches(batch_size=rows):
                yield record_batch.to_pandas()
    else:
        raise InputError(path, None, "is not a table rjobs can split", f"give a file ending in {TABLE_SUFFIXES}")


def _csv_bytes(frame: pd.DataFrame, header: bool) -> bytes:
    buffer = io.StringIO()
    frame.to_csv(buffer, index=False, header=header, lineterminator="\n")
    return buffer.getvalue().encode("utf-8")


class _BatchWriter:
    """Writes one batch to a temporary file while hashing it; done() names it by its hash (reused if present)."""

    def __init__(self, batches_dir: Path) -> None:
        self.batches_dir = batches_dir
        fd, name = tempfile.mkstemp(dir=batches_dir, prefix=".batch.", suffix=".tmp")
        self.tmp = Path(name)
        self.handle: IO[bytes] = os.fdopen(fd, "wb")
        self.digest = hashlib.sha256()
        self.rows = 0

    def write(self, frame: pd.DataFrame) -> None:
        data = _csv_bytes(frame, header=self.rows == 0)
        self.digest.update(data)
        self.handle.write(data)
        self.rows += len(frame)

    def done(self, partition: tuple[tuple[str, str], ...] = ()) -> Batch:
        self.handle.close()
        ident = batch_id(self.digest.hexdigest())
        target = self.batches_dir / f"{ident}.csv"
        if target.is_file():
            self.tmp.unlink()
        else:
            os.replace(self.tmp, target)
        return Batch(ident, target, self.rows, partition)


def split_rows(path: Path, size: int, batches_dir: Path) -> list[Batch]:
    """Consecutive rows in batches of `size`: rows appended to the table leave every earlier full batch unchanged."""
    batches_dir.mkdir(parents=True, exist_ok=True)
    batches: list[Batch] = []
    writer: _BatchWriter | None = None
    for chunk in read_chunks(path, min(size, CHUNK_ROWS)):
        start = 0
        while start < len(chunk):
            writer = writer or _BatchWriter(batches_dir)
            piece = chunk.iloc[start : start + size - writer.rows]
            writer.write(piece)
            start += len(piece)
            if writer.rows == size:
                batches.append(writer.done())
                writer = None
    if writer is not None:
        batches.append(writer.done())
    return batches


def _check_keys(path: Path, columns: Sequence[str], keys: Sequence[str]) -> None:
    missing = [key for key in keys if key not in columns]
    if missing:
        raise InputError(
            path, "partition_keys", f"names {', '.join(missing)}, not a column", f"use columns of {list(columns)}"
        )


def split_partitions(path: Path, keys: Sequence[str], batches_dir: Path) -> list[Batch]:
    """One batch per distinct value of the keys, in order of first appearance, built chunk by chunk on disk."""
    batches_dir.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(dir=batches_dir, prefix=".partitions."))
    try:
        order: dict[tuple[str, ...], tuple[Path, int]] = {}
        for chunk in read_chunks(path):
            _check_keys(path, list(chunk.columns), keys)
            for values, piece in chunk.groupby(list(keys), sort=False, dropna=False):
                texts = tuple(
                    "" if pd.isna(v) else str(v) for v in (values if isinstance(values, tuple) else (values,))
                )
                part, rows = order.get(texts, (work / f"{len(order)}.csv", 0))
                with part.open("ab") as handle:
                    handle.write(_csv_bytes(piece, header=rows == 0))
                order[texts] = (part, rows + len(piece))
        batches = []
        for texts, (part, rows) in order.items():
            ident = batch_id(hash_file(part))
            target = batches_dir / f"{ident}.csv"
            if not target.is_file():
                os.replace(part, target)
            batches.append(Batch(ident, target, rows, tuple(zip(keys, texts, strict=True))))
        return batches
    finally:
        shutil.rmtree(work, ignore_errors=True)
