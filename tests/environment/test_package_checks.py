"""Package checks that are right: what base images contain, renv::restore() images, the scan's call forms,
dynamic loads flagged, R version and renv.lock differences; the seed guide's project gets no false warning."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rjobs.core.errors import InputError
from rjobs.environment.check import check_environment
from rjobs.environment.dockerfile import image_contents
from rjobs.environment.local_r import probe_r
from rjobs.environment.renv_lock import read_renv_lock
from rjobs.environment.rscan import package_usage

REPO = Path(__file__).resolve().parents[2]
SEED = REPO / "tests" / "fixtures" / "seed_project"

# (Dockerfile, base image reference, its R version, whether "tidyverse" is in the image, image known)
IMAGES = [
    ("FROM rocker/tidyverse:4.4.1\n", "rocker/tidyverse:4.4.1", "4.4.1", True, True),
    ("FROM rocker/verse:4.3\n", "rocker/verse:4.3", "4.3", True, True),
    ("FROM docker.io/rocker/geospatial:4.4.1-ubuntugis\n", "rocker/geospatial:4.4.1-ubuntugis", "4.4.1", True, True),
    ("FROM rocker/r-ver:4.4.1\n", "rocker/r-ver:4.4.1", "4.4.1", False, True),
    ("FROM r-base:4.4.2\n", "r-base:4.4.2", "4.4.2", False, True),
    ("FROM library/r-base:latest\n", "r-base:latest", None, False, True),
    ("ARG R_VERSION=4.3.2\nFROM rocker/r-ver:${R_VERSION}\n", "rocker/r-ver:4.3.2", "4.3.2", False, True),
    (
        "FROM --platform=linux/amd64 rocker/tidyverse:4.4.1 AS build\nFROM build\n",
        "rocker/tidyverse:4.4.1",
        "4.4.1",
        True,
        True,
    ),
    ("FROM rocker/r-ver:4.4.1@sha256:abc\n", "rocker/r-ver:4.4.1", "4.4.1", False, True),
    (
        "FROM mcr.microsoft.com/azureml/openmpi4.1.0-ubuntu22.04\n",
        "mcr.microsoft.com/azureml/openmpi4.1.0-ubuntu22.04",
        None,
        False,
        False,
    ),
]


@pytest.mark.parametrize(("dockerfile", "reference", "r_version", "has_tidyverse", "known"), IMAGES)
def test_the_base_image_and_what_it_contains(
    tmp_path: Path, dockerfile: str, reference: str, r_version: str | None, has_tidyverse: bool, known: bool
) -> None:
    (tmp_path / "Dockerfile").write_text(dockerfile)
    image = image_contents(tmp_path / "Dockerfile")
    assert image.base is not None
    assert (image.base.reference, image.base.r_version, image.known) == (reference, r_version, known)
    assert ("tidyverse" in image.packages) is has_tidyverse
    assert {"MASS", "Matrix", "lattice"} <= image.packages or not known


LOCK = {
    "R": {
        "Version": "4.3.2",
        "Repositories": [{"Name": "CRAN", "URL": "https://packagemanager.example/cran/2024-01-15"}],
    },
    "Packages": {
        "optparse": {"Package": "optparse", "Version": "1.7.3", "Source": "Repository", "Repository": "CRAN"},
        "getopt": {"Package": "getopt", "Version": "0.0.1", "Source": "Repository", "Repository": "CRAN"},
        "ranger": {"Package": "ranger", "Version": "0.14.1", "Source": "Repository", "Repository": "CRAN"},
    },
}


def _local_lock() -> dict:
    """LOCK with the versions local R has, so only the differences a test makes are differences."""
    lock = json.loads(json.dumps(LOCK))
    for name, version in probe_r(lock["Packages"]).versions.items():
        lock["Packages"][name]["Version"] = version
    return lock


def _restore_project(tmp_path: Path, lock: dict | None = LOCK) -> tuple[Path, Path]:
    code = tmp_path / "src"
    code.mkdir()
    (code / "main.R").write_text("library(optparse)\nranger::ranger\n")
    context = tmp_path / "docker-context"
    context.mkdir()
    (context / "Dockerfile").write_text(
        "FROM rocker/r-ver:4.3.2\nCOPY renv.lock renv.lock\n"
        "RUN R -e \"install.packages('renv')\" && R -e 'renv::restore(lockfile = \"renv.lock\")'\n"
    )
    if lock is not None:
        (context / "renv.lock").write_text(json.dumps(lock))
    return code, context / "Dockerfile"


@pytest.mark.r
def test_an_image_restoring_renv_lock_has_the_locked_packages(tmp_path: Path) -> None:
    code, dockerfile = _restore_project(tmp_path)
    report = check_environment(code, dockerfile)
    assert report.not_in_docker == [] and report.docker_only == []
    assert report.image is not None and report.image.r_version == "4.3.2"
    assert not any("renv" in warning and "not checked" in warning for warning in report.warnings())


@pytest.mark.r
def test_restoring_a_lock_missing_from_the_context_is_said_not_every_package(tmp_path: Path) -> None:
    code, dockerfile = _restore_project(tmp_path, lock=None)
    report = check_environment(code, dockerfile)
    assert report.not_in_docker == []
    assert any("renv::restore() has no renv.lock" in warning for warning in report.warnings())


@pytest.mark.r
def test_local_versions_are_compared_with_the_lock_and_r_versions_with_the_image(tmp_path: Path) -> None:
    code, dockerfile = _restore_project(tmp_path)
    lock = _local_lock()
    lock["Packages"]["optparse"]["Version"] = "0.1.0"
    lock["Packages"]["surelynotapkg123"] = {"Package": "surelynotapkg123", "Version": "1.0"}
    (code / "renv.lock").write_text(json.dumps(lock))
    report = check_environment(code, dockerfile)
    assert report.lock is not None and report.lock.path == code / "renv.lock"
    local = report.local_r_version
    assert local is not None
    optparse_local = next(d for d in report.lock_differences if d.startswith("optparse"))
    assert optparse_local.endswith("locked 0.1.0")
    assert "surelynotapkg123 not installed, locked 1.0" in report.lock_differences
    assert not any(d.startswith(("ranger", "getopt")) for d in report.lock_differences)  # Debian's match the lock
    version_warnings = [w for w in report.warnings() if "local R is" in w]
    assert version_warnings == (
        [] if local.startswith("4.3.") else [f"local R is {local} but the image's is 4.3.2: results can differ"]
    )


@pytest.mark.r
def test_the_seed_guides_project_gets_no_false_warning() -> None:
    report = check_environment(SEED / "src", SEED / "docker-context" / "Dockerfile")
    assert report.ok
    assert report.not_in_docker == [] and report.docker_only == [] and report.dynamic == {}
    assert [w for w in report.warnings() if "local R is" not in w] == []


@pytest.mark.r
def test_the_demo_project_gets_no_package_warning() -> None:
    report = check_environment(REPO / "r_src", REPO / "docker-context" / "Dockerfile", project_dir=REPO)
    assert report.ok and report.not_in_docker == [] and report.docker_only == []
    assert [w for w in report.warnings() if "local R is" not in w] == []


SCANS = [
    ("pacman::p_load(dplyr, 'tidyr', ggplot2)", {"pacman", "dplyr", "tidyr", "ggplot2"}, []),
    ('p_load(char = c("sf", "terra"))', {"sf", "terra"}, []),
    ("pacman::p_load(pkgs, character.only = TRUE)", {"pacman"}, ["p_load(pkgs, character.only = TRUE)"]),
    ("library(p, character.only = TRUE)", set(), ["library(p, character.only = TRUE)"]),
    ("require(pkg, character.only = T)", set(), ["require(pkg, character.only = TRUE)"]),
    ("requireNamespace(pkg, quietly = TRUE)", set(), ["requireNamespace(pkg)"]),
    ("loadNamespace(x)", set(), ["loadNamespace(x)"]),
    ('library("purrr", character.only = TRUE)', {"purrr"}, []),
    ("if (!requireNamespace('arrow', quietly = TRUE)) stop()", {"arrow"}, []),
    ("library(help = 'stats')", set(), []),
]


@pytest.mark.parametrize(("source", "packages", "dynamic"), SCANS)
def test_every_load_form_is_found_and_run_time_choices_are_flagged(
    tmp_path: Path, source: str, packages: set[str], dynamic: list[str]
) -> None:
    (tmp_path / "main.R").write_text(source + "\n")
    usage = package_usage(tmp_path)
    assert set(usage.required) == packages
    assert usage.dynamic == ({"main.R": dynamic} if dynamic else {})


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("{not json", None),
        ('{"Packages": {}}', "R"),
        ('{"R": {}}', "R.Version"),
        ('{"R": {"Version": "4.4.1"}, "Packages": {"x": {"Package": "x"}}}', "Packages.x"),
    ],
)
def test_a_broken_lock_is_an_input_error_naming_the_key(tmp_path: Path, text: str, key: str | None) -> None:
    (tmp_path / "renv.lock").write_text(text)
    with pytest.raises(InputError) as caught:
        read_renv_lock(tmp_path / "renv.lock")
    assert caught.value.key == key and caught.value.file == tmp_path / "renv.lock"
