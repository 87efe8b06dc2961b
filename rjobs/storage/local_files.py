"""The local side of an upload: which files to send, the blob name of each, and their MD5s.

MD5 is what Blob Storage stores as Content-MD5, so comparing it is how an unchanged file is skipped.
"""

from __future__ import annotations

import hashlib
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from rjobs.storage.locations import blob_name

logger = logging.getLogger(__name__)

MiB = 1024 * 1024
HASH_CHUNK = 1 * MiB


@dataclass(frozen=True)
class LocalFile:
    """One file to send: where it is, its name relative to the upload root, its blob name and size."""

    path: Path
    rel: str
    blob: str
    size: int


def collect_files(root: Path, prefix: str) -> tuple[list[LocalFile], bool]:
    """The files to send with their blob names, and whether root is a folder; names keep the tree, POSIX style."""
    if root.is_file():
        return [LocalFile(root, root.name, blob_name(prefix, root.name), root.stat().st_size)], False
    if not root.is_dir():
        raise FileNotFoundError(f"nothing to upload: {root} is neither a file nor a folder")
    files = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        for name in sorted(filenames):
            file = Path(dirpath) / name
            if not file.is_file():
                continue
            rel = file.relative_to(root).as_posix()
            files.append(LocalFile(file, rel, blob_name(prefix, rel), file.stat().st_size))
    if not files:
        logger.warning("folder %s has no files: nothing to upload", root)
    return files, True


def md5_of_stream(stream: BinaryIO, chunk_size: int = HASH_CHUNK) -> bytes:
    """MD5 of a stream read in bounded chunks, so a large file never sits in memory."""
    digest = hashlib.md5(usedforsecurity=False)
    while chunk := stream.read(chunk_size):
        digest.update(chunk)
    return digest.digest()


def md5_of_file(path: Path, chunk_size: int = HASH_CHUNK) -> bytes:
    """Streaming MD5 of a file, comparable with a blob's content_settings.content_md5."""
    with path.open("rb") as stream:
        return md5_of_stream(stream, chunk_size)
