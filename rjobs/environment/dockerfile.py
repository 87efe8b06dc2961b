"""Which R packages a Dockerfile installs, read from the usual idioms without building the image.

Covers install.packages, remotes' install_version and install_github, littler's install2.r/installGithub.r,
r-cran-* apt packages, renv::restore() from the context's renv.lock, and what the FROM image already contains.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass
from pathlib import Path

from rjobs.environment.base_images import BaseImage, base_image
from rjobs.environment.packages import is_package_name
from rjobs.environment.renv_lock import LOCK_FILE, RenvLock, read_renv_lock

_INSTALL_PACKAGES = re.compile(
    r"\b(?:install\.packages|install_cran)\(\s*(?:pkgs\s*=\s*)?(?:c\((?P<many>[^)]*)\)|(?P<q>['\"])(?P<one>[^'\"]+)(?P=q))"
)
_INSTALL_VERSION = re.compile(r"\binstall_version\(\s*(?:package\s*=\s*)?(?P<q>['\"])(?P<name>[^'\"]+)(?P=q)")
_INSTALL_GITHUB = re.compile(r"\binstall_github\(\s*(?:repo\s*=\s*)?(?P<q>['\"])(?P<ref>[^'\"]+)(?P=q)")
_QUOTED = re.compile(r"""(['"])([^'"]+)\1""")
_DEBIAN_R_PACKAGE = re.compile(r"(?<![\w.-])r-(?:cran|bioc)-(?P<name>[a-z0-9.]+)")
_LITTLER = re.compile(r"(?:^|[\s/;&|(])(?P<tool>install2\.r|installGithub\.r)(?P<args>[^\n;&|)]*)")
# install2.r options that consume the next argument (littler's docopt usage).
_RENV_RESTORE = re.compile(r"\brenv::restore\b|\brestore\(\s*lockfile\b")
_INSTRUCTION = re.compile(r"^\s*(?P<keyword>[A-Za-z]+)\s+(?P<rest>.*)$")
_LITTLER_VALUE_OPTIONS = frozenset(
    {"-r", "--repos", "-l", "--libloc", "-d", "--deps", "-n", "--ncpus", "-m", "--method", "-t", "--type"}
)


def _dockerfile_text(dockerfile: Path) -> str:
    """The Dockerfile's instructions with comment lines dropped and continuations joined."""
    lines = [
        line for line in Path(dockerfile).read_text(encoding="utf-8").splitlines() if not line.lstrip().startswith("#")
    ]
    joined = re.sub(r"\\[ \t]*\n", " ", "\n".join(lines))
    return joined.replace('\\"', '"').replace("\\'", "'")


def dockerfile_instructions(dockerfile: Path) -> str:
    """The Dockerfile's instructions, one per line (comments dropped, continuations joined), for other readers."""
    return _dockerfile_text(dockerfile)


def _littler_arguments(args: str) -> list[str]:
    """Positional arguments of an install2.r / installGithub.r call (options and values dropped)."""
    try:
        words = shlex.split(args)
    except ValueError:
        words = args.split()
    positional: list[str] = []
    skip_next = False
    for word in words:
        if skip_next:
            skip_next = False
        elif word.startswith("-"):
            skip_next = word in _LITTLER_VALUE_OPTIONS
        else:
            positional.append(word)
    return positional


def _github_package(ref: str) -> str:
    """Package name of an installGithub.r reference like user/repo[/subdir][@ref|#pr]."""
    return re.split(r"[@#]", ref, maxsplit=1)[0].rstrip("/").rsplit("/", 1)[-1]


def dockerfile_packages(dockerfile: Path) -> set[str]:
    """R packages the Dockerfile installs: install.packages, install_version, littler, r-cran-* apt.

    Debian package names are lower case, so r-cran-* installs come back lower-cased.
    """
    text = _dockerfile_text(dockerfile)
    found: set[str] = set()
    for match in _INSTALL_PACKAGES.finditer(text):
        if match["many"] is not None:
            found.update(name for _, name in _QUOTED.findall(match["many"]))
        else:
            found.add(match["one"])
    found.update(match["name"] for match in _INSTALL_VERSION.finditer(text))
    found.update(_github_package(match["ref"]) for match in _INSTALL_GITHUB.finditer(text))
    found.update(match["name"] for match in _DEBIAN_R_PACKAGE.finditer(text))
    for match in _LITTLER.finditer(text):
        for arg in _littler_arguments(match["args"]):
            found.add(_github_package(arg) if match["tool"] == "installGithub.r" else arg)
    return {name for name in found if is_package_name(name)}


@dataclass(frozen=True)
class ImageContents:
    """What the image built from a Dockerfile has: its own installs, its base image's and a restored renv.lock's."""

    installed: frozenset[str]
    base: BaseImage | None
    lock: RenvLock | None
    restores_lock: bool = False

    @property
    def known(self) -> bool:
        """False when the base image is unknown, or renv restores a lock not in the context: absent packages may
        then still be there."""
        if self.restores_lock and self.lock is None:
            return False
        return self.base is None or self.base.packages is not None

    @property
    def packages(self) -> frozenset[str]:
        """Every package the image is known to have."""
        base = self.base.packages if self.base is not None and self.base.packages is not None else frozenset()
        locked = frozenset(self.lock.packages) if self.lock is not None else frozenset()
        return self.installed | base | locked

    @property
    def r_version(self) -> str | None:
        """The image's R version: the lock's when the image restores one, else the base image tag's."""
        if self.lock is not None:
            return self.lock.r_version
        return self.base.r_version if self.base is not None else None


def image_contents(dockerfile: Path) -> ImageContents:
    """The Dockerfile's installs, its final base image, and the renv.lock beside it when it runs renv::restore()."""
    text = _dockerfile_text(dockerfile)
    instructions = [
        (match["keyword"].upper(), match["rest"]) for line in text.splitlines() if (match := _INSTRUCTION.match(line))
    ]
    lock_path = Path(dockerfile).parent / LOCK_FILE
    restores = _RENV_RESTORE.search(text) is not None
    lock = read_renv_lock(lock_path) if restores and lock_path.is_file() else None
    return ImageContents(frozenset(dockerfile_packages(dockerfile)), base_image(instructions), lock, restores)
