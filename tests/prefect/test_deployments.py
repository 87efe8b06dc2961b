"""prefect.yaml for real: a Prefect server, the process pool, `prefect deploy --all`, a run, a worker.

One module-scoped server and one deployed run of a two-cell grid; the tests read what it left behind
through the API and in a temporary copy of the project (the worker's clone).
"""

from __future__ import annotations

import csv
import json
import os
import shutil
import signal
import socket
import subprocess
import time
import urllib.request
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml
from prefect.client.orchestration import SyncPrefectClient, get_client
from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId
from prefect.client.schemas.objects import ConcurrencyLimitStrategy
from prefect.settings import PREFECT_API_URL, temporary_settings

from tasks.results import artifact_key

REPO = Path(__file__).resolve().parents[2]
PREFECT = REPO / ".venv" / "bin" / "prefect"
POOL = "r-azure-ml-process"
PROJECT_FILES = ("job.yml", "grid.yml", "environment-job.yml", "prefect.yaml")
PROJECT_DIRS = ("r_src", "data", "docker-context", "flows", "tasks", "rjobs")
GRID = {"model": ["lm"], "seed": [1, 2]}


@dataclass(frozen=True)
class Deployed:
    """What the module fixture leaves for the tests: where, which run, and the API to ask."""

    project: Path
    api_url: str
    run_name: str
    flow_run_id: uuid.UUID
    worker_log: str


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def tail(path: Path, lines: int = 40) -> str:
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:]) if path.exists() else ""


def wait_healthy(api_url: str, server: subprocess.Popen[bytes], log: Path, timeout_s: float = 180) -> None:
    """Poll /api/health until the server answers; fail with its log if it dies or never answers (a bound on a hang:
    a first start migrates a fresh database, minutes on a machine shared with other test runs)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if server.poll() is not None:
            pytest.fail(f"prefect server exited with {server.returncode}:\n{tail(log)}")
        try:
            with urllib.request.urlopen(f"{api_url}/health", timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.5)
    pytest.fail(f"prefect server not healthy after {timeout_s}s:\n{tail(log)}")


def run_cli(argv: list[str], env: dict[str, str], cwd: Path, timeout_s: float = 120) -> str:
    """Run a command to the end; its output is the failure message when it fails."""
    done = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout_s, check=False)
    output = done.stdout + done.stderr
    assert done.returncode == 0, f"{' '.join(argv)} exited {done.returncode}:\n{output[-4000:]}"
    return output


def copy_project(target: Path) -> Path:
    """The files a worker's clone needs, so the run writes its results here and not in the repo."""
    target.mkdir()
    for name in PROJECT_FILES:
        shutil.copy2(REPO / name, target / name)
    for name in PROJECT_DIRS:
        shutil.copytree(REPO / name, target / name, ignore=shutil.ignore_patterns("__pycache__"))
    return target


@contextmanager
def api_client(api_url: str) -> Iterator[SyncPrefectClient]:
    """A client of this module's server, whatever other server the test session points at."""
    with temporary_settings({PREFECT_API_URL: api_url}), get_client(sync_client=True) as client:
        yield client


