"""Fixtures for the Azure ML backend: a fake control plane on a fake clock, and a small R project on disk."""

from __future__ import annotations

import shutil
import warnings
from collections.abc import Callable, Mapping
from pathlib import Path

import pytest

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    import azure.ai.ml  # noqa: F401  (its marshmallow schemas warn at import; not ours to fix)

from rjobs.backends.azureml.backend import AzureMLBackend
from rjobs.backends.base import CellJob
from rjobs.core.naming import job_name
from rjobs.inputs.grid import Cell
from rjobs.inputs.spec import JobSpec, Scalar, load_job_spec
from rjobs.testing.fake_mlclient import FakeClock, FakeMLClient

REPO = Path(__file__).resolve().parents[2]
PACKAGES = {"jsonlite": ["train.R"], "optparse": ["train.R"]}

JOB_YML = """\
$schema: https://azuremlschemas.azureedge.net/latest/commandJob.schema.json
type: command
command: >-
  Rscript train.R --data ${{inputs.data}} --model ${{inputs.model}}
  --features ${{inputs.features}} --seed ${{inputs.seed}} --test_fraction ${{inputs.test_fraction}}
code: r_src
inputs:
  data:
    type: uri_file
    path: data/penguins.csv
  model: lm
  features: flipper_length_mm
  seed: 1
  test_fraction: 0.25
environment: azureml:r-env@latest
compute: cpu-cluster
experiment_name: penguins
display_name: penguins sweep
tags:
  project: rjobs-tests
environment_variables:
  TZ: UTC
"""

ENVIRONMENT_YML = """\
$schema: https://azuremlschemas.azureedge.net/latest/environment.schema.json
name: r-env
build:
  path: docker-context
"""


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """azure-ai-ml's schemas emit marshmallow 4 deprecation warnings on every load; hide them for these tests."""
    here = Path(__file__).parent
    for item in items:
        if here in Path(str(item.path)).parents:
            item.add_marker(pytest.mark.filterwarnings("ignore::DeprecationWarning:marshmallow"))
            item.add_marker(pytest.mark.filterwarnings("ignore::DeprecationWarning:azure"))


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def fake(tmp_path: Path, clock: FakeClock) -> FakeMLClient:
    return FakeMLClient(clock, seed=7, store=tmp_path / "fake-store")


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """job.yml, r_src/, data/ and docker-context/ as a user's checkout has them."""
    root = tmp_path / "project"
    root.mkdir()
    shutil.copytree(REPO / "r_src", root / "r_src")
    (root / "data").mkdir()
    shutil.copy(REPO / "data" / "penguins.csv", root / "data" / "penguins.csv")
    (root / "docker-context").mkdir()
    (root / "docker-context" / "Dockerfile").write_text(
        "FROM rocker/r-ver:4.4.1\nRUN install2.r --error optparse jsonlite ranger\n"
    )
    (root / "environment-job.yml").write_text(ENVIRONMENT_YML)
    (root / "job.yml").write_text(JOB_YML)
    return root


@pytest.fixture
def spec(project: Path) -> JobSpec:
    return load_job_spec(project / "job.yml")


@pytest.fixture
def make_backend(fake: FakeMLClient, clock: FakeClock, project: Path) -> Callable[..., AzureMLBackend]:
    """A backend on the fake; a second call is a second process talking to the same workspace."""

    def build(client: FakeMLClient | None = None, **options: object) -> AzureMLBackend:
        settings: dict[str, object] = {
            "environment_file": project / "environment-job.yml",
            "clock": clock,
            "sleep": clock.sleep,
            "r_packages": lambda _code: PACKAGES,
            "poll_interval": 5.0,
        }
        settings.update(options)
        return AzureMLBackend(client or fake, **settings)  # type: ignore[arg-type]

    return build


@pytest.fixture
def backend(make_backend: Callable[..., AzureMLBackend]) -> AzureMLBackend:
    return make_backend()


def bind(spec: JobSpec, data_inputs: Mapping[str, object], params: Mapping[str, Scalar]) -> dict[str, object]:
    inputs = dict(spec.inputs)
    inputs.update(data_inputs)  # type: ignore[arg-type]
    for key, value in params.items():
        inputs[key] = spec.inputs[key].with_value(value)
    return inputs


@pytest.fixture
def cell_job(tmp_path: Path) -> Callable[..., CellJob]:
    """CellJob for params, bound as the sweep binds them (data inputs as ensure_data returned them)."""

    def build(
        spec: JobSpec,
        params: Mapping[str, Scalar],
        *,
        data: Mapping[str, object] | None = None,
        run: str = "run1",
        attempt: int = 1,
    ) -> CellJob:
        cell = Cell(params=dict(params))
        tags = {"rjobs.run": run, "rjobs.cell": cell.cell_id, "rjobs.attempt": str(attempt)}
        tags.update({f"param.{k}": str(v) for k, v in params.items()})
        return CellJob(
            run=run,
            cell_id=cell.cell_id,
            attempt=attempt,
            job_name=job_name(run, cell.cell_id, attempt),
            spec=spec,
            params=dict(params),
            inputs=bind(spec, data or {}, params),  # type: ignore[arg-type]
            cell_dir=tmp_path / "results" / run / cell.cell_id,
            tags=tags,
        )

    return build


@pytest.fixture
def prepared(make_backend: Callable[..., AzureMLBackend], spec: JobSpec) -> tuple[AzureMLBackend, dict[str, object]]:
    """A backend with data, environment (no smoke job) and code in place, and the bound data inputs."""
    backend = make_backend(env_smoke=False)
    data = backend.ensure_data(spec)
    backend.ensure_environment(spec)
    backend.ensure_code(spec)
    return backend, {k: v for k, v in data.items() if not v.is_literal}
