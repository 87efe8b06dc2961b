"""What counts as an R package name, and which packages ship with R itself.

Shared by the code scanner, the Dockerfile parser and the local-R probe so the three agree on names.
"""

from __future__ import annotations

import re

BASE_PACKAGES: frozenset[str] = frozenset(
    {
        "base",
        "compiler",
        "datasets",
        "graphics",
        "grDevices",
        "grid",
        "methods",
        "parallel",
        "splines",
        "stats",
        "stats4",
        "tcltk",
        "tools",
        "utils",
    }
)

INSTALL_TOOLS: frozenset[str] = frozenset({"renv", "remotes", "pak", "devtools", "BiocManager", "littler", "docopt"})
"""Packages a Dockerfile installs to install others: never reported as installed but unused."""

_PACKAGE_NAME = re.compile(r"[A-Za-z][A-Za-z0-9.]*[A-Za-z0-9]")


def is_package_name(name: str) -> bool:
    """True for a name CRAN would accept; anything else is noise from a parse or unsafe to pass to R."""
    return _PACKAGE_NAME.fullmatch(name) is not None
