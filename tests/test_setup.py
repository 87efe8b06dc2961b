"""`make` targets run scripts/setup.sh every time: it must install what is missing without removing what the user
added since, such as the azureml-mlflow extra that `--backend azureml` needs."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.slow


def test_setup_keeps_an_extra_the_user_installed(tmp_path: Path) -> None:
    uv = shutil.which("uv")
    assert uv is not None, "scripts/setup.sh installs uv; run make setup"
    env = {**os.environ, "UV_PROJECT_ENVIRONMENT": str(tmp_path / "venv"), "UV_LINK_MODE": "copy"}
    env.pop("VIRTUAL_ENV", None)

    def run(*argv: str) -> str:
        done = subprocess.run(argv, cwd=REPO, env=env, capture_output=True, text=True, timeout=900, check=False)
        assert done.returncode == 0, done.stderr[-3000:]
        return done.stdout

    run(uv, "sync", "--frozen", "--quiet", "--extra", "azureml-mlflow")
    run("bash", "scripts/setup.sh")

    installed = run(uv, "pip", "list", "--python", str(tmp_path / "venv" / "bin" / "python"), "--format", "freeze")
    assert "azureml-mlflow==" in installed
