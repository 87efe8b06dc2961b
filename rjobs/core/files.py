"""Files a job leaves and the results folder holds: their names, atomic writes, bounded reads of logs."""

from __future__ import annotations

import json
import math
import os
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from rjobs.core.safe_files import list_files, open_regular

LOG_FILE = "std_log.txt"
OUTPUTS_DIR = "outputs"


@contextmanager
def atomic_writer(path: Path) -> Iterator[Any]:
    """A text handle on a temp file in the same folder, fsynced and renamed over path when the block ends: readers
    see old or new, never half; an error leaves path as it was and no temp file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.fchmod(fd, 0o644)
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write_text(path: Path, text: str) -> None:
    """The whole text at once through atomic_writer."""
    with atomic_writer(path) as handle:
        handle.write(text)


def finite(data: Any) -> Any:
    """The data with every NaN or infinity (a metric R computed as NaN) as None, so it can be strict JSON."""
    if isinstance(data, float) and not math.isfinite(data):
        return None
    if isinstance(data, dict):
        return {key: finite(value) for key, value in data.items()}
    if isinstance(data, list | tuple):
        return [finite(value) for value in data]
    return data


def strict_json(data: Any, **options: Any) -> str:
    """JSON any parser reads: non-finite floats become null instead of Python's bare NaN and Infinity."""
    return json.dumps(finite(data), allow_nan=False, ensure_ascii=False, **options)


def atomic_write_json(path: Path, data: Any) -> None:
    """Strict JSON (see strict_json), pretty and key-sorted, written atomically."""
    atomic_write_text(path, strict_json(data, indent=2, sort_keys=True) + "\n")


LONG_LINE = 1000


def tail_text(path: Path, max_lines: int = 20, max_bytes: int = 16384) -> str:
    """The last lines of a log without reading a huge file whole. A line cut by the window is dropped when it is
    a fragment of an ordinary line, but kept (its end) when it is an endless one: R's error message may close a
    line that printed megabytes without a newline. Lines longer than LONG_LINE keep their end after an ellipsis.
    Only a regular file is read: a symlink, FIFO or device gives "" at once (a FIFO would block the open)."""
    try:
        with open_regular(path) as handle:
            handle.seek(0, os.SEEK_END)
            size = handle.tell()
            handle.seek(max(0, size - max_bytes))
            data = handle.read(max_bytes)
    except OSError:
        return ""
    lines = data.decode("utf-8", errors="replace").splitlines()
    if size > max_bytes and lines and len(lines[0]) < LONG_LINE:
        lines = lines[1:]
    return "\n".join(line if len(line) <= LONG_LINE else "…" + line[-LONG_LINE:] for line in lines[-max_lines:])


def iter_outputs(outputs_dir: Path) -> Iterable[Path]:
    """The regular files of a collected outputs folder, sorted. Collection leaves no symlink there, so any symlink,
    FIFO, device or socket found is skipped with a warning, never followed or read (MLflow logging reads these)."""
    if outputs_dir.is_symlink() or not outputs_dir.is_dir():
        return []
    listing = list_files(outputs_dir)
    listing.warn(str(outputs_dir))
    return sorted(outputs_dir / name for name, _ in listing.files)
