"""Content hashes: a run, a cell, an environment or a data version is named by what it contains."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable
from pathlib import Path

HASH_CHUNK = 1 << 20


def hash_file(path: Path, digest: hashlib._Hash | None = None) -> str:
    """Stream a file into a SHA-256 digest, so big data never sits in memory."""
    digest = digest or hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(HASH_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def hash_tree(path: Path) -> str:
    """Content hash of a file or a folder: relative names and bytes, in a stable order."""
    digest = hashlib.sha256()
    if path.is_file():
        return hash_file(path, digest)
    for root, dirs, files in os.walk(path):
        dirs.sort()
        for name in sorted(files):
            file_path = Path(root) / name
            digest.update(file_path.relative_to(path).as_posix().encode() + b"\0")
            hash_file(file_path, digest)
    return digest.hexdigest()


def content_hash(parts: Iterable[str], length: int = 8) -> str:
    """Short hash of several content hashes or texts, joined unambiguously."""
    digest = hashlib.sha256()
    for part in parts:
        digest.update(part.encode("utf-8") + b"\0")
    return digest.hexdigest()[:length]
