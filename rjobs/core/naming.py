"""Deterministic names: the run from its content, each Azure job from run, cell and attempt."""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Iterable
from pathlib import Path

from rjobs.core.errors import InputError

RUN_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_-]{0,79}$")
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


def check_run_name(name: str) -> str:
    """A run name is part of every Azure job name: letters, digits, '_' and '-', letter first."""
    if not RUN_NAME.match(name):
        raise InputError(
            "--run-name",
            name,
            "is not a valid run name",
            "use a letter followed by up to 79 letters, digits, '_' or '-'",
        )
    return name


def slug(text: str, limit: int = 40) -> str:
    """Turn free text (an experiment name) into a run-name prefix."""
    cleaned = re.sub(r"[^A-Za-z0-9_-]+", "-", text).strip("-_")[:limit] or "sweep"
    return cleaned if cleaned[0].isalpha() else f"r{cleaned}"


def job_name(run: str, cell_id: str, attempt: int) -> str:
    """`<run>-<cell>` for the first attempt, `-rN` after: unique and stable, so resubmits never collide."""
    base = f"{run}-{cell_id}"
    return base if attempt <= 1 else f"{base}-r{attempt}"
