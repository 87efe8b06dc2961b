"""Tests for rjobs.environment: R package discovery, Dockerfile parsing and the local R check."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from rjobs.environment import local_r
from rjobs.environment.check import check_environment
from rjobs.environment.dockerfile import dockerfile_packages
from rjobs.environment.local_r import find_rscript, install_hint, missing_r_packages
from rjobs.environment.rscan import package_usage, r_packages_used

REPO = Path(__file__).resolve().parent.parent

R_SNIPPETS = [
    ("library(dplyr)", {"dplyr"}),
    ('library("ggplot2")', {"ggplot2"}),
    ("library('R6')", {"R6"}),
    ("require(data.table)", {"data.table"}),
    ('requireNamespace("jsonlite", quietly = TRUE)', {"jsonlite"}),
    ('loadNamespace("xml2")', {"xml2"}),
    ("x <- readr::read_csv(f)", {"readr"}),
    ("rlang:::abort('x')", {"rlang"}),
    ("`dplyr`::filter(d, x > 1)", {"dplyr"}),
    ("library(\n  ranger\n)", {"ranger"}),
    ('library(package = "glue")', {"glue"}),
    ('library("purrr", character.only = TRUE)', {"purrr"}),
    ("suppressPackageStartupMessages({library(optparse); library(jsonlite)})", {"optparse", "jsonlite"}),
    ("library(dplyr) # and tidyr::pivot_longer later", {"dplyr"}),
    ("# library(commented)\n# stringr::str_detect()", set()),
    ('msg <- "use stringr::str_detect or library(quoted)"', set()),
    ("msg <- 'library(single) and sq::f'", set()),
    ('s <- "a \\" library(escaped) \\""; library(after)', {"after"}),
    ('x <- "# not a comment"; library(afterhash)', {"afterhash"}),
    ('x <- r"(library(raw) and raw2::f)"', set()),
    ('x <- R"---[library(raw) ]" still raw]---"', set()),
    ("for (p in pkgs) library(p, character.only = TRUE)", set()),
    ("if (!requireNamespace(pkg, quietly = TRUE)) stop('no')", set()),
    ('library(help = "stats")', set()),
    ("obj$library(thing)", set()),
    ("stats::lm(y ~ x); utils::head(x); base::paste(1); grDevices::png('a.png')", set()),
    ("library(methods); library(parallel); requireNamespace('tools')", set()),
    ("x <- 1e5; y <- .5; z <- x[1:3]", set()),
]


@pytest.mark.parametrize(("source", "expected"), R_SNIPPETS)
def test_r_packages_used_finds_packages_in_code_only(tmp_path: Path, source: str, expected: set[str]) -> None:
    (tmp_path / "script.R").write_text(source + "\n")
    assert set(r_packages_used(tmp_path)) == expected


def test_r_packages_used_maps_packages_to_sorted_relative_files(tmp_path: Path) -> None:
    (tmp_path / "helpers").mkdir()
    (tmp_path / "train.R").write_text("library(ranger)\njsonlite::write_json(1, 'x')\n")
    (tmp_path / "helpers" / "io.r").write_text("jsonlite::read_json('x')\n")
    (tmp_path / "notes.txt").write_text("library(notcode)\n")
    assert r_packages_used(tmp_path) == {
        "jsonlite": ["helpers/io.r", "train.R"],
        "ranger": ["train.R"],
    }


def test_r_packages_used_reads_only_r_chunks_of_rmd(tmp_path: Path) -> None:
    (tmp_path / "report.Rmd").write_text(
        "---\ntitle: x\n---\n"
        "Prose mentioning library(prose) and prosepkg::fn.\n\n"
        "```{r setup, include=FALSE}\nlibrary(knitr)\n```\n\n"
        "```{python}\nimport pandas\nnotr::f()\n```\n\n"
        "```{r}\nggplot2::ggplot(d)\n```\n"
    )
    assert r_packages_used(tmp_path) == {"ggplot2": ["report.Rmd"], "knitr": ["report.Rmd"]}


def test_optional_files_are_left_out_on_request(tmp_path: Path) -> None:
    (tmp_path / "train.R").write_text("library(optparse)\n")
    (tmp_path / "extra.R").write_text("# envcheck: optional\nlibrary(mlflow)\n")
    assert set(r_packages_used(tmp_path)) == {"optparse", "mlflow"}
    assert set(r_packages_used(tmp_path, include_optional=False)) == {"optparse"}


def test_package_usage_gives_both_views_of_one_scan(tmp_path: Path) -> None:
    (tmp_path / "train.R").write_text("library(optparse)\nmlflow::mlflow_log_metric('a', 1)\n")
    (tmp_path / "extra.R").write_text("# envcheck: optional\nlibrary(mlflow)\n")
    usage = package_usage(tmp_path)
    assert usage.required == r_packages_used(tmp_path, include_optional=False)
    assert usage.everything == r_packages_used(tmp_path)
    assert usage.required == {"mlflow": ["train.R"], "optparse": ["train.R"]}
    assert usage.everything == {"mlflow": ["extra.R", "train.R"], "optparse": ["train.R"]}


DOCKERFILE_SNIPPETS = [
    ("FROM rocker/r-ver:4.4.1\n", set()),
    (
        "RUN R -e \"install.packages('optparse', dependencies = TRUE, repos = 'https://cloud.r-project.org/')\"\n",
        {"optparse"},
    ),
    ("RUN Rscript -e \"install.packages(c('a1', 'b2'), dependencies = TRUE)\"\n", {"a1", "b2"}),
    ('RUN R -e "install.packages(\\"zoo\\")"\n', {"zoo"}),
    ("RUN Rscript -e 'install.packages(pkgs = \"glue\")'\n", {"glue"}),
    ("RUN R -e \"remotes::install_version('ranger', version = '0.16.0')\"\n", {"ranger"}),
    (
        'RUN install2.r --error --skipinstalled -n -1 --repos "${CRAN}" optparse jsonlite\n',
        {"optparse", "jsonlite"},
    ),
    (
        "RUN install2.r -e -r https://p3m.dev/cran/latest \\\n"
        "        data.table \\\n"
        "        ranger \\\n"
        "    && rm -rf /tmp/downloaded_packages\n",
        {"data.table", "ranger"},
    ),
    ("RUN installGithub.r jeroen/jsonlite@v1.8.9 user/monorepo/subpkg#12\n", {"jsonlite", "subpkg"}),
    (
        "RUN apt-get update && apt-get install -y --no-install-recommends \\\n"
        "    r-cran-optparse r-cran-rcurl libxml2-dev && rm -rf /var/lib/apt/lists/*\n",
        {"optparse", "rcurl"},
    ),
    ("# RUN R -e \"install.packages('ignored')\"\nRUN echo hi\n", set()),
]


@pytest.mark.parametrize(("dockerfile", "expected"), DOCKERFILE_SNIPPETS)
def test_dockerfile_packages(tmp_path: Path, dockerfile: str, expected: set[str]) -> None:
    path = tmp_path / "Dockerfile"
    path.write_text(dockerfile)
    assert dockerfile_packages(path) == expected


def test_dockerfile_packages_of_the_project_dockerfile() -> None:
    assert dockerfile_packages(REPO / "docker-context" / "Dockerfile") == {"optparse", "ranger"}


def _fake_rscript(tmp_path: Path, missing: list[str], exit_code: int = 0) -> tuple[Path, Path]:
    """An Rscript stand-in that logs its arguments and answers with the given missing packages."""
    log = tmp_path / "calls.log"
    script = tmp_path / "Rscript"
    answer = "\n".join(missing)
    script.write_text(
        "#!/bin/sh\n"
        f'printf "%s|" "$@" >> "{log}"; echo >> "{log}"\n'
        "echo 'noise from a site profile'\n"
        f"printf '%s\\n' '{local_r._RSCRIPT_MARKER}'\n"
        f"printf '%s' '{answer}'\n"
        "echo 'oops' >&2\n"
        f"exit {exit_code}\n"
    )
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    return script, log


def test_missing_r_packages_asks_r_once_and_ignores_noise(tmp_path: Path) -> None:
    rscript, log = _fake_rscript(tmp_path, ["zzz"])
    assert missing_r_packages(["zzz", "optparse", "jsonlite", "optparse"], str(rscript)) == ["zzz"]
    calls = log.read_text().splitlines()
    assert len(calls) == 1
    assert calls[0].split("|")[-4:] == ["jsonlite", "optparse", "zzz", ""]


def test_missing_r_packages_reports_invalid_names_without_asking(tmp_path: Path) -> None:
    assert missing_r_packages([], str(tmp_path / "nope")) == []
    assert missing_r_packages(["-rf", "x"], str(tmp_path / "nope")) == ["-rf", "x"]


def test_missing_r_packages_errors(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        missing_r_packages(["optparse"], str(tmp_path / "no-such-rscript"))
    rscript, _ = _fake_rscript(tmp_path, [], exit_code=2)
    with pytest.raises(RuntimeError, match="oops"):
        missing_r_packages(["optparse"], str(rscript))


def test_find_rscript(tmp_path: Path) -> None:
    assert find_rscript(str(tmp_path / "no-such-rscript")) is None
    rscript, _ = _fake_rscript(tmp_path, [])
    assert find_rscript(str(rscript)) == str(rscript)


@pytest.mark.parametrize(
    ("missing", "debian", "expected"),
    [
        ([], True, ""),
        (["RCurl", "optparse"], True, "apt-get install -y r-cran-optparse r-cran-rcurl"),
        (["RCurl", "optparse"], False, 'Rscript -e \'install.packages(c("RCurl", "optparse"))\''),
    ],
)
def test_install_hint(missing: list[str], debian: bool, expected: str) -> None:
    assert install_hint(missing, debian=debian) == expected


def _project(tmp_path: Path) -> tuple[Path, Path]:
    code = tmp_path / "src"
    code.mkdir()
    (code / "main.R").write_text("library(optparse)\nranger::ranger\nlibrary(RCurl)\n")
    (code / "mlflow_helpers.R").write_text("# envcheck: optional\nlibrary(mlflow)\n")
    dockerfile = tmp_path / "Dockerfile"
    dockerfile.write_text("RUN apt-get install -y r-cran-optparse r-cran-rcurl\nRUN install2.r unused\n")
    return code, dockerfile


def test_check_environment_classifies_packages(tmp_path: Path) -> None:
    code, dockerfile = _project(tmp_path)
    rscript, _ = _fake_rscript(tmp_path, ["ranger"])
    report = check_environment(code, dockerfile, str(rscript))
    assert report.used == {"RCurl": ["main.R"], "optparse": ["main.R"], "ranger": ["main.R"]}
    assert report.optional == {"mlflow": ["mlflow_helpers.R"]}
    assert report.docker == {"optparse", "rcurl", "unused"}
    assert report.missing == ["ranger"]
    assert report.not_in_docker == ["ranger"]
    assert report.docker_only == ["unused"]
    assert not report.ok
    assert "ranger" in report.errors()[0]
    assert len(report.warnings()) == 2


def test_check_environment_without_rscript_reports_instead_of_raising(tmp_path: Path) -> None:
    code, dockerfile = _project(tmp_path)
    report = check_environment(code, dockerfile, str(tmp_path / "no-such-rscript"))
    assert report.rscript is None
    assert report.missing == ["RCurl", "optparse", "ranger"]
    assert not report.ok
    assert "Rscript not found" in report.errors()[0]


def test_check_environment_without_dockerfile_skips_docker_comparison(tmp_path: Path) -> None:
    code, _ = _project(tmp_path)
    rscript, _ = _fake_rscript(tmp_path, [])
    report = check_environment(code, None, str(rscript))
    assert report.ok
    assert report.docker == set()
    assert report.not_in_docker == report.docker_only == []


@pytest.mark.slow
def test_missing_r_packages_with_real_r() -> None:
    assert missing_r_packages(["optparse", "surelynotapkg123"]) == ["surelynotapkg123"]


@pytest.mark.slow
def test_project_code_runs_on_local_r_and_matches_dockerfile() -> None:
    report = check_environment(REPO / "r_src", REPO / "docker-context" / "Dockerfile")
    assert report.rscript is not None
    assert report.missing == []
    assert report.not_in_docker == []
    assert set(report.used) == {"optparse", "ranger"}
