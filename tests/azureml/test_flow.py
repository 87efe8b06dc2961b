"""The train flow with `--backend azureml` end to end, against the fake control plane running real R."""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import pytest

from flows.cli import main
from rjobs.testing.fake_mlclient import FakeMLClient

pytestmark = [
    pytest.mark.azure_fake,
    pytest.mark.slow,
    pytest.mark.usefixtures("prefect_server"),
    pytest.mark.skipif(shutil.which("Rscript") is None, reason="needs Rscript"),
]


def test_demo_sweep_on_azure_fake_completes_and_reruns_without_new_jobs(
    demo_project: Path, fake_workspace: FakeMLClient
) -> None:
    (demo_project / "grid.yml").write_text("model: [lm, ranger]\nseed: [1, 2]\n")
    args = [
        "--job",
        str(demo_project / "job.yml"),
        "--results",
        str(demo_project / "results"),
        "--backend",
        "azureml",
        "--run-name",
        "az",
        "--max-concurrent",
        "3",
        "--poll-interval",
        "0.05",
        "--tracking-uri",
        f"sqlite:///{demo_project / 'results' / 'mlflow.db'}",
        "--select",
        "rmse:min",
        "--register-model",
        "penguins",
    ]
    assert main(args) == 0
    assert [m.version for m in fake_workspace.models.list(name="penguins")] == ["1"]

    with (demo_project / "results" / "az" / "summary.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    assert [r["status"] for r in rows] == ["Completed"] * 4
    assert all(float(r["metric.rmse"]) > 0 for r in rows)
    for row in rows:
        outputs = demo_project / "results" / "az" / row["cell"] / "outputs"
        assert {"metrics.json", "model.rds", "pred_vs_actual.png"} <= {p.name for p in outputs.iterdir()}
    created = fake_workspace.names("jobs.create_or_update")
    cell_jobs = [name for name in created if name.startswith("az-")]
    assert sorted(cell_jobs) == sorted(r["job_name"] for r in rows)
    assert fake_workspace.count("code.create_or_update") <= 1
    run = json.loads((demo_project / "results" / "az" / "run.json").read_text())
    assert (run["backend"], run["submitted"], run["completed"]) == ("azureml", 4, 4)

    calls_before = len(fake_workspace.calls)
    assert main(args) == 0
    rerun = json.loads((demo_project / "results" / "az" / "run.json").read_text())
    assert (rerun["submitted"], rerun["reused"]) == (0, 4)
    new_creates = [c for c in fake_workspace.calls[calls_before:] if c[0] == "jobs.create_or_update"]
    assert new_creates == []
    assert fake_workspace.count("data.create_or_update") == 1
    assert [m.version for m in fake_workspace.models.list(name="penguins")] == ["1"]
    assert fake_workspace.count("models.create_or_update") == 1
