"""Check that local R can run the R code before any job starts, and that the Dockerfile agrees.

Combines the code scan (rscan), the Dockerfile parse (dockerfile) and one question to local R (local_r)
into a report; the names the backends use are re-exported here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from rjobs.environment.dockerfile import dockerfile_packages
from rjobs.environment.local_r import find_rscript, install_hint, missing_r_packages
from rjobs.environment.packages import BASE_PACKAGES
from rjobs.environment.rscan import package_usage, r_packages_used

__all__ = [
    "BASE_PACKAGES",
    "EnvReport",
    "check_environment",
    "dockerfile_packages",
    "find_rscript",
    "install_hint",
    "missing_r_packages",
    "r_packages_used",
]


@dataclass
class EnvReport:
    """What the R code needs versus what local R has and what the Dockerfile installs.

    missing is an error (the local run would fail); docker_only and not_in_docker are warnings.
    Packages only used by files marked `# envcheck: optional` are listed in optional, not checked.
    """

    used: dict[str, list[str]]
    docker: set[str]
    missing: list[str]
    docker_only: list[str]
    not_in_docker: list[str]
    optional: dict[str, list[str]] = field(default_factory=dict)
    rscript: str | None = None

    @property
    def ok(self) -> bool:
        """True when local R exists and has every package the code uses."""
        return self.rscript is not None and not self.missing

    def errors(self) -> list[str]:
        """Problems that make a local run fail, as sentences for a log or an exception."""
        problems: list[str] = []
        if self.rscript is None:
            problems.append("Rscript not found on PATH; install R (scripts/install-r.sh on Debian)")
        if self.missing:
            problems.append(
                f"R packages used by the code but not installed locally: {', '.join(self.missing)}"
                f" (install with: {install_hint(self.missing)})"
            )
        return problems

    def warnings(self) -> list[str]:
        """Mismatches between the code and the Dockerfile that do not stop a local run."""
        notes: list[str] = []
        if self.not_in_docker:
            notes.append(
                "R packages used by the code but not installed by the Dockerfile (jobs on Azure ML "
                f"would lack them): {', '.join(self.not_in_docker)}"
            )
        if self.docker_only:
            notes.append(f"R packages the Dockerfile installs but the code never uses: {', '.join(self.docker_only)}")
        return notes


def check_environment(code_dir: Path, dockerfile: Path | None, rscript: str = "Rscript") -> EnvReport:
    """Compare the code's packages with local R and the Dockerfile; reports, never raises on findings.

    A missing Rscript counts every used package as missing. Names are compared case-insensitively
    with the Dockerfile, because Debian's r-cran-* names are lower case.
    """
    used, everything = package_usage(code_dir)
    optional = {p: files for p, files in everything.items() if p not in used}
    docker = dockerfile_packages(dockerfile) if dockerfile is not None else set()

    executable = find_rscript(rscript)
    missing = missing_r_packages(used, executable) if executable else sorted(used)

    if dockerfile is None:
        not_in_docker: list[str] = []
        docker_only: list[str] = []
    else:
        docker_lower = {name.lower() for name in docker}
        used_lower = {name.lower() for name in everything}
        not_in_docker = sorted(p for p in used if p.lower() not in docker_lower)
        docker_only = sorted(p for p in docker if p.lower() not in used_lower)
    return EnvReport(
        used=used,
        docker=docker,
        missing=missing,
        docker_only=docker_only,
        not_in_docker=not_in_docker,
        optional=optional,
        rscript=executable,
    )
