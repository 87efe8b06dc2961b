"""The code snapshot: the files of a job's code folder that a job gets, in a stable order. One listing serves the run
name's hash, the local backend's per-cell copy and the Azure code asset (uploaded from a copy of exactly these files),
so all three agree.

Left out: names in ALWAYS_IGNORED at any depth (.git, .venv, caches), the results folder when it lies inside the code
folder, whatever the folder's .amlignore (else .gitignore) excludes, matched as azure-ai-ml's code upload matches it
(its IgnoreFile.is_file_excluded over its own gitwildmatch patterns), and special files (FIFOs, devices, sockets).
A symlink is followed only when its target lies inside the code folder; one pointing outside is left out with a
warning (copy what it points at into the folder, or give it to the job as an input).
"""

from __future__ import annotations

import functools
import importlib.util
import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

from rjobs.core.errors import InputError
from rjobs.core.hashing import hash_listing
from rjobs.core.safe_files import Listing, copy_regular, list_files

ALWAYS_IGNORED = frozenset(
    {
        ".git",
        ".hg",
        ".svn",
        ".venv",
        "__pycache__",
        "node_modules",
        ".Rproj.user",
        ".ipynb_checkpoints",
        ".pytest_cache",
        ".ruff_cache",
        ".mypy_cache",
        ".DS_Store",
    }
)
IGNORE_FILES = (".amlignore", ".gitignore")
"""Azure ML reads the first that exists in the code folder's root (get_ignore_file); nested ones are not read."""
IGNORE_FILE_ENCODING = "utf-8-sig"


@functools.cache
def _sdk_pathspec() -> ModuleType:
    """azure-ai-ml's own gitwildmatch patterns (azure/ai/ml/_utils/_pathspec.py, stdlib only), loaded from its file:
    importing it as a module would import all of azure.ai.ml first, seconds of CPU for every local run."""
    spec = importlib.util.find_spec("azure")
    for location in (spec.submodule_search_locations or []) if spec else []:
        path = Path(location) / "ai" / "ml" / "_utils" / "_pathspec.py"
        loader_spec = importlib.util.spec_from_file_location("rjobs_azure_ml_pathspec", path)
        if path.is_file() and loader_spec is not None and loader_spec.loader is not None:
            module = importlib.util.module_from_spec(loader_spec)
            loader_spec.loader.exec_module(module)
            return module
    from azure.ai.ml._utils import _pathspec

    return _pathspec


class IgnoreRules:
    """The patterns of one ignore file, matched as azure-ai-ml's IgnoreFile.is_file_excluded matches them: every
    line is a gitwildmatch pattern on the path relative to the code folder, and the last pattern that matches
    decides."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self.patterns: list[Any] = []
        self.negates = False
        if path is None:
            return
        module = _sdk_pathspec()
        try:
            with path.open(encoding=IGNORE_FILE_ENCODING) as handle:
                lines = [line.rstrip() for line in handle if line]
        except (OSError, UnicodeDecodeError) as exc:
            raise InputError(path, None, f"cannot be read ({exc})", "fix or remove the ignore file") from None
        for number, line in enumerate(lines, 1):
            try:
                pattern = module.GitWildMatchPattern(line)
            except ValueError as exc:
                raise InputError(path, f"line {number}", f"{line!r} is not a pattern ({exc})", "fix it") from None
            if pattern.include is not None:
                self.patterns.append(pattern)
        self._normalize = module.normalize_file
        self.negates = any(not pattern.include for pattern in self.patterns)

    def excluded(self, relative: str) -> bool:
        """Whether a file (relative posix name) is left out of the upload."""
        if not self.patterns:
            return False
        matched = False
        name = self._normalize(relative)
        for pattern in self.patterns:
            if pattern.match_file(name) is not None:
                matched = bool(pattern.include)
        return matched

    def prunes(self, folder: str) -> bool:
        """A folder whose every file would be excluded, so its walk can be skipped: it matches as a folder ("name/")
        and no '!' pattern could bring a file back."""
        return bool(self.patterns) and not self.negates and self.excluded(folder + "/")


def ignore_file(code_dir: Path) -> Path | None:
    """The .amlignore, else the .gitignore, in the code folder's root: the one Azure ML's code upload honours."""
    for name in IGNORE_FILES:
        if (code_dir / name).is_file():
            return code_dir / name
    return None


@dataclass(frozen=True)
class CodeSnapshot:
    """The files of a code folder a job gets, and what was left out as a hazard (never what was ignored)."""

    root: Path
    files: tuple[tuple[str, Path], ...]
    """(relative posix name, path to read), in the stable order of safe_files.list_files."""
    skipped: tuple[tuple[str, str], ...]
    ignore_file: Path | None

    def warn(self) -> None:
        Listing(skipped=list(self.skipped)).warn(f"code folder {self.root}")


def code_snapshot(code_dir: Path, *, exclude: Iterable[Path] = ()) -> CodeSnapshot:
    """The code folder as a job gets it; folders in exclude (a results folder) are left out when inside it."""
    root = code_dir.resolve()
    rules = IgnoreRules(ignore_file(root))
    left_out = set()
    for path in exclude:
        resolved = Path(os.path.abspath(path)).resolve()
        if resolved != root and resolved.is_relative_to(root):
            left_out.add(resolved.relative_to(root).as_posix())

    def prune(name: str, is_folder: bool) -> bool:
        if name.rsplit("/", 1)[-1] in ALWAYS_IGNORED or name in left_out:
            return True
        return rules.prunes(name) if is_folder else rules.excluded(name)

    listing = list_files(root, boundary=root, prune=prune)
    return CodeSnapshot(root, tuple(listing.files), tuple(listing.skipped), rules.path)


def snapshot_hash(snapshot: CodeSnapshot) -> str:
    """SHA-256 of names and bytes, as core.hashing.hash_tree digests a folder (a clean folder hashes the same)."""
    return hash_listing(snapshot.files)


def copy_snapshot(snapshot: CodeSnapshot, target: Path) -> None:
    """Write the snapshot's files under target as regular files (symlinks inside the folder become copies)."""
    target.mkdir(parents=True, exist_ok=True)
    for name, path in snapshot.files:
        copy_regular(path, target / name)