@pytest.fixture(scope="module")
def deployed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployed]:
    """Server up, pool created (twice: idempotent), deployments applied, one train run worked to the end."""
    base = tmp_path_factory.mktemp("prefect-deploy")
    project = copy_project(base / "clone")
    port = free_port()
    api_url = f"http://127.0.0.1:{port}/api"
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
    env.update(
        PREFECT_HOME=str(base / "prefect-home"),
        PREFECT_API_URL=api_url,
        PREFECT_SERVER_ANALYTICS_ENABLED="false",
        PREFECT_UI_ENABLED="false",
    )
    server_log = base / "server.log"
    with server_log.open("wb") as log:
        server = subprocess.Popen(
            [str(PREFECT), "server", "start", "--host", "127.0.0.1", "--port", str(port)],
            cwd=base,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        wait_healthy(api_url, server, server_log)
        script = ["bash", str(REPO / "scripts" / "prefect.sh"), "pool"]
        assert "Created work pool" in run_cli(script, env, project)
        assert f"work pool {POOL} exists" in run_cli(script, env, project)
        run_cli([str(PREFECT), "--no-prompt", "deploy", "--all"], env, project)  # as make deploy: no R_AZURE_ML_DIR

        run_name = f"deployed-{uuid.uuid4().hex[:6]}"
        overrides = {"grid_values": GRID, "run_name": run_name, "max_concurrent": 2, "retries": 0}
        with api_client(api_url) as client:
            deployment = client.read_deployment_by_name("train/train")
            flow_run = client.create_flow_run_from_deployment(deployment.id, parameters=overrides)
        worker = [str(PREFECT), "worker", "start", "--pool", POOL, "--type", "process", "--run-once"]
        worker_log = run_cli(worker, {**env, "R_AZURE_ML_DIR": str(project)}, project, timeout_s=150)
        yield Deployed(project, api_url, run_name, flow_run.id, worker_log)
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait(timeout=10)


def summary_rows(deployed: Deployed) -> list[dict[str, str]]:
    with (deployed.project / "results" / deployed.run_name / "summary.csv").open(newline="") as handle:
        return list(csv.DictReader(handle))


@pytest.mark.slow
def test_the_run_completes_in_the_clone_with_its_results_there(deployed: Deployed) -> None:
    rows = summary_rows(deployed)
    assert sorted((r["param.model"], r["param.seed"]) for r in rows) == [("lm", "1"), ("lm", "2")]
    assert [r["status"] for r in rows] == ["Completed", "Completed"]
    assert not (REPO / "results" / deployed.run_name).exists()
    assert "set_working_directory" in deployed.worker_log
    with api_client(deployed.api_url) as client:
        flow_run = client.read_flow_run(deployed.flow_run_id)
        assert flow_run.state is not None and flow_run.state.is_completed(), flow_run.state
        assert flow_run.parameters["grid_values"] == GRID


@pytest.mark.slow
def test_a_run_overriding_some_fields_keeps_the_deployments_other_values(deployed: Deployed) -> None:
    """Top-level parameters merge key by key: the run's retries win, the deployment's select and job stay."""
    with api_client(deployed.api_url) as client:
        flow_run = client.read_flow_run(deployed.flow_run_id)
        deployment = client.read_deployment_by_name("train/train")
    assert deployment.parameters["retries"] == 1 and deployment.parameters["select"] == "rmse:min"
    assert flow_run.parameters["retries"] == 0
    assert (flow_run.parameters["select"], flow_run.parameters["job"]) == ("rmse:min", "job.yml")
    run_dir = deployed.project / "results" / deployed.run_name
    assert (run_dir / "rmse_by_param.png").is_file(), "the deployment's select was applied"


@pytest.mark.slow
def test_the_flow_run_is_named_after_the_sweep_and_cells_after_their_parameters(deployed: Deployed) -> None:
    with api_client(deployed.api_url) as client:
        flow_run = client.read_flow_run(deployed.flow_run_id)
        task_runs = client.read_task_runs(
            flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[deployed.flow_run_id]))
        )
    assert flow_run.name == deployed.run_name
    cells = {t.name: t.tags for t in task_runs if t.name.startswith("model=")}
    by_seed = {r["param.seed"]: r["cell"] for r in summary_rows(deployed)}
    assert set(cells) == {f"model=lm seed={seed} ({cell})" for seed, cell in by_seed.items()}
    assert all(tags == [] for tags in cells.values()), "a tag costs a concurrency-slot request per task run"


@pytest.mark.slow
def test_every_cell_and_every_stage_is_a_recorded_task_run(deployed: Deployed) -> None:
    cells = {f"model=lm seed={r['param.seed']} ({r['cell']})" for r in summary_rows(deployed)}
    with api_client(deployed.api_url) as client:
        task_runs = client.read_task_runs(
            flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[deployed.flow_run_id]))
        )
    names = [t.name for t in task_runs]
    assert sorted(n for n in names if n.startswith("model=")) == sorted(cells)
    stages = {n.rsplit("-", 1)[0] for n in names if not n.startswith("model=")}  # later stages may be added
    assert {"stage-data", "check-environment", "upload-code", "write-results"} <= stages
    assert all(t.state is not None and t.state.is_completed() for t in task_runs), [t.state for t in task_runs]


