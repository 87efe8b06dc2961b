"""Ask the local R installation which packages it has, and say how to install the ones it lacks.

One Rscript call per check: starting R costs far more than looking up many packages in it.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from rjobs.environment.packages import is_package_name

_RSCRIPT_MARKER = "<<envcheck-missing>>"
_VERSIONS_MARKER = "<<envcheck-versions>>"
_RSCRIPT_TIMEOUT_SECONDS = 120
_PROBE_EXPR = (
    "pkgs <- commandArgs(trailingOnly = TRUE); "
    "found <- vapply(pkgs, function(p) nzchar(system.file(package = p)), logical(1)); "
    f'cat("{_RSCRIPT_MARKER}", pkgs[!found], sep = "\\n"); '
    "versions <- vapply(pkgs[found], function(p) as.character(utils::packageVersion(p)), character(1)); "
    f'cat("", "{_VERSIONS_MARKER}", paste0("R\\t", R.version$major, ".", R.version$minor), '
    'paste0(pkgs[found], "\\t", versions), sep = "\\n")'
)


@dataclass(frozen=True)
class LocalR:
    """What one question to local R found: its version, the packages it lacks and the versions of the others."""

    missing: list[str]
    versions: dict[str, str] = field(default_factory=dict)
    r_version: str | None = None


def find_rscript(rscript: str = "Rscript") -> str | None:
    """Full path of the Rscript executable, or None when R is not installed (or not on PATH)."""
    return shutil.which(rscript)


def probe_r(packages: Iterable[str], rscript: str = "Rscript") -> LocalR:
    """Ask local R, in one Rscript call, its version, which packages it lacks and the versions of the others.

    Checks installation (system.file), not loading, so a check of many packages stays fast.
    Raises FileNotFoundError when Rscript is absent and RuntimeError when R itself fails.
    """
    wanted = sorted(set(packages))
    invalid = [p for p in wanted if not is_package_name(p)]
    to_ask = [p for p in wanted if is_package_name(p)]
    executable = find_rscript(rscript)
    if not to_ask and executable is None:
        return LocalR(missing=invalid)
    if executable is None:
        raise FileNotFoundError(f"Rscript not found: {rscript!r}")
    result = subprocess.run(
        [executable, "-e", _PROBE_EXPR, *to_ask],
        capture_output=True,
        text=True,
        timeout=_RSCRIPT_TIMEOUT_SECONDS,
        check=False,
    )
    lines = result.stdout.splitlines()
    if result.returncode != 0 or _RSCRIPT_MARKER not in lines:
        raise RuntimeError(f"{executable} could not check packages (exit {result.returncode}): {result.stderr.strip()}")
    reported = lines[lines.index(_RSCRIPT_MARKER) + 1 :]
    versions: dict[str, str] = {}
    if _VERSIONS_MARKER in reported:
        cut = reported.index(_VERSIONS_MARKER)
        reported, version_lines = reported[:cut], reported[cut + 1 :]
        versions = dict(line.split("\t", 1) for line in version_lines if "\t" in line)
    missing = sorted({line.strip() for line in reported if line.strip()} | set(invalid))
    r_version = versions.pop("R", None)
    return LocalR(missing=missing, versions=versions, r_version=r_version)


def missing_r_packages(packages: Iterable[str], rscript: str = "Rscript") -> list[str]:
    """Which of packages local R does not have installed, asked in one Rscript call (see probe_r)."""
    wanted = set(packages)
    if not any(is_package_name(p) for p in wanted):
        return sorted(wanted)
    return probe_r(wanted, rscript).missing


def install_hint(missing: Iterable[str], *, debian: bool | None = None) -> str:
    """A command that installs the missing packages on this machine (apt on Debian, else CRAN)."""
    names = sorted(set(missing))
    if not names:
        return ""
    if debian is None:
        debian = Path("/etc/debian_version").exists()
    if debian:
        return "apt-get install -y " + " ".join(sorted({f"r-cran-{name.lower()}" for name in names}))
    quoted = ", ".join(f'"{name}"' for name in names)
    return f"Rscript -e 'install.packages(c({quoted}))'"
