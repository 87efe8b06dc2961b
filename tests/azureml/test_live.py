"""A 2-cell sweep against a real workspace: upload, build, smoke, submit, poll, collect. Skipped without one."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest

from rjobs.backends.azureml.backend import AzureMLBackend
from rjobs.backends.azureml.workspace import make_ml_client, workspace_settings
from rjobs.core.errors import InputError
from rjobs.core.states import JobState
from rjobs.inputs.spec import load_job_spec
from tests.azureml.harness import drive


def _workspace_configured() -> bool:
    try:
        workspace_settings()
    except InputError:
        return False
    return True


pytestmark = [
    pytest.mark.azure_live,
    pytest.mark.skipif(not _workspace_configured(), reason="no Azure ML workspace (config.json or AZURE_* variables)"),
]

DEADLINE_S = 90 * 60
INTERVAL_S = 30.0


def test_two_cell_sweep_on_azure(project: Path, cell_job) -> None:
    compute = os.environ.get("RJOBS_LIVE_COMPUTE")
    text = (project / "job.yml").read_text()
    text = text.replace("compute: cpu-cluster\n", f"compute: {compute}\n" if compute else "")
    (project / "job.yml").write_text(text)
    spec = load_job_spec(project / "job.yml")
    backend = AzureMLBackend(make_ml_client(), environment_file=project / "environment-job.yml")

    data = {k: v for k, v in backend.ensure_data(spec).items() if not v.is_literal}
    backend.ensure_environment(spec)
    backend.ensure_code(spec)
    run = f"live{int(time.time())}"
    jobs = [cell_job(spec, {"seed": seed}, data=data, run=run) for seed in (1, 2)]
    result = drive(
        backend, jobs, time.sleep, max_concurrent=2, interval=INTERVAL_S, max_polls=int(DEADLINE_S / INTERVAL_S)
    )

    assert set(result.states.values()) == {JobState.COMPLETED}, result.states
    for job in jobs:
        metrics = json.loads((job.cell_dir / "outputs" / "metrics.json").read_text())
        assert metrics["rmse"] > 0
        assert (job.cell_dir / "std_log.txt").is_file()
