"""renv.lock, read as the JSON it is (no renv needed): the R version, the repositories and each locked package.

Where the lock is looked for (the code folder, then the project beside job.yml) is decided here once.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from rjobs.core.errors import InputError
from rjobs.environment.packages import is_package_name

LOCK_FILE = "renv.lock"
_FIX = "regenerate it with renv::snapshot()"


@dataclass(frozen=True)
class LockedPackage:
    """One package of the lock: its version and where renv got it (CRAN-like repository, GitHub, ...)."""

    name: str
    version: str
    source: str
    repository: str | None = None
    remote: str | None = None  # user/repo@ref for a GitHub package


@dataclass(frozen=True)
class RenvLock:
    path: Path
    r_version: str
    repositories: dict[str, str]
    packages: dict[str, LockedPackage]

    @property
    def cran_url(self) -> str | None:
        """The repository most packages came from: CRAN's entry, else the first listed."""
        if "CRAN" in self.repositories:
            return self.repositories["CRAN"]
        return next(iter(self.repositories.values()), None)


def _package(path: Path, key: str, raw: object) -> LockedPackage:
    if not isinstance(raw, dict) or not isinstance(raw.get("Version"), str):
        raise InputError(path, f"Packages.{key}", "has no Version", _FIX)
    name = str(raw.get("Package") or key)
    if not is_package_name(name):
        raise InputError(path, f"Packages.{key}", f"{name!r} is not an R package name", _FIX)
    remote = None
    if raw.get("RemoteUsername") and raw.get("RemoteRepo"):
        remote = f"{raw['RemoteUsername']}/{raw['RemoteRepo']}"
        if raw.get("RemoteSubdir"):
            remote += f"/{raw['RemoteSubdir']}"
        if raw.get("RemoteSha") or raw.get("RemoteRef"):
            remote += f"@{raw.get('RemoteSha') or raw.get('RemoteRef')}"
    return LockedPackage(
        name=name,
        version=raw["Version"],
        source=str(raw.get("Source") or "Repository"),
        repository=str(raw["Repository"]) if raw.get("Repository") else None,
        remote=remote,
    )


def read_renv_lock(path: Path) -> RenvLock:
    """Parse renv.lock; a file that is not a lock is an InputError naming the file and the key."""
    try:
        raw = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise InputError(path, None, f"is not valid JSON ({exc})", _FIX) from exc
    if not isinstance(raw, dict) or not isinstance(raw.get("R"), dict):
        raise InputError(path, "R", "is missing", _FIX)
    version = raw["R"].get("Version")
    if not isinstance(version, str) or not version:
        raise InputError(path, "R.Version", "is missing", _FIX)
    repositories = {
        str(repo.get("Name")): str(repo.get("URL"))
        for repo in raw["R"].get("Repositories") or []
        if isinstance(repo, dict) and repo.get("Name") and repo.get("URL")
    }
    packages_raw = raw.get("Packages") or {}
    if not isinstance(packages_raw, dict):
        raise InputError(path, "Packages", "is not a mapping of package -> record", _FIX)
    packages = {key: _package(path, key, value) for key, value in sorted(packages_raw.items())}
    return RenvLock(path=Path(path), r_version=version, repositories=repositories, packages=packages)


def find_renv_lock(*folders: Path | None) -> Path | None:
    """The first renv.lock in the given folders (the code folder, then the project), or None."""
    for folder in folders:
        if folder is not None and (Path(folder) / LOCK_FILE).is_file():
            return Path(folder) / LOCK_FILE
    return None
