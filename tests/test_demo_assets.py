"""The demo assets (job.yml, environment-job.yml, grid.yml, r_src/train.R, data) agree with each other."""

from __future__ import annotations

import json
import math
import re
import shutil
import struct
import subprocess
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import yaml
from azure.ai.ml import load_environment, load_job

REPO = Path(__file__).resolve().parent.parent
TRAIN_R = REPO / "r_src" / "train.R"
PENGUINS = REPO / "data" / "penguins.csv"
EXPECTED_COMMAND = (
    "Rscript train.R --data ${{inputs.penguins}} --model ${{inputs.model}} "
    "--features ${{inputs.features}} --test_fraction ${{inputs.test_fraction}} --seed ${{inputs.seed}}"
)
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
COMMAND_OPTION = re.compile(r"--([A-Za-z0-9_.]+)\s+\$\{\{\s*inputs\.([A-Za-z0-9_]+)\s*\}\}")
# make_option("--x", ...), add_option(parser, "--x", ...) and either with c("-x", "--x").
OPTPARSE_OPTION = re.compile(
    r"""\b(?:make|add)_option\(\s*(?:[A-Za-z_.][\w.]*\s*,\s*)?(?:c\(\s*["']-[A-Za-z]["']\s*,\s*)?["']--([\w.]+)["']"""
)


@pytest.fixture(scope="module")
def job() -> Any:
    return load_job(REPO / "job.yml")


def _grid() -> dict[str, list[Any]]:
    return yaml.safe_load((REPO / "grid.yml").read_text())


def _optparse_options() -> set[str]:
    return set(OPTPARSE_OPTION.findall(TRAIN_R.read_text()))


def test_job_yml_loads_with_azure_ai_ml(job: Any) -> None:
    assert job.command == EXPECTED_COMMAND
    assert job.code == "r_src"
    assert job.environment.removeprefix("azureml:") == "r-penguins@latest"
    assert job.compute.removeprefix("azureml:") == "cpu-cluster"
    assert job.experiment_name == "r-penguins"
    penguins = job.inputs["penguins"]
    assert (penguins.type, penguins.path) == ("uri_file", "data/penguins.csv")
    assert (REPO / penguins.path).is_file()
    literals = {name: (spec.type, spec.default) for name, spec in job.component.inputs.items() if name != "penguins"}
    assert literals == {
        "model": ("string", "lm"),
        "features": ("string", "flipper_length_mm+species"),
        "test_fraction": ("number", 0.25),
        "seed": ("integer", 1),
    }


def test_environment_yml_loads_with_azure_ai_ml() -> None:
    environment = load_environment(REPO / "environment-job.yml")
    assert environment.name == "r-penguins"
    assert environment.build.path == "docker-context"
    assert (REPO / environment.build.path / "Dockerfile").is_file()


def test_command_options_match_train_r_optparse_options(job: Any) -> None:
    pairs = COMMAND_OPTION.findall(job.command)
    command_options = {option for option, _ in pairs}
    declared = _optparse_options()
    assert declared >= {"data", "model", "features", "test_fraction", "seed", "output"}
    assert command_options <= declared, f"job.yml passes options train.R does not declare: {command_options - declared}"
    assert declared - {"output"} <= command_options, f"job.yml omits {declared - {'output'} - command_options}"
    assert {name for _, name in pairs} == set(job.inputs), "every input is used once in the command"
    assert len(pairs) == job.command.count("${{"), "every ${{inputs.x}} follows an --option"


def test_grid_has_twelve_cells_over_job_inputs(job: Any) -> None:
    grid = _grid()
    assert all(isinstance(values, list) and values for values in grid.values())
    assert math.prod(len(values) for values in grid.values()) == 12
    assert set(grid) <= set(job.inputs)


def test_grid_and_job_features_are_columns_of_the_data(job: Any) -> None:
    columns = set(pd.read_csv(PENGUINS, nrows=0).columns)
    feature_sets = [*_grid()["features"], job.component.inputs["features"].default]
    for features in feature_sets:
        assert set(features.split("+")) <= columns - {"body_mass_g"}, features


def test_penguins_csv_is_the_palmer_penguins_table() -> None:
    penguins = pd.read_csv(PENGUINS)
    assert penguins.shape == (344, 8)
    assert penguins["body_mass_g"].isna().sum() == 2
    assert penguins["sex"].isna().sum() == 11


def _run_train(workdir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["Rscript", "train.R", "--data", str(PENGUINS), *args],
        cwd=workdir,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def _png_size(path: Path) -> tuple[int, int]:
    header = path.read_bytes()[:24]
    assert header[:8] == PNG_SIGNATURE, "not a PNG"
    assert header[12:16] == b"IHDR"
    width, height = struct.unpack(">II", header[16:24])
    return width, height


@pytest.fixture
def code_copy(tmp_path: Path) -> Path:
    return Path(shutil.copytree(REPO / "r_src", tmp_path / "r_src"))


@pytest.mark.r
@pytest.mark.parametrize("model", ["lm", "ranger"])
def test_train_r_writes_metrics_model_and_plot(code_copy: Path, model: str) -> None:
    result = _run_train(
        code_copy, "--model", model, "--features", "flipper_length_mm+species", "--test_fraction", "0.25", "--seed", "1"
    )
    assert result.returncode == 0, result.stderr
    assert model in result.stdout
    outputs = code_copy / "outputs"
    metrics = json.loads((outputs / "metrics.json").read_text())
    assert set(metrics) == {"rmse", "mae", "r2", "n_train", "n_test"}
    assert all(isinstance(v, int | float) and not isinstance(v, bool) for v in metrics.values())
    assert metrics["rmse"] > 0
    assert 0 < metrics["r2"] <= 1
    assert metrics["n_train"] + metrics["n_test"] == 342
    assert (outputs / "model.rds").read_bytes()[:2] == b"\x1f\x8b", "saveRDS writes gzip by default"
    width, height = _png_size(outputs / "pred_vs_actual.png")
    assert width >= 400 and height >= 400


@pytest.mark.r
@pytest.mark.parametrize(
    ("args", "named_in_error"),
    [
        (("--features", "flipper_length_mm+bogus_col"), "bogus_col"),
        (("--model", "glm"), "glm"),
        (("--test_fraction", "1.5"), "--test_fraction"),
    ],
)
def test_train_r_fails_clearly_on_bad_arguments(code_copy: Path, args: tuple[str, str], named_in_error: str) -> None:
    result = _run_train(code_copy, *args)
    assert result.returncode != 0
    assert named_in_error in result.stderr
    assert not (code_copy / "outputs" / "metrics.json").exists()
