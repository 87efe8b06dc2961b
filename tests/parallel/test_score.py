"""`python -m flows.score`: a model registered in the local MLflow registry scores a table as a parallel job of
r_src/score.R with real R, rows appended with their prediction."""

from __future__ import annotations

import csv
import subprocess
from pathlib import Path

import pytest

from flows.score import main
from rjobs.results.tracking import ensure_experiment, local_tracking_uri, make_client

pytestmark = [pytest.mark.r, pytest.mark.usefixtures("prefect_server")]
REPO = Path(__file__).resolve().parents[2]
DATA = REPO / "data" / "penguins.csv"


def register_trained_model(tmp_path: Path, results: Path) -> None:
    """train.R's model.rds, logged to a run and registered as `penguins` version 1, as a sweep registers it."""
    out = tmp_path / "trained"
    subprocess.run(
        [
            "Rscript",
            "train.R",
            "--data",
            str(DATA),
            "--features",
            "flipper_length_mm+species",
            "--output",
            str(out),
        ],
        check=True,
        capture_output=True,
        cwd=REPO / "r_src",
    )
    client = make_client(local_tracking_uri(results))
    experiment = ensure_experiment(client, "train", results)
    run = client.create_run(experiment)
    client.log_artifact(run.info.run_id, str(out / "model.rds"), "outputs")
    client.set_terminated(run.info.run_id)
    client.create_registered_model("penguins")
    client.create_model_version("penguins", f"runs:/{run.info.run_id}/outputs/model.rds", run_id=run.info.run_id)


def test_a_registered_model_scores_a_table_in_batches(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    results = tmp_path / "results"
    register_trained_model(tmp_path, results)
    args = ["--data", str(DATA), "--results", str(results), "--mini-batch-size", "100", "--run-name", "s"]
    assert main(["--model", "penguins", *args]) == 0
    with (results / "s" / "predictions.csv").open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 342  # 344 penguins, two without measurements: failed items, listed
    assert all(2000 < float(row["prediction"]) < 7000 for row in rows)
    assert len((results / "s" / "failed_items.txt").read_text().splitlines()) == 2
    assert "4/4 batches completed" in capsys.readouterr().out

    assert main(["--model", "penguins:7", *args]) == 2
    assert "--model: penguins:7: is not registered" in capsys.readouterr().err
