"""An environment build context generated from renv.lock: the R version picks the rocker/r-ver tag and every locked
package is installed at its locked version from the lock's repository, so the Azure image matches the lock.

Each package is one visible `install_version("name", "version")` line (the Dockerfile check reads them back), and
the build fails when any package ends up at another version than the lock's.
"""

from __future__ import annotations

import re
from pathlib import Path

from rjobs.core.errors import InputError
from rjobs.core.files import atomic_write_text
from rjobs.environment.renv_lock import LOCK_FILE, LockedPackage, RenvLock

_VERSION = re.compile(r"[0-9]+(?:[.-][0-9]+)*")
_SAFE_URL = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://[^\s'\"\\$`]+")
_SAFE_REMOTE = re.compile(r"[A-Za-z0-9_.-]+/[A-Za-z0-9_./-]+(?:@[A-Za-z0-9_./-]+)?")
GENERATED_MARK = f"# Generated from {LOCK_FILE} by r-azure-ml"
_FIX = "fix the entry in renv.lock (renv::snapshot() writes it), or write docker-context/Dockerfile yourself"


def _ordered(lock: RenvLock) -> list[LockedPackage]:
    """Locked packages in name order; install_version() installs a package's missing dependencies itself."""
    return sorted(lock.packages.values(), key=lambda package: package.name.lower())


def _install_line(lock: RenvLock, package: LockedPackage) -> str:
    if not _VERSION.fullmatch(package.version):
        raise InputError(lock.path, f"Packages.{package.name}.Version", f"{package.version!r} is no version", _FIX)
    if package.source == "GitHub":
        if package.remote is None or not _SAFE_REMOTE.fullmatch(package.remote):
            raise InputError(lock.path, f"Packages.{package.name}", "has no usable RemoteUsername/RemoteRepo", _FIX)
        install = f'remotes::install_github("{package.remote}", upgrade = "never", repos = repos)'
    elif package.source == "Repository":
        install = f'remotes::install_version("{package.name}", "{package.version}", repos = repos, upgrade = "never")'
    else:
        raise InputError(lock.path, f"Packages.{package.name}.Source", f"{package.source} is not supported", _FIX)
    return f'if (!at("{package.name}", "{package.version}")) {install}'


def renv_dockerfile(lock: RenvLock) -> str:
    """The Dockerfile for lock: FROM rocker/r-ver:<R version>, then each package pinned, then a version check."""
    if not _VERSION.fullmatch(lock.r_version):
        raise InputError(lock.path, "R.Version", f"{lock.r_version!r} is no R version", _FIX)
    repository = lock.cran_url
    if repository is None or not _SAFE_URL.fullmatch(repository):
        raise InputError(lock.path, "R.Repositories", "names no repository URL to install from", _FIX)
    expressions = [
        f'repos <- c(CRAN = "{repository}")',
        "at <- function(p, v) nzchar(system.file(package = p)) && as.character(packageVersion(p)) == v",
        "locked <- c(" + ", ".join(f'"{p.name}" = "{p.version}"' for p in _ordered(lock)) + ")",
        "pinned <- function() vapply(names(locked), function(p) at(p, locked[[p]]), logical(1))",
        'if (!all(pinned()) && !requireNamespace("remotes", quietly = TRUE)) '
        'install.packages("remotes", repos = repos)',
        *(_install_line(lock, package) for package in _ordered(lock)),
        "off <- names(locked)[!pinned()]",
        'if (length(off) > 0) stop("not at the version renv.lock pins: ", paste(off, collapse = ", "))',
    ]
    run = " \\\n    ".join(f"-e '{expression}'" for expression in expressions)
    return (
        f"{GENERATED_MARK} (r-azure-ml renv-context): edit the lock, not this file.\n"
        f"# R {lock.r_version} and every locked package at its locked version, from {repository}.\n"
        f"FROM rocker/r-ver:{lock.r_version}\n\n"
        f"COPY {LOCK_FILE} /opt/{LOCK_FILE}\n"
        f"RUN Rscript {run} \\\n    && rm -rf /tmp/downloaded_packages\n"
    )


def write_renv_context(lock: RenvLock, context_dir: Path) -> Path:
    """Write context_dir/Dockerfile and a copy of the lock beside it (the image keeps it); the Dockerfile's path."""
    dockerfile = Path(context_dir) / "Dockerfile"
    text = renv_dockerfile(lock)
    atomic_write_text(Path(context_dir) / LOCK_FILE, lock.path.read_text(encoding="utf-8"))
    atomic_write_text(dockerfile, text)
    return dockerfile
