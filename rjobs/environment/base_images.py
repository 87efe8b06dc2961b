"""What the common R base images already contain, so a Dockerfile is not blamed for packages its FROM provides.

The lists follow the rocker-versioned2 build scripts (setup_R.sh, install_tidyverse.sh, install_verse.sh,
install_geospatial.sh, install_shiny_server.sh) and Debian's r-base; each image includes its parent's packages
and the dependency closure of what it installs (the names a script commonly loads directly).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

RECOMMENDED = frozenset(
    {"boot", "class", "cluster", "codetools", "foreign", "KernSmooth", "lattice", "MASS", "Matrix", "mgcv", "nlme"}
    | {"nnet", "rpart", "spatial", "survival"}
)
_R_VER = RECOMMENDED | {"littler", "docopt"}
_TIDYVERSE_CLOSURE = frozenset(
    [
        "askpass",
        "assertthat",
        "backports",
        "base64enc",
        "bit",
        "bit64",
        "blob",
        "broom",
        "bslib",
        "cachem",
        "callr",
        "cellranger",
        "cli",
        "clipr",
        "colorspace",
        "conflicted",
        "cpp11",
        "crayon",
        "curl",
        "data.table",
        "DBI",
        "dbplyr",
        "digest",
        "dplyr",
        "dtplyr",
        "ellipsis",
        "evaluate",
        "fansi",
        "farver",
        "fastmap",
        "fontawesome",
        "forcats",
        "fs",
        "gargle",
        "generics",
        "ggplot2",
        "glue",
        "googledrive",
        "googlesheets4",
        "gtable",
        "haven",
        "highr",
        "hms",
        "htmltools",
        "httr",
        "ids",
        "isoband",
        "jquerylib",
        "jsonlite",
        "knitr",
        "labeling",
        "lifecycle",
        "lubridate",
        "magrittr",
        "memoise",
        "mime",
        "modelr",
        "munsell",
        "openssl",
        "pillar",
        "pkgconfig",
        "prettyunits",
        "processx",
        "progress",
        "ps",
        "purrr",
        "R6",
        "ragg",
        "rappdirs",
        "RColorBrewer",
        "readr",
        "readxl",
        "rematch",
        "rematch2",
        "reprex",
        "rlang",
        "rmarkdown",
        "rstudioapi",
        "rvest",
        "sass",
        "scales",
        "selectr",
        "stringi",
        "stringr",
        "sys",
        "systemfonts",
        "textshaping",
        "tibble",
        "tidyr",
        "tidyselect",
        "tidyverse",
        "timechange",
        "tinytex",
        "tzdb",
        "utf8",
        "uuid",
        "vctrs",
        "viridisLite",
        "vroom",
        "withr",
        "xfun",
        "xml2",
        "yaml",
    ]
)
_DEVTOOLS_CLOSURE = frozenset(
    [
        "devtools",
        "usethis",
        "pkgbuild",
        "pkgload",
        "pkgdown",
        "rcmdcheck",
        "remotes",
        "roxygen2",
        "rversions",
        "sessioninfo",
        "testthat",
        "urlchecker",
        "profvis",
        "miniUI",
        "desc",
        "brio",
        "waldo",
        "praise",
        "diffobj",
        "gh",
        "gitcreds",
        "credentials",
        "whisker",
        "zip",
        "xopen",
        "rprojroot",
        "brew",
        "commonmark",
        "downlit",
        "htmlwidgets",
        "httpuv",
        "later",
        "promises",
        "shiny",
        "sourcetools",
        "xtable",
        "lazyeval",
        "gert",
        "here",
        "BiocManager",
    ]
)
_DATABASES = frozenset({"arrow", "duckdb", "nycflights13", "Lahman", "RMariaDB", "RPostgres", "RSQLite", "fst"})
_TIDYVERSE = _R_VER | _TIDYVERSE_CLOSURE | _DEVTOOLS_CLOSURE | _DATABASES
_VERSE = _TIDYVERSE | {"blogdown", "bookdown", "distill", "rticles", "rmdshower", "rJava", "xaringan", "tinytex"}
_GEOSPATIAL = _VERSE | frozenset(
    [
        "classInt",
        "deldir",
        "gstat",
        "hdf5r",
        "lidR",
        "lwgeom",
        "mapdata",
        "maptools",
        "mapview",
        "ncdf4",
        "proj4",
        "raster",
        "RNetCDF",
        "s2",
        "sf",
        "sfarrow",
        "sp",
        "spatstat",
        "spatstat.geom",
        "spdep",
        "stars",
        "terra",
        "tidync",
        "tmap",
        "units",
        "leaflet",
        "geoR",
        "geosphere",
        "rnaturalearth",
    ]
)
_SHINY = _R_VER | {"shiny", "rmarkdown", "httpuv", "later", "promises", "htmltools", "jsonlite", "R6", "rlang"}
_R_BASE = RECOMMENDED | {"littler"}

KNOWN_IMAGES: dict[str, frozenset[str]] = {
    "rocker/r-ver": _R_VER,
    "rocker/rstudio": _R_VER,
    "rocker/tidyverse": _TIDYVERSE,
    "rocker/verse": _VERSE,
    "rocker/geospatial": _GEOSPATIAL,
    "rocker/shiny": _SHINY,
    "rocker/shiny-verse": _SHINY | _TIDYVERSE,
    "rocker/r-base": _R_BASE,
    "rocker/r-ubuntu": _R_BASE,
    "r-base": _R_BASE,
}

_VERSION_TAG = re.compile(r"(?P<version>[0-9]+(?:\.[0-9]+){0,2})(?:[-_].*)?")


@dataclass(frozen=True)
class BaseImage:
    """The final stage's FROM: its name, tag, the R version the tag names and what the image provides.

    packages is None for an image this module does not know: the check then cannot say what it lacks."""

    name: str
    tag: str | None
    r_version: str | None
    packages: frozenset[str] | None

    @property
    def reference(self) -> str:
        return f"{self.name}:{self.tag}" if self.tag else self.name


def _normalised_name(name: str) -> str:
    """rocker/r-ver for docker.io/rocker/r-ver and r-base for docker.io/library/r-base, lower case."""
    name = name.lower()
    for prefix in ("docker.io/", "index.docker.io/", "registry-1.docker.io/"):
        name = name.removeprefix(prefix)
    return name.removeprefix("library/")


def _substitute(text: str, arguments: dict[str, str]) -> str:
    """${NAME}, ${NAME:-default} and $NAME from the ARGs declared before FROM, as docker does."""

    def value(match: re.Match[str]) -> str:
        name = match["braced"] or match["bare"]
        return arguments.get(name) or match["default"] or ""

    return re.sub(r"\$\{(?P<braced>\w+)(?::?-(?P<default>[^}]*))?\}|\$(?P<bare>\w+)", value, text)


def base_image(instructions: list[tuple[str, str]]) -> BaseImage | None:
    """The base image of the last stage, following `FROM <earlier stage>` back; None without any FROM."""
    arguments: dict[str, str] = {}
    stages: dict[str, str] = {}
    image: str | None = None
    for keyword, rest in instructions:
        if keyword == "ARG" and image is None:
            name, _, default = rest.partition("=")
            arguments[name.strip()] = default.strip().strip("\"'")
        elif keyword == "FROM":
            words = [w for w in _substitute(rest, arguments).split() if not w.startswith("--")]
            if not words:
                continue
            image = stages.get(words[0].lower(), words[0])
            if len(words) >= 3 and words[1].lower() == "as":
                stages[words[2].lower()] = image
    if image is None:
        return None
    reference = image.split("@", 1)[0]
    name, _, tag = reference.rpartition(":") if ":" in reference.rsplit("/", 1)[-1] else (reference, "", "")
    name = _normalised_name(name)
    version = _VERSION_TAG.fullmatch(tag) if tag else None
    return BaseImage(name, tag or None, version["version"] if version else None, KNOWN_IMAGES.get(name))
