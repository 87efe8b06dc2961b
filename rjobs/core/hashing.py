"""Content hashes: a run, a cell, an environment or a data version is named by what it contains."""

from __future__ import annotations

import hashlib
import logging
import os
import stat
from collections.abc import Iterable
from pathlib import Path

from rjobs.core.errors import InputError
from rjobs.core.safe_files import NotRegularFile, kind, open_regular

log = logging.getLogger(__name__)

HASH_CHUNK = 1 << 20


def hash_file(path: Path, digest: hashlib._Hash | None = None) -> str:
    """Stream a regular file (symlinks followed) into a SHA-256 digest, so big data never sits in memory; a FIFO or
    device raises NotRegularFile instead of blocking or never ending."""
    digest = digest or hashlib.sha256()
    with open_regular(path, follow_symlinks=True) as handle:
        while chunk := handle.read(HASH_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def hash_tree(path: Path) -> str:
    """Content hash of a file or a folder: relative names and bytes, in a stable order. Special files inside a
    folder are skipped with a warning; a special file given as the path is an InputError."""
    digest = hashlib.sha256()
    if not path.is_dir():
        try:
            return hash_file(path, digest)
        except NotRegularFile as exc:
            raise InputError(path, None, str(exc.strerror), "give a regular file or a folder") from None
    for root, dirs, files in os.walk(path):
        dirs.sort()
        for name in sorted(files):
            file_path = Path(root) / name
            try:
                mode = file_path.stat().st_mode
            except OSError as exc:
                log.warning("%s: skipped (%s)", file_path, exc.strerror)
                continue
            if not stat.S_ISREG(mode):
                log.warning("%s: skipped, a %s is not hashed", file_path, kind(mode))
                continue
            digest.update(file_path.relative_to(path).as_posix().encode() + b"\0")
            hash_file(file_path, digest)
    return digest.hexdigest()


def hash_listing(files: Iterable[tuple[str, Path]]) -> str:
    """SHA-256 of (relative name, regular file) pairs in the given order, the format hash_tree gives a folder, so a
    listing of a clean folder (safe_files.list_files) hashes as the folder does."""
    digest = hashlib.sha256()
    for name, path in files:
        digest.update(name.encode() + b"\0")
        with open_regular(path) as handle:
            while chunk := handle.read(HASH_CHUNK):
                digest.update(chunk)
    return digest.hexdigest()


def content_hash(parts: Iterable[str], length: int = 8) -> str:
    """Short hash of several content hashes or texts, joined unambiguously."""
    digest = hashlib.sha256()
    for part in parts:
        digest.update(part.encode("utf-8") + b"\0")
    return digest.hexdigest()[:length]
