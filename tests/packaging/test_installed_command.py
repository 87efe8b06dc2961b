"""The project installed as a wheel into a fresh virtual environment: its `r-azure-ml` command runs the seed
guide's project from that project's own folder, far from this checkout."""

from __future__ import annotations

import csv
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SEED = REPO / "tests" / "fixtures" / "seed_project"
INSTALL_TIMEOUT_S = 1200  # a cold package cache downloads every dependency
RUN_TIMEOUT_S = 600

pytestmark = [
    pytest.mark.r,
    pytest.mark.skipif(shutil.which("uv") is None, reason="needs uv to build and install the wheel (make setup)"),
]


def _run(argv: list[str], cwd: Path, timeout: float, env: dict[str, str] | None = None) -> str:
    result = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout, check=False)
    assert result.returncode == 0, (
        f"{argv[:3]} exited {result.returncode}:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    )
    return result.stdout


@pytest.fixture(scope="module")
def workspace() -> Iterator[Path]:
    """A folder of our own, not pytest's numbered temp: a concurrent pytest session prunes those while we run."""
    with tempfile.TemporaryDirectory(prefix="rjobs-installed-") as folder:
        yield Path(folder)


@pytest.fixture(scope="module")
def installed(workspace: Path) -> Path:
    """A fresh venv with the wheel of this checkout and the locked versions of its dependencies; its bin folder."""
    root = workspace / "install"
    root.mkdir()
    _run(["uv", "build", "--wheel", "-o", str(root / "dist")], REPO, INSTALL_TIMEOUT_S)
    (wheel,) = (root / "dist").glob("r_azure_ml-*.whl")
    requirements = root / "requirements.txt"
    export = ["uv", "export", "--frozen", "--no-dev", "--no-hashes", "--no-emit-project", "-q", "-o", str(requirements)]
    _run(export, REPO, INSTALL_TIMEOUT_S)
    _run(["uv", "venv", "-q", "--python", "3.11", str(root / "venv")], root, INSTALL_TIMEOUT_S)
    python = root / "venv" / "bin" / "python"
    _run(
        ["uv", "pip", "install", "-q", "--python", str(python), "-r", str(requirements), str(wheel)],
        root,
        INSTALL_TIMEOUT_S,
    )
    return root / "venv" / "bin"


def _user_env(project: Path) -> dict[str, str]:
    """The user's shell: no Prefect server configured, Prefect's home in the project, this checkout not on a path."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "PYTHON", "VIRTUAL_ENV"))}
    return {**env, "PREFECT_HOME": str(project / ".prefect")}


def test_the_installed_command_runs_the_seed_project_from_its_own_folder(installed: Path, workspace: Path) -> None:
    project = workspace / "my-r-project"
    shutil.copytree(SEED, project)
    command = str(installed / "r-azure-ml")
    env = _user_env(project)

    assert "train" in _run([command, "--help"], project, 60, env)
    out = _run([command, "r-helper", "src"], project, 60, env)
    assert "wrote" in out and (project / "src" / "rjobs.R").is_file()

    _run([command, "train", "--no-mlflow"], project, RUN_TIMEOUT_S, env)
    (summary,) = (project / "results").glob("*/summary.csv")
    with summary.open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert [row["status"] for row in rows] == ["Completed"]
    outputs = summary.parent / rows[0]["cell"] / "outputs"
    assert (outputs / "species.csv").is_file()

    table = _run([command, "results", "--run", summary.parent.name], project, RUN_TIMEOUT_S, env)
    assert rows[0]["cell"] in table
    assert not (REPO / "results" / summary.parent.name).exists()
