"""Bringing a finished local job's ./outputs and log into its cell folder without trusting what R left there.

Regular files are hard-linked (copied across file systems), never moved: the job's folder stays whole until the
caller has saved the record that says the outputs are collected, so a collection cut short by a signal is simply done
again from the start. A symlink whose target lies inside the job's folder (R's working directory, the per-cell
code copy) is kept as a copy of that file, so `outputs/latest.rds -> model.rds` still works; a symlink pointing
outside it (/etc/passwd, /proc/self/environ, a secret elsewhere) and every FIFO, device or socket is skipped with a
warning, never read.
"""

from __future__ import annotations

import errno
import logging
import os
from pathlib import Path

from rjobs.core.safe_files import clear, copy_regular, list_files

log = logging.getLogger(__name__)


def collect_outputs(job_name: str, source: Path, boundary: Path, target: Path) -> int:
    """Link source's regular files into target (emptied first), copy in-boundary symlinks' targets, skip the rest
    with a warning; the number of files collected. Source is left as it was."""
    if target.exists() or target.is_symlink():
        clear(target)
    target.mkdir(parents=True)
    if source.is_symlink():
        log.warning("job %s: skipped its outputs folder: a symlink to %s", job_name, os.readlink(source))
        return 0
    if not source.is_dir():
        return 0
    listing = list_files(source, boundary=boundary)
    collected = 0
    for name, path in listing.files:
        destination = target / name
        destination.parent.mkdir(parents=True, exist_ok=True)
        try:
            if path == source / name:
                link_or_copy(path, destination)
            else:
                copy_regular(path, destination)
        except OSError as exc:
            listing.skipped.append((name, f"cannot be collected: {exc.strerror or exc}"))
            continue
        collected += 1
    listing.warn(f"job {job_name} outputs")
    return collected


def link_or_copy(source: Path, target: Path) -> None:
    """A hard link costs what a move costs and keeps the source; a copy where the file system refuses the link."""
    try:
        os.link(source, target, follow_symlinks=False)
    except OSError as exc:
        if exc.errno not in (errno.EXDEV, errno.EPERM, errno.EMLINK, errno.ENOTSUP):
            raise
        copy_regular(source, target)


def copy_log(job_name: str, source: Path, target: Path) -> Path | None:
    """The supervisor's log copied to target; None when there is none, or it is no longer a regular file (R replaced
    it with a symlink or FIFO: skipped with a warning)."""
    if not source.exists() and not source.is_symlink():
        return None
    try:
        copy_regular(source, target)
    except OSError as exc:
        log.warning("job %s: skipped its log %s (%s)", job_name, source, exc.strerror or exc)
        return None
    return target
