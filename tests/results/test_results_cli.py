"""python -m flows.results: print a finished sweep, re-select, redraw, register; exit 0, 1 or 2."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from flows.results import main
from tests.results.conftest import Cell, Store, build_ledger, demo_cells

KEYS = ["model", "features", "seed"]


def cli(results: Path, *args: str) -> int:
    return main(["--results", str(results), *args])


def test_prints_the_table_compactly(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _, records = build_ledger(tmp_path, "sweep", demo_cells(), KEYS)
    assert cli(tmp_path, "--run", "sweep") == 0
    out, err = capsys.readouterr()
    lines = out.splitlines()
    assert lines[0].split() == ["cell", "status", "attempt", "duration_s", *KEYS, "r2", "rmse"]
    assert len(lines) == 1 + len(records)
    assert "job_name" not in out and "sweep-c" not in out  # job names and errors stay in summary.csv
    row = next(line.split() for line in lines if line.split()[0] == "c121")
    assert row == ["c121", "Completed", "1", "10", "ranger", "all", "1", "0.722", "278"]
    assert err == ""
    assert not list((tmp_path / "sweep").glob("*.png"))


def test_select_marks_the_best_and_redraws_the_plot(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    build_ledger(tmp_path, "sweep", demo_cells(), KEYS)
    assert cli(tmp_path, "--run", "sweep", "--select", "r2:max") == 0
    out = capsys.readouterr().out
    starred = [line.split() for line in out.splitlines() if line.lstrip().startswith("*")]
    assert [row[1] for row in starred] == ["c121"]
    assert "best by r2:max: c121 (features=all, model=ranger, seed=1) r2=0.722" in out
    plot = tmp_path.resolve() / "sweep" / "r2_by_param.png"
    assert f"plot: {plot}" in out
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_no_plot(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    build_ledger(tmp_path, "sweep", demo_cells(), KEYS)
    assert cli(tmp_path, "--run", "sweep", "--select", "rmse:min", "--no-plot") == 0
    assert "plot:" not in capsys.readouterr().out
    assert not list((tmp_path / "sweep").glob("*.png"))


def test_failed_cells_are_listed_under_the_table(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    build_ledger(tmp_path, "sweep", [Cell("a", {"seed": 1}, metrics={"rmse": 1.0}), Cell("b", {"seed": 2}, "Failed")])
    assert cli(tmp_path, "--run", "sweep") == 0
    out = capsys.readouterr().out
    assert out.rstrip().splitlines()[-1] == "b Failed: train.R: error: boom"


def test_unknown_run_is_one_line_naming_the_folder_and_the_runs(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    build_ledger(tmp_path, "first", demo_cells(1))
    build_ledger(tmp_path, "second", demo_cells(1))
    (tmp_path / "unfinished").mkdir()
    assert cli(tmp_path, "--run", "nope") == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert err.count("\n") == 1
    assert err == f"error: {tmp_path.resolve()}: has no run 'nope'; pick one of: first, second\n"


def test_unknown_run_in_an_empty_folder(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli(tmp_path / "missing", "--run", "x") == 2
    assert "run a sweep first" in capsys.readouterr().err


def test_a_run_without_summary(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "half").mkdir()
    assert cli(tmp_path, "--run", "half") == 2
    assert "has no summary.csv (the sweep never finished)" in capsys.readouterr().err


def test_no_eligible_cell_exits_1_after_the_table(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    build_ledger(tmp_path, "sweep", [Cell("a", {"seed": 1}, metrics={"rmse": 1.0}), Cell("b", {"seed": 2}, "Failed")])
    assert cli(tmp_path, "--run", "sweep", "--select", "auc:max", "--register", "m") == 1
    out, err = capsys.readouterr()
    assert out.splitlines()[0].split()[:2] == ["cell", "status"]
    metric = "no cell to select by metric 'auc'"
    assert err == f"error: {metric}: 1 of 1 completed cell(s) had no value for it; metrics seen: rmse\n"
    assert not (tmp_path / "mlflow.db").exists()


# (case, extra args, words in the one-line error)
BAD_INPUT_CASES = [
    ("bad select", ["--select", "rmse"], "--select: 'rmse': is not METRIC:min or METRIC:max"),
    ("bad goal", ["--select", "rmse:best"], "has goal 'best', not min or max"),
    ("register without select", ["--register", "m"], "--register: m: needs a cell to register; add --select"),
    ("the train flag works too", ["--register-model", "m"], "--register: m: needs a cell to register"),
    ("bad model name", ["--select", "rmse:min", "--register", "a b"], "--register: 'a b': is not a valid model name"),
    (
        "model path outside outputs",
        ["--select", "rmse:min", "--register", "m", "--model-path", "x.rds"],
        "--model-path",
    ),
]


@pytest.mark.parametrize(("case", "args", "words"), BAD_INPUT_CASES, ids=[c[0] for c in BAD_INPUT_CASES])
def test_bad_input_exits_2_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], case: str, args: list[str], words: str
) -> None:
    build_ledger(tmp_path, "sweep", demo_cells(1))
    assert cli(tmp_path, "--run", "sweep", *args) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert err.count("\n") == 1 and err.startswith("error: ")
    assert words in err, case


def test_register_locally_once(mlflow_store: Store, capsys: pytest.CaptureFixture[str]) -> None:
    build_ledger(mlflow_store.root, "cli-reg", demo_cells(1), KEYS)
    args = ["--run", "cli-reg", "--select", "rmse:min", "--register", "cli-model", "--no-plot", "--experiment", "cli"]
    assert cli(mlflow_store.root, *args) == 0
    assert "model cli-model version 1 registered: runs:/" in capsys.readouterr().out
    assert cli(mlflow_store.root, *args) == 0
    assert "model cli-model version 1 already registered (no new version)" in capsys.readouterr().out
    (version,) = mlflow_store.client.search_model_versions("name = 'cli-model'")
    assert (version.tags["rjobs.cell"], version.tags["rjobs.objective"]) == ("c121", "rmse:min")
    assert float(version.tags["metric.rmse"]) == 278.0
    assert mlflow_store.client.get_experiment_by_name("cli") is not None


@pytest.mark.azure_fake
def test_register_on_azure_uses_the_workspace_models(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import types

    import rjobs.backends.azureml.workspace
    from tests.results.test_registry import FakeModels

    ledger, _ = build_ledger(tmp_path, "az", demo_cells(1), KEYS)
    ledger.write_run({"run": "az", "backend": "azureml"})
    models = FakeModels()
    configs: list[str | None] = []

    def fake_client(config_path: str | None = None) -> object:
        configs.append(config_path)
        return types.SimpleNamespace(models=models)

    monkeypatch.setattr(rjobs.backends.azureml.workspace, "make_ml_client", fake_client)
    args = ["--run", "az", "--select", "rmse:min", "--register", "pm", "--no-plot", "--workspace-config", "cfg.json"]
    assert cli(tmp_path, *args) == 0
    out = capsys.readouterr().out
    assert "model pm version 1 registered: azureml://jobs/az-c121/outputs/artifacts/paths/outputs/model.rds" in out
    assert configs == ["cfg.json"]
    assert [m.tags["rjobs.cell"] for m in models.creates()] == ["c121"]
    assert not (tmp_path / "mlflow.db").exists()
    assert json.loads(ledger.run_json_path.read_text())["backend"] == "azureml"
