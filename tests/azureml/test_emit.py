"""--emit-yaml: each cell as a command-job YAML that azure-ai-ml loads back into the job we would submit."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from azure.ai.ml import load_job

from rjobs.backends.azureml.jobs import emit_job_yaml
from rjobs.testing.fake_mlclient import FakeMLClient

pytestmark = pytest.mark.azure_fake

VALUES = {"features": "bill length; $(rm -rf ~) 'q' \"qq\"", "seed": 42, "test_fraction": 0.3}


def strip(reference: str | None) -> str | None:
    return reference[len("azureml:") :] if reference and reference.startswith("azureml:") else reference


def test_emitted_yaml_loads_and_matches_the_submitted_job(fake: FakeMLClient, prepared, spec, cell_job, tmp_path):
    backend, data = prepared
    job = cell_job(spec, VALUES, data=data)
    backend.submit(job)
    submitted = fake.jobs.get(job.job_name)
    code = backend.code_id(spec)
    path = emit_job_yaml(job, backend.environment, code, tmp_path / "emit" / f"{job.cell_id}.yml")

    assert yaml.safe_load(path.read_text())["$schema"].endswith("commandJob.schema.json")
    loaded = load_job(path)
    assert loaded.name == submitted.name == job.job_name
    assert loaded.command == submitted.command
    assert strip(loaded.environment) == strip(submitted.environment)
    assert strip(loaded.compute) == strip(submitted.compute) == "cpu-cluster"
    assert loaded.code == submitted.code == code
    assert loaded.tags == submitted.tags
    assert loaded.experiment_name == submitted.experiment_name
    assert loaded.display_name == submitted.display_name
    assert strip(loaded.inputs["data"].path) == strip(submitted.inputs["data"].path) == strip(data["data"].path)
    for name in ("features", "seed", "test_fraction", "model"):
        assert str(loaded.inputs[name]._data) == str(submitted.inputs[name]._data)
    assert str(loaded.inputs["features"]._data) == VALUES["features"]


def test_emitted_yaml_with_local_code_and_data_is_relative_and_submittable(fake, prepared, spec, cell_job, tmp_path):
    """Without ensure_data/ensure_code, `az ml job create -f` uploads code and data from paths relative to the file."""
    backend, _ = prepared
    job = cell_job(spec, {"seed": 3})
    path = emit_job_yaml(job, backend.environment, None, tmp_path / "emit" / "cell.yml")
    raw = yaml.safe_load(path.read_text())
    assert not Path(raw["code"]).is_absolute() and not Path(raw["inputs"]["data"]["path"]).is_absolute()

    loaded = load_job(path)
    assert (path.parent / raw["code"]).resolve() == spec.code
    created = fake.jobs.create_or_update(loaded)
    assert created.name == job.job_name
    assert fake.names("code.upload") == [job.job_name]


def test_an_emit_that_fails_half_way_leaves_no_file_behind(project: Path, tmp_path: Path, monkeypatch) -> None:
    """The disk fills after two of four files: the folder holds none of them and no staging folder."""
    from rjobs.backends.azureml import jobs
    from rjobs.engine.plan import emit_yaml
    from rjobs.inputs.options import SweepOptions, resolve

    options = SweepOptions(job=str(project / "job.yml"), param=["seed=1,2,3,4"], results=str(tmp_path / "results"))
    resolved = resolve(options)
    real, written = jobs.emit_job_yaml, []

    def disk_full_on_the_third(*args, **kwargs):
        if len(written) == 2:
            raise OSError(28, "No space left on device")
        written.append(real(*args, **kwargs))
        return written[-1]

    monkeypatch.setattr(jobs, "emit_job_yaml", disk_full_on_the_third)
    folder = tmp_path / "emit"
    with pytest.raises(OSError, match="No space left"):
        emit_yaml(resolved, folder)
    assert len(written) == 2 and all(not path.exists() for path in written)
    assert list(folder.iterdir()) == []
