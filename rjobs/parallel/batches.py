"""Mini-batches of a folder input: content-addressed (a batch's id is the hash of its items' names and bytes) and
stable across runs, so a re-run reuses every finished batch and files added later form new batches of their own."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rjobs.core.files import atomic_write_json, atomic_write_text
from rjobs.core.hashing import hash_file
from rjobs.core.safe_files import list_files

BATCH_ID_LENGTH = 16
MANIFEST = "folder-manifest.json"


@dataclass(frozen=True)
class Batch:
    """One mini-batch: its id, the file R is given as --mini_batch, how many items it holds, its partition."""

    batch_id: str
    path: Path
    items: int
    partition: tuple[tuple[str, str], ...] = ()

    @property
    def partition_args(self) -> list[str]:
        """The `key=value` texts R receives as --partition, one per key."""
        return [f"{key}={value}" for key, value in self.partition]


def batch_id(digest: str) -> str:
    """'b' + a content digest: letter-led, as Azure job names (<run>-<batch>) must be."""
    return "b" + digest[: BATCH_ID_LENGTH - 1]


def _file_hashes(root: Path, previous: Mapping[str, Any]) -> list[tuple[str, Path, str]]:
    """(name, path, sha256) of every regular file; a file whose size and mtime match the last run's is not re-read."""
    found = []
    listing = list_files(root)
    listing.warn(str(root))
    for name, path in listing.files:
        info = path.stat()
        seen = previous.get(name)
        unchanged = bool(seen) and seen[0] == info.st_size and seen[1] == info.st_mtime_ns
        digest = str(seen[2]) if unchanged else hash_file(path)
        found.append((name, path, digest))
    return found


def _load_manifest(path: Path) -> dict[str, Any]:
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {"files": {}, "batches": []}
    return raw if isinstance(raw, dict) else {"files": {}, "batches": []}


def _regroup(
    files: Sequence[tuple[str, Path, str]], kept: Sequence[Sequence[Sequence[str]]], size: int
) -> list[list[tuple[str, str]]]:
    """Last run's batches whose every item is unchanged stay as they were; every other file, in name order, fills
    new batches of `size`. Batches come back in input order (by their first item)."""
    current = {name: digest for name, _, digest in files}
    claimed: set[str] = set()
    groups: list[list[tuple[str, str]]] = []
    for items in kept:
        pairs = [(str(name), str(digest)) for name, digest in items]
        if pairs and all(current.get(name) == digest and name not in claimed for name, digest in pairs):
            groups.append(pairs)
            claimed.update(name for name, _ in pairs)
    rest = [(name, digest) for name, _, digest in files if name not in claimed]
    groups += [rest[i : i + size] for i in range(0, len(rest), size)]
    order = {name: index for index, (name, _, _) in enumerate(files)}
    return sorted(groups, key=lambda group: min(order[name] for name, _ in group))


def split_folder(root: Path, size: int, batches_dir: Path) -> list[Batch]:
    """The folder's files in batches of `size`, each listed (absolute paths, one per line) in batches_dir/<id>.txt;
    the manifest there remembers the grouping, so adding files never reshuffles finished batches."""
    manifest_path = batches_dir / MANIFEST
    manifest = _load_manifest(manifest_path)
    files = _file_hashes(root, manifest.get("files") or {})
    groups = _regroup(files, manifest.get("batches") or [], size)
    paths = {name: path for name, path, _ in files}
    batches = []
    for group in groups:
        digest = hashlib.sha256()
        for name, file_digest in group:
            digest.update(f"{name}\0{file_digest}\0".encode())
        batch = Batch(batch_id(digest.hexdigest()), batches_dir / f"{batch_id(digest.hexdigest())}.txt", len(group))
        listing = "".join(f"{paths[name].resolve()}\n" for name, _ in group)
        if not batch.path.is_file() or batch.path.read_text(encoding="utf-8") != listing:
            atomic_write_text(batch.path, listing)
        batches.append(batch)
    stats = {name: path.stat() for name, path, _ in files}
    atomic_write_json(
        manifest_path,
        {
            "files": {name: [stats[name].st_size, stats[name].st_mtime_ns, digest] for name, _, digest in files},
            "batches": [[list(pair) for pair in group] for group in groups],
        },
    )
    return batches
