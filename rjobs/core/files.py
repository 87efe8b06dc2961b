"""Files a job leaves and the results folder holds: their names, atomic writes, bounded reads of logs."""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any

LOG_FILE = "std_log.txt"
OUTPUTS_DIR = "outputs"


def atomic_write_text(path: Path, text: str) -> None:
    """Write to a temp file in the same folder, fsync, then rename: readers see old or new, never half."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.fchmod(fd, 0o644)
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write_json(path: Path, data: Any) -> None:
    atomic_write_text(path, json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False) + "\n")


LONG_LINE = 1000


def tail_text(path: Path, max_lines: int = 20, max_bytes: int = 16384) -> str:
    """The last lines of a log without reading a huge file whole. A line cut by the window is dropped when it is
    a fragment of an ordinary line, but kept (its end) when it is an endless one: R's error message may close a
    line that printed megabytes without a newline. Lines longer than LONG_LINE keep their end after an ellipsis."""
    try:
        with path.open("rb") as handle:
            handle.seek(0, os.SEEK_END)
            size = handle.tell()
            handle.seek(max(0, size - max_bytes))
            data = handle.read()
    except OSError:
        return ""
    lines = data.decode("utf-8", errors="replace").splitlines()
    if size > max_bytes and lines and len(lines[0]) < LONG_LINE:
        lines = lines[1:]
    return "\n".join(line if len(line) <= LONG_LINE else "…" + line[-LONG_LINE:] for line in lines[-max_lines:])


def iter_outputs(outputs_dir: Path) -> Iterable[Path]:
    return sorted(p for p in outputs_dir.rglob("*") if p.is_file()) if outputs_dir.is_dir() else []
