"""`python -m flows.train --serve` on one machine: the nightly schedule and parameters of prefect.yaml, served by
Prefect's `serve` against a running server, and a run of that deployment worked to the end by the same process."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from prefect.client.orchestration import get_client

from flows.cli import build_parser, options_from_args
from flows.serve import SERVED_NAME, nightly_deployment, served_parameters
from tests.prefect.test_deployments import copy_project

pytestmark = pytest.mark.usefixtures("prefect_server")


def test_flags_beside_serve_override_only_what_they_name() -> None:
    args = build_parser("x", "x").parse_args(["--serve", "--results", "elsewhere", "--max-concurrent", "3"])
    vars(args).pop("serve")
    parameters = served_parameters(options_from_args(args), nightly_deployment())
    assert parameters == {**nightly_deployment()["parameters"], "results": "elsewhere", "max_concurrent": 3}


@pytest.mark.r
def test_serve_schedules_the_nightly_and_runs_what_it_is_asked(tmp_path: Path) -> None:
    from prefect.settings import PREFECT_API_URL

    project = copy_project(tmp_path / "clone")
    env = {**os.environ, "PREFECT_API_URL": str(PREFECT_API_URL.value()), "PREFECT_HOME": str(tmp_path / "home")}
    log = (tmp_path / "serve.log").open("wb")
    served = subprocess.Popen(
        [sys.executable, "-m", "flows.train", "--serve", "--no-mlflow"],
        cwd=project,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        with get_client(sync_client=True) as client:
            deployment = None
            deadline = time.monotonic() + 90
            while deployment is None and time.monotonic() < deadline and served.poll() is None:
                try:
                    deployment = client.read_deployment_by_name(f"train/{SERVED_NAME}")
                except Exception:
                    time.sleep(0.5)
            assert deployment is not None, (tmp_path / "serve.log").read_text()[-3000:]
            [schedule] = deployment.schedules
            assert (schedule.schedule.cron, schedule.schedule.timezone) == ("0 2 * * *", "Europe/London")
            assert deployment.parameters["results"] == "results/nightly" and deployment.parameters["no_mlflow"]

            run_name = f"served-{uuid.uuid4().hex[:6]}"
            grid = {"model": ["lm"], "seed": [1]}
            flow_run = client.create_flow_run_from_deployment(
                deployment.id, parameters={"grid_values": grid, "run_name": run_name}
            )
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline:
                state = client.read_flow_run(flow_run.id).state
                if state is not None and state.is_final():
                    break
                time.sleep(0.5)
            assert state is not None and state.is_completed(), (tmp_path / "serve.log").read_text()[-3000:]
        assert (project / "results" / "nightly" / run_name / "summary.csv").is_file()
    finally:
        os.killpg(served.pid, signal.SIGINT)
        try:
            served.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(served.pid, signal.SIGKILL)
            served.wait(timeout=10)
        log.close()
