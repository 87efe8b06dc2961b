"""Check that local R can run the R code before any job starts, and that the image the Dockerfile builds agrees.

Combines the code scan (rscan), what the image has (dockerfile: its installs, base image and restored renv.lock),
one question to local R (local_r) and a project's renv.lock into a report; the backends' names are re-exported.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from rjobs.core.errors import InputError
from rjobs.environment.dockerfile import ImageContents, dockerfile_packages, image_contents
from rjobs.environment.local_r import find_rscript, install_hint, missing_r_packages, probe_r
from rjobs.environment.packages import BASE_PACKAGES, INSTALL_TOOLS
from rjobs.environment.renv_context import GENERATED_MARK, renv_dockerfile
from rjobs.environment.renv_lock import LOCK_FILE, RenvLock, find_renv_lock, read_renv_lock
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


def _major_minor(version: str | None) -> str | None:
    parts = (version or "").split(".")
    return ".".join(parts[:2]) if len(parts) >= 2 else None


@dataclass
class EnvReport:
    """What the R code needs versus what local R has and what the image built from the Dockerfile has.

    missing is an error (the local run would fail); everything in warnings() does not stop a local run.
    Packages only used by files marked `# envcheck: optional` are listed in optional, not checked.
    """

    used: dict[str, list[str]]
    docker: set[str]
    missing: list[str]
    docker_only: list[str]
    not_in_docker: list[str]
    optional: dict[str, list[str]] = field(default_factory=dict)
    rscript: str | None = None
    image: ImageContents | None = None
    dynamic: dict[str, list[str]] = field(default_factory=dict)
    local_r_version: str | None = None
    lock: RenvLock | None = None
    lock_differences: list[str] = field(default_factory=list)
    lock_not_built: str | None = None

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
        """Mismatches between the code, local R and the image that do not stop a local run."""
        notes: list[str] = []
        image = self.image
        base = image.base.reference if image is not None and image.base is not None else "the image"
        if self.not_in_docker:
            notes.append(
                f"R packages used by the code that the Dockerfile does not install and {base} does not contain "
                f"(jobs on Azure ML would lack them): {', '.join(self.not_in_docker)}"
            )
        if image is not None and not image.known:
            why = "renv::restore() has no renv.lock in the build context" if image.restores_lock else "is unknown"
            subject = "the Dockerfile" if image.restores_lock else f"base image {base}"
            notes.append(f"{subject}: {why}, so whether the image has the code's packages is not checked")
        if self.docker_only:
            notes.append(f"R packages the Dockerfile installs but the code never uses: {', '.join(self.docker_only)}")
        for file, calls in sorted(self.dynamic.items()):
            notes.append(f"{file}: {'; '.join(calls)} loads a package chosen at run time, which no check can see")
        image_r = image.r_version if image is not None else None
        local, remote = _major_minor(self.local_r_version), _major_minor(image_r)
        if local and remote and local != remote:
            notes.append(f"local R is {self.local_r_version} but the image's is {image_r}: results can differ")
        if self.lock_not_built:
            notes.append(self.lock_not_built)
        if self.lock_differences:
            notes.append(
                f"installed R packages differ from {self.lock.path if self.lock else 'renv.lock'}: "
                + ", ".join(self.lock_differences)
            )
        return notes


def _lock_differences(lock: RenvLock, versions: dict[str, str], missing: list[str]) -> list[str]:
    """`pkg local X, locked Y` for each locked package local R has at another version or lacks."""
    differences = []
    for name, package in sorted(lock.packages.items(), key=lambda item: item[0].lower()):
        local = versions.get(name)
        if local is None and name in missing:
            differences.append(f"{name} not installed, locked {package.version}")
        elif local is not None and local != package.version:
            differences.append(f"{name} local {local}, locked {package.version}")
    return differences


def _lock_not_built(lock: RenvLock, dockerfile: Path, image: ImageContents) -> str | None:
    """Why the image would not match a project's renv.lock, or None: a generated Dockerfile older than the lock, or
    one that neither restores the lock nor was generated from it."""
    text = dockerfile.read_text(encoding="utf-8")
    fix = f"run r-azure-ml renv-context --lock {lock.path} --out {dockerfile.parent}"
    if text.startswith(GENERATED_MARK):
        try:
            current = renv_dockerfile(lock)
        except InputError as exc:
            return f"{dockerfile} cannot be generated from {lock.path}: {exc}"
        return None if current == text else f"{dockerfile} was generated from an older {LOCK_FILE}; {fix}"
    if image.restores_lock:
        return None
    return f"{lock.path} is not what {dockerfile} installs (no renv::restore(), not generated from it); {fix}"


def check_environment(
    code_dir: Path, dockerfile: Path | None, rscript: str = "Rscript", project_dir: Path | None = None
) -> EnvReport:
    """Compare the code's packages with local R, the image and any renv.lock; reports, never raises on findings.

    A missing Rscript counts every used package as missing. Names are compared case-insensitively
    with the Dockerfile, because Debian's r-cran-* names are lower case.
    """
    usage = package_usage(code_dir)
    used, everything = usage.required, usage.everything
    optional = {p: files for p, files in everything.items() if p not in used}
    image = image_contents(dockerfile) if dockerfile is not None else None
    lock_path = find_renv_lock(code_dir, project_dir)
    lock = read_renv_lock(lock_path) if lock_path is not None else image.lock if image is not None else None

    executable = find_rscript(rscript)
    local_r = probe_r(set(used) | set(lock.packages if lock else ()), executable) if executable else None
    missing = sorted(p for p in (local_r.missing if local_r else used) if p in used)

    not_in_docker: list[str] = []
    docker_only: list[str] = []
    if image is not None:
        has = {name.lower() for name in image.packages}
        used_lower = {name.lower() for name in everything}
        if image.known:
            not_in_docker = sorted(p for p in used if p.lower() not in has)
        docker_only = sorted(p for p in image.installed - INSTALL_TOOLS if p.lower() not in used_lower)
    return EnvReport(
        used=used,
        docker=set(image.installed) if image is not None else set(),
        missing=missing,
        docker_only=docker_only,
        not_in_docker=not_in_docker,
        optional=optional,
        rscript=executable,
        image=image,
        dynamic=usage.dynamic,
        local_r_version=local_r.r_version if local_r else None,
        lock=lock,
        lock_differences=_lock_differences(lock, local_r.versions, local_r.missing) if lock and local_r else [],
        lock_not_built=_lock_not_built(lock, dockerfile, image) if lock_path and dockerfile and image else None,
    )
