"""Ask the local R installation which packages it has, and say how to install the ones it lacks.

One Rscript call per check: starting R costs far more than looking up many packages in it.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterable
from pathlib import Path

from rjobs.environment.packages import is_package_name

_RSCRIPT_MARKER = "<<envcheck-missing>>"
_RSCRIPT_TIMEOUT_SECONDS = 120
_MISSING_EXPR = (
    "pkgs <- commandArgs(trailingOnly = TRUE); "
    "found <- vapply(pkgs, function(p) nzchar(system.file(package = p)), logical(1)); "
    f'cat("{_RSCRIPT_MARKER}", pkgs[!found], sep = "\\n")'
)


def find_rscript(rscript: str = "Rscript") -> str | None:
    """Full path of the Rscript executable, or None when R is not installed (or not on PATH)."""
    return shutil.which(rscript)


def missing_r_packages(packages: Iterable[str], rscript: str = "Rscript") -> list[str]:
    """Which of packages local R does not have installed, asked in one Rscript call.

    Checks installation (system.file), not loading, so a check of many packages stays fast.
    Raises FileNotFoundError when Rscript is absent and RuntimeError when R itself fails.
    """
    wanted = sorted(set(packages))
    invalid = [p for p in wanted if not is_package_name(p)]
    to_ask = [p for p in wanted if is_package_name(p)]
    if not to_ask:
        return invalid
    executable = find_rscript(rscript)
    if executable is None:
        raise FileNotFoundError(f"Rscript not found: {rscript!r}")
    result = subprocess.run(
        [executable, "-e", _MISSING_EXPR, *to_ask],
        capture_output=True,
        text=True,
        timeout=_RSCRIPT_TIMEOUT_SECONDS,
        check=False,
    )
    lines = result.stdout.splitlines()
    if result.returncode != 0 or _RSCRIPT_MARKER not in lines:
        raise RuntimeError(f"{executable} could not check packages (exit {result.returncode}): {result.stderr.strip()}")
    reported = lines[lines.index(_RSCRIPT_MARKER) + 1 :]
    return sorted({line.strip() for line in reported if line.strip()} | set(invalid))


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
