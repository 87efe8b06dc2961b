"""renv.lock -> Dockerfile round trip: the generated Dockerfile pins every locked package and the R version, the
Dockerfile check reads exactly the lock back, and its R code, run by real R, accepts a library at the locked
versions and fails the build when a version differs."""

from __future__ import annotations

import json
import re
import shlex
import subprocess
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rjobs.core.errors import InputError
from rjobs.environment.check import check_environment
from rjobs.environment.dockerfile import dockerfile_packages, image_contents
from rjobs.environment.local_r import probe_r
from rjobs.environment.renv_context import renv_dockerfile, write_renv_context
from rjobs.environment.renv_lock import read_renv_lock

SNAPSHOT = "https://packagemanager.example/cran/__linux__/jammy/2024-10-30"


def _lock(tmp_path: Path, packages: dict[str, dict], r_version: str = "4.4.1", name: str = "renv.lock") -> Path:
    path = tmp_path / name
    record = {"R": {"Version": r_version, "Repositories": [{"Name": "CRAN", "URL": SNAPSHOT}]}, "Packages": packages}
    path.write_text(json.dumps(record), encoding="utf-8")
    return path


def _repository(name: str, version: str) -> dict:
    return {"Package": name, "Version": version, "Source": "Repository", "Repository": "CRAN"}


def test_the_generated_dockerfile_pins_every_package_and_the_r_version(tmp_path: Path) -> None:
    packages = {
        "optparse": _repository("optparse", "1.7.5"),
        "data.table": _repository("data.table", "1.16.2"),
        "R6": _repository("R6", "2.5.1"),
        "mypkg": {
            "Package": "mypkg",
            "Version": "0.2.0",
            "Source": "GitHub",
            "RemoteUsername": "me",
            "RemoteRepo": "mypkg",
            "RemoteSha": "abc123",
        },
    }
    lock = read_renv_lock(_lock(tmp_path, packages))
    context = tmp_path / "docker-context"
    dockerfile = write_renv_context(lock, context)
    text = dockerfile.read_text(encoding="utf-8")
    assert "FROM rocker/r-ver:4.4.1\n" in text
    for name in ("optparse", "data.table", "R6"):
        assert f'remotes::install_version("{name}", "{packages[name]["Version"]}", repos = repos' in text
    assert 'remotes::install_github("me/mypkg@abc123"' in text
    assert json.loads((context / "renv.lock").read_text()) == json.loads(lock.path.read_text())
    assert dockerfile_packages(dockerfile) == set(packages) | {"remotes"}
    image = image_contents(dockerfile)
    assert image.base is not None and image.base.reference == "rocker/r-ver:4.4.1" and image.r_version == "4.4.1"


NAMES = st.from_regex(r"[A-Za-z][A-Za-z0-9.]{0,10}[A-Za-z0-9]", fullmatch=True)
VERSIONS = st.from_regex(r"[0-9]{1,2}(\.[0-9]{1,3}){1,3}(-[0-9]{1,2})?", fullmatch=True)


@settings(max_examples=50, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(st.dictionaries(NAMES, VERSIONS, max_size=30), st.from_regex(r"4\.[0-5]\.[0-9]", fullmatch=True))
def test_any_lock_round_trips_through_its_dockerfile(tmp_path: Path, locked: dict[str, str], r_version: str) -> None:
    path = _lock(tmp_path, {name: _repository(name, version) for name, version in locked.items()}, r_version)
    dockerfile = tmp_path / "Dockerfile"
    dockerfile.write_text(renv_dockerfile(read_renv_lock(path)), encoding="utf-8")
    assert dockerfile_packages(dockerfile) - {"remotes"} == set(locked) - {"remotes"}
    pins = dict(re.findall(r'install_version\("([^"]+)", "([^"]+)"', dockerfile.read_text(encoding="utf-8")))
    assert pins == locked
    assert image_contents(dockerfile).r_version == r_version


@pytest.mark.parametrize(
    ("record", "key"),
    [
        ({"Package": "xy", "Version": "1.0", "Source": "Bioconductor"}, "Packages.xy.Source"),
        ({"Package": "xy", "Version": "1.0'; rm -rf /", "Source": "Repository"}, "Packages.xy.Version"),
        ({"Package": "xy", "Version": "1.0", "Source": "GitHub"}, "Packages.xy"),
    ],
)
def test_a_lock_the_generator_cannot_pin_is_an_input_error(tmp_path: Path, record: dict, key: str) -> None:
    lock = read_renv_lock(_lock(tmp_path, {"xy": record}))
    with pytest.raises(InputError) as caught:
        renv_dockerfile(lock)
    assert caught.value.key == key and caught.value.file == lock.path


def _generated_r(dockerfile_text: str) -> list[str]:
    """The Rscript arguments of the generated RUN line, as the shell would pass them."""
    run = re.search(r"RUN Rscript (.*?) \\\n    && rm", dockerfile_text, re.S)
    assert run is not None
    return shlex.split(run.group(1).replace("\\\n", " "))


def _run_generated(tmp_path: Path, locked: dict[str, str]) -> subprocess.CompletedProcess[str]:
    lock = _lock(tmp_path, {name: _repository(name, version) for name, version in locked.items()})
    text = renv_dockerfile(read_renv_lock(lock)).replace(SNAPSHOT, (tmp_path / "no-repo").as_uri())
    return subprocess.run(
        ["Rscript", *_generated_r(text)], capture_output=True, text=True, timeout=120, check=False, cwd=tmp_path
    )


@pytest.mark.r
def test_real_r_accepts_a_library_at_the_locked_versions_and_fails_the_build_otherwise(tmp_path: Path) -> None:
    local = probe_r(["optparse", "getopt", "jsonlite"]).versions
    assert set(local) == {"optparse", "getopt", "jsonlite"}
    (tmp_path / "same").mkdir()
    same = _run_generated(tmp_path / "same", local)
    assert same.returncode == 0, same.stderr
    (tmp_path / "off").mkdir()
    off = _run_generated(tmp_path / "off", {**local, "optparse": "0.0.1"})
    assert off.returncode != 0
    assert probe_r(["optparse"]).versions["optparse"] == local["optparse"]  # nothing was installed over it


def test_the_check_says_when_the_image_would_not_match_the_projects_lock(tmp_path: Path) -> None:
    code = tmp_path / "src"
    code.mkdir()
    (code / "main.R").write_text("library(optparse)\n")
    lock_path = _lock(code, {"optparse": _repository("optparse", "1.7.5")})
    context = tmp_path / "docker-context"
    dockerfile = write_renv_context(read_renv_lock(lock_path), context)

    def lock_warnings() -> list[str]:
        report = check_environment(code, dockerfile, rscript=str(tmp_path / "no-rscript"), project_dir=tmp_path)
        return [w for w in report.warnings() if "renv" in w]

    assert lock_warnings() == []
    _lock(code, {"optparse": _repository("optparse", "1.7.6")})
    assert [w for w in lock_warnings() if "generated from an older renv.lock" in w]
    dockerfile.write_text("FROM rocker/r-ver:4.4.1\nRUN install2.r optparse\n")
    assert [w for w in lock_warnings() if "no renv::restore(), not generated from it" in w]
