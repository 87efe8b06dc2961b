"""A job's rw_mount output as the fake models it: the command writes a local folder, and each file reaches the
datastore's blobs (the job's named-output folder the blob routes serve) when the fake syncs it, as blobfuse uploads a
file when it is closed. The fake syncs on every read of the job's state while it runs, and once at its end."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

READ_WRITE_MOUNT = "ReadWriteMount"


def mount_dir(store: Path, job: str, output: str) -> Path:
    """The folder a running job's command sees for its rw_mount output."""
    return store / "mounts" / job / output


def sync_mount(mount: Path, blobs: Path) -> int:
    """Make `blobs` mirror `mount`: changed files copied whole (a blob appears at once, never half-written), files
    gone from the mount (renamed, removed) deleted; returns how many were copied."""
    copied, seen = 0, set()
    if mount.is_dir():
        for path in sorted(mount.rglob("*")):
            relative = path.relative_to(mount)
            try:
                if copy_changed(path, blobs / relative):
                    copied += 1
                seen.add(relative)
            except FileNotFoundError:  # the command renamed or removed it meanwhile: its blob goes too
                continue
    if blobs.is_dir():
        for path in sorted(blobs.rglob("*"), reverse=True):
            if path.is_file() and path.relative_to(blobs) not in seen:
                path.unlink()
    return copied


def copy_changed(path: Path, target: Path) -> bool:
    """Copy a regular file over its blob when its size or mtime differ; False when unchanged. Raises
    FileNotFoundError for a file that vanished (or is no regular file)."""
    if path.is_symlink() or not path.is_file():
        raise FileNotFoundError(path)
    stat = path.stat()
    if target.is_file() and target.stat().st_size == stat.st_size and target.stat().st_mtime_ns == stat.st_mtime_ns:
        return False
    target.parent.mkdir(parents=True, exist_ok=True)
    scratch = target.with_name(f".{target.name}.sync")
    try:
        shutil.copy2(path, scratch)
        os.replace(scratch, target)
    finally:
        scratch.unlink(missing_ok=True)
    return True
