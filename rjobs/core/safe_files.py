"""Reading what a job or a user left without trusting it: no symlink followed out of a boundary folder, and no FIFO,
device or socket ever read (opening a FIFO waits for a writer; /dev/zero never ends; /proc/self/environ is secrets).
"""

from __future__ import annotations

import errno
import logging
import os
import shutil
import stat
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

log = logging.getLogger(__name__)

COPY_CHUNK = 1 << 20
_warned: set[tuple[str, str]] = set()


class NotRegularFile(OSError):
    """A path that is a FIFO, device, socket, folder or (when not followed) a symlink where a file was expected."""


def kind(mode: int) -> str:
    """What a stat mode is, in words for a warning."""
    kinds = (
        (stat.S_ISREG, "file"),
        (stat.S_ISDIR, "folder"),
        (stat.S_ISLNK, "symlink"),
        (stat.S_ISFIFO, "FIFO"),
        (stat.S_ISSOCK, "socket"),
        (stat.S_ISCHR, "character device"),
        (stat.S_ISBLK, "block device"),
    )
    return next((name for test, name in kinds if test(mode)), "special file")


def open_regular(path: Path, *, follow_symlinks: bool = False) -> BinaryIO:
    """Open a regular file for reading; anything else raises NotRegularFile without blocking. The type is checked
    before opening (opening a device may act on it) and again on the descriptor (the path may have changed)."""
    before = os.stat(path, follow_symlinks=follow_symlinks)
    if not stat.S_ISREG(before.st_mode):
        raise NotRegularFile(errno.EINVAL, f"is a {kind(before.st_mode)}, not a regular file", str(path))
    flags = os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC | (0 if follow_symlinks else os.O_NOFOLLOW)
    fd = os.open(path, flags)
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            raise NotRegularFile(errno.EINVAL, f"is a {kind(mode)}, not a regular file", str(path))
        os.set_blocking(fd, True)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def copy_regular(source: Path, target: Path, *, follow_symlinks: bool = False) -> None:
    """Copy a regular file's bytes and permission bits to target (replacing what is there); NotRegularFile else."""
    with open_regular(source, follow_symlinks=follow_symlinks) as reader:
        mode = os.fstat(reader.fileno()).st_mode
        target.parent.mkdir(parents=True, exist_ok=True)
        if target.is_symlink() or target.exists():
            clear(target)
        with target.open("xb") as writer:
            shutil.copyfileobj(reader, writer, COPY_CHUNK)
        os.chmod(target, stat.S_IMODE(mode) | stat.S_IWUSR)


def clear(path: Path) -> None:
    """Remove a file, a symlink (never its target) or a folder tree."""
    if path.is_symlink() or not path.is_dir():
        path.unlink(missing_ok=True)
    else:
        shutil.rmtree(path)


def within(path: Path, boundary: Path) -> bool:
    """True when the fully resolved path lies inside the resolved boundary folder (or is it)."""
    try:
        path.resolve().relative_to(boundary.resolve())
    except (ValueError, OSError, RuntimeError):
        return False
    return True


@dataclass
class Listing:
    """Files found under a folder, in a stable order, and what was left out with the reason."""

    files: list[tuple[str, Path]] = field(default_factory=list)
    """(name relative to the folder, posix; the path to read: the entry itself, or a symlink's target)."""
    skipped: list[tuple[str, str]] = field(default_factory=list)
    """(relative name, why it was left out)."""

    def warn(self, what: str) -> None:
        """One warning per skipped entry and process: a listing made once per cell must not repeat itself."""
        for name, reason in self.skipped:
            if (f"{what}/{name}", reason) not in _warned:
                _warned.add((f"{what}/{name}", reason))
                log.warning("%s: skipped %s (%s)", what, name, reason)


Prune = Callable[[str, bool], bool]
"""(relative name, is a folder) -> leave it out silently (an ignore rule, not a hazard)."""


def list_files(root: Path, *, boundary: Path | None = None, prune: Prune | None = None) -> Listing:
    """Regular files under root, top-down: a folder's files by name, then its subfolders by name (os.walk's
    order). A symlink is followed only when boundary is given and its target resolves inside it (then it is listed
    under its own name, read from the target); FIFOs, devices, sockets, loops and other links are skipped."""
    listing = Listing()
    _walk(root, "", boundary.resolve() if boundary is not None else None, prune, listing, frozenset())
    return listing


def _walk(
    folder: Path,
    prefix: str,
    boundary: Path | None,
    prune: Prune | None,
    out: Listing,
    seen: frozenset[tuple[int, int]],
) -> None:
    try:
        here = os.stat(folder)
        entries = sorted(os.scandir(folder), key=lambda entry: entry.name)
    except OSError as exc:
        out.skipped.append((prefix.rstrip("/") or ".", f"cannot be listed: {exc.strerror}"))
        return
    seen = seen | {(here.st_dev, here.st_ino)}
    folders: list[tuple[str, Path]] = []
    for entry in entries:
        name, path = prefix + entry.name, Path(entry.path)
        try:
            mode = entry.stat(follow_symlinks=False).st_mode
        except OSError as exc:
            out.skipped.append((name, f"cannot be read: {exc.strerror}"))
            continue
        target = path
        if stat.S_ISLNK(mode):
            if boundary is None:
                out.skipped.append((name, f"a symlink to {os.readlink(path)}"))
                continue
            if not within(path, boundary):
                out.skipped.append((name, f"a symlink to {os.readlink(path)}, outside {boundary}"))
                continue
            target = path.resolve()
            try:
                mode = os.stat(target).st_mode
            except OSError as exc:
                out.skipped.append((name, f"a broken symlink ({exc.strerror})"))
                continue
        if stat.S_ISDIR(mode):
            if prune is None or not prune(name, True):
                folders.append((name, target))
        elif stat.S_ISREG(mode):
            if prune is None or not prune(name, False):
                out.files.append((name, target))
        else:
            out.skipped.append((name, f"a {kind(mode)}, not a regular file"))
    for name, target in folders:
        try:
            inside = os.stat(target)
        except OSError as exc:
            out.skipped.append((name, f"cannot be read: {exc.strerror}"))
            continue
        if (inside.st_dev, inside.st_ino) in seen:
            out.skipped.append((name, "a symlink loop back to a folder that contains it"))
            continue
        _walk(target, name + "/", boundary, prune, out, seen)
