"""A local backend asks R about packages once for the same R, code and Dockerfile (the CLI checks, then hands the
same backend to the flow, whose check-environment task asks again), and again as soon as any of them changes or a
check failed."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from rjobs.backends.local import backend as local
from rjobs.backends.local.backend import LocalBackend
from rjobs.core.errors import InputError
from rjobs.inputs.spec import load_job_spec

pytestmark = pytest.mark.r


@pytest.fixture
def checks(monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    """The code folders real R was asked about, in order."""
    asked: list[Path] = []
    real = local.envcheck.check_environment

    def counting(code: Path, *args: Any, **kwargs: Any) -> Any:
        asked.append(code)
        return real(code, *args, **kwargs)

    monkeypatch.setattr(local.envcheck, "check_environment", counting)
    return asked


def project(root: Path, script: str) -> Path:
    (root / "src").mkdir(parents=True, exist_ok=True)
    (root / "src" / "main.R").write_text(script)
    (root / "job.yml").write_text("command: Rscript main.R\ncode: src\n")
    return root / "job.yml"


def test_same_code_is_checked_once_and_changed_code_again(tmp_path: Path, checks: list[Path]) -> None:
    spec = load_job_spec(project(tmp_path, "library(stats)\n"))
    backend = LocalBackend()
    backend.ensure_environment(spec)
    backend.ensure_environment(spec)
    assert len(checks) == 1
    (tmp_path / "src" / "main.R").write_text("library(stats)\nlibrary(utils)\n")
    backend.ensure_environment(spec)
    assert len(checks) == 2


def test_a_dockerfile_change_checks_again(tmp_path: Path, checks: list[Path]) -> None:
    spec = load_job_spec(project(tmp_path, "library(stats)\n"))
    dockerfile = tmp_path / "Dockerfile"
    dockerfile.write_text("FROM rocker/r-ver:4.4.1\n")
    backend = LocalBackend(dockerfile=dockerfile)
    backend.ensure_environment(spec)
    backend.ensure_environment(spec)
    dockerfile.write_text("FROM rocker/r-ver:4.4.1\nRUN install2.r jsonlite\n")
    info = backend.ensure_environment(spec)
    assert len(checks) == 2
    assert any("jsonlite" in warning for warning in info.warnings)


def test_a_failed_check_is_never_remembered(tmp_path: Path, checks: list[Path]) -> None:
    spec = load_job_spec(project(tmp_path, "library(notapackageatall)\n"))
    backend = LocalBackend()
    for _ in range(2):
        with pytest.raises(InputError, match="notapackageatall"):
            backend.ensure_environment(spec)
    assert len(checks) == 2
