"""A cell on Azure: the command carries each value as written, and the job's typed inputs (what the studio and an
emitted YAML show) never show another spelling than the one R receives."""

from __future__ import annotations

import shlex
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml
from azure.ai.ml import load_job

from rjobs.backends.azureml.backend import AzureMLBackend
from rjobs.backends.azureml.jobs import build_command_job, emit_job_yaml
from rjobs.backends.base import CellJob
from rjobs.inputs.spec import JobSpec

pytestmark = pytest.mark.azure_fake

# (what the user wrote in grid.yml or --param, the typed input Azure shows)
SPELLINGS = [
    ("010", "010"),
    ("0x10", "0x10"),
    ("1_000", "1_000"),
    ("1e-7", "1e-7"),
    ("yes", "yes"),
    ("true", "true"),
    ("16", 16),
    ("0.5", 0.5),
    ("2024-01-01", "2024-01-01"),
]


@pytest.mark.parametrize(("written", "typed"), SPELLINGS, ids=[s[0] for s in SPELLINGS])
def test_typed_inputs_and_command_keep_the_spelling(
    prepared: tuple[AzureMLBackend, dict[str, object]],
    spec: JobSpec,
    cell_job: Callable[..., CellJob],
    tmp_path: Path,
    written: str,
    typed: object,
) -> None:
    backend, data = prepared
    job = cell_job(spec, {"seed": written, "test_fraction": written}, data=data)
    entity = build_command_job(job, backend.environment, backend.code_id(spec))
    assert entity.inputs["seed"]._data == typed and type(entity.inputs["seed"]._data) is type(typed)
    argv = shlex.split(entity.command)
    assert argv[argv.index("--seed") + 1] == written == argv[argv.index("--test_fraction") + 1]
    assert entity.tags["param.seed"] == written

    path = emit_job_yaml(job, backend.environment, backend.code_id(spec), tmp_path / "emit" / "cell.yml")
    assert yaml.safe_load(path.read_text())["inputs"]["seed"] == typed
    loaded = load_job(path)
    assert shlex.split(loaded.command)[argv.index("--seed") + 1] == written