@pytest.mark.slow
def test_the_table_summary_and_progress_artifacts_are_attached(deployed: Deployed) -> None:
    with api_client(deployed.api_url) as client:
        artifacts = client.read_artifacts(
            flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[deployed.flow_run_id]))
        )
    by_key = {a.key: a for a in artifacts}
    table = by_key[artifact_key(deployed.run_name, "table")]
    summary = by_key[artifact_key(deployed.run_name, "summary")]
    assert (table.type, summary.type) == ("table", "markdown")
    data = json.loads(table.data) if isinstance(table.data, str) else table.data
    assert sorted(row["cell"] for row in data) == sorted(r["cell"] for r in summary_rows(deployed))
    assert f"Sweep `{deployed.run_name}`" in str(summary.data)
    # metrics first and rounded, best first by the deployment's rmse:min and marked
    assert list(data[0])[:4] == ["best", "cell", "status", "rmse"]
    rmse = [float(row["rmse"]) for row in data]
    assert rmse == sorted(rmse) and [row["best"] for row in data] == ["★", ""]
    assert all(len(row["rmse"].replace(".", "").lstrip("0")) <= 4 for row in data), data
    progress = by_key[artifact_key(deployed.run_name, "progress")]
    assert progress.type == "progress" and float(progress.data) == 100.0
    assert progress.description == "2/2 done: 2 Completed"
    mlflow = str(by_key[artifact_key(deployed.run_name, "mlflow")].data)
    assert "mlflow ui --backend-store-uri sqlite:" in mlflow and "parent run: [`" in mlflow
    assert all(f"cell `{row['cell']}`: [`" in mlflow for row in summary_rows(deployed)), mlflow


@pytest.mark.slow
def test_nightly_retrain_has_its_schedule_limit_and_parameters(deployed: Deployed) -> None:
    with api_client(deployed.api_url) as client:
        nightly = client.read_deployment_by_name("train/nightly-retrain")
        train = client.read_deployment_by_name("train/train")
    [schedule] = nightly.schedules
    assert (schedule.schedule.cron, schedule.schedule.timezone, schedule.active) == (
        "0 2 * * *",
        "Europe/London",
        True,
    )
    assert nightly.global_concurrency_limit is not None and nightly.global_concurrency_limit.limit == 1
    assert nightly.concurrency_options is not None
    assert nightly.concurrency_options.collision_strategy == ConcurrencyLimitStrategy.ENQUEUE
    assert nightly.parameters["retries"] == 2
    assert "run_name" not in nightly.parameters
    assert train.schedules == [] and train.global_concurrency_limit is None
    assert nightly.work_pool_name == train.work_pool_name == POOL
    pull = {"prefect.deployments.steps.set_working_directory": {"directory": "{{ $R_AZURE_ML_DIR }}"}}
    assert nightly.pull_steps == train.pull_steps == [pull]


def test_deployment_parameters_are_valid_sweep_options() -> None:
    """The parameters in prefect.yaml must be flow parameters that build SweepOptions, or every scheduled run would
    fail at start."""
    from flows.parameters import flow_signature, options_from_parameters

    config = yaml.safe_load((REPO / "prefect.yaml").read_text())
    sweeps = [d for d in config["deployments"] if d["entrypoint"] == "flows/train_flow.py:train"]
    assert len(sweeps) == 2
    for deployment in sweeps:
        assert set(deployment["parameters"]) <= set(flow_signature().parameters)
        options = options_from_parameters(deployment["parameters"])
        assert options.backend == "local" and options.job == "job.yml"


def test_the_deploy_model_deployment_binds_to_the_deploy_flow() -> None:
    """Its parameters must bind to flows/deploy_flow.py's signature, or every run would fail at start."""
    import inspect

    from flows.deploy_flow import deploy

    config = yaml.safe_load((REPO / "prefect.yaml").read_text())
    [serving] = [d for d in config["deployments"] if d["name"] == "deploy-model"]
    assert serving["entrypoint"] == "flows/deploy_flow.py:deploy"
    bound = inspect.signature(deploy.fn).bind(**serving["parameters"])
    assert bound.arguments["backend"] == "azureml" and bound.arguments["model"] == "r-penguins"
