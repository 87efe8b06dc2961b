"""Shared fixtures: a copy of the demo project per test, and one Prefect test server per session."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
DEMO_FILES = ("job.yml", "grid.yml", "environment-job.yml")
DEMO_DIRS = ("r_src", "data", "docker-context")


@pytest.fixture
def demo_project(tmp_path: Path) -> Path:
    """The demo project copied to tmp_path, so each test has its own results folder and files to break."""
    project = tmp_path / "project"
    project.mkdir()
    for name in DEMO_FILES:
        shutil.copy2(REPO / name, project / name)
    for name in DEMO_DIRS:
        shutil.copytree(REPO / name, project / name)
    return project


@pytest.fixture(scope="session")
def prefect_server() -> Iterator[None]:
    """One temporary Prefect server and database for every flow test in the session."""
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=120):
        yield
