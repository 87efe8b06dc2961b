"""Data, environment and code are registered once per content: unchanged means no upload and no rebuild."""

from __future__ import annotations

from pathlib import Path

import pytest

from rjobs.core.errors import InputError
from rjobs.inputs.spec import load_job_spec
from rjobs.testing.fake_mlclient import FakeMLClient

pytestmark = pytest.mark.azure_fake


def test_local_data_becomes_a_content_versioned_asset(fake: FakeMLClient, make_backend, spec, project: Path) -> None:
    bound = make_backend().ensure_data(spec)
    data = bound["data"]
    assert data.path.startswith("azureml:penguins-data:") and len(data.path.rsplit(":", 1)[1]) == 12
    assert bound["seed"] == spec.inputs["seed"]
    asset = fake.data.get("penguins-data", version=data.path.rsplit(":", 1)[1])
    assert Path(asset.path).read_bytes() == (project / "data" / "penguins.csv").read_bytes()

    again = make_backend().ensure_data(spec)
    assert again["data"].path == data.path
    assert fake.count("data.create_or_update") == 1 and fake.count("data.get") == 3  # one is ours, above

    with (project / "data" / "penguins.csv").open("a") as handle:
        handle.write("Gentoo,Biscoe,50,15,220,5000,male,2009\n")
    changed = make_backend().ensure_data(spec)
    assert changed["data"].path != data.path
    assert fake.count("data.create_or_update") == 2


def test_remote_data_passes_through(fake: FakeMLClient, make_backend, project: Path) -> None:
    text = (project / "job.yml").read_text().replace("path: data/penguins.csv", "path: azureml:penguins:3")
    (project / "remote.yml").write_text(text)
    spec = load_job_spec(project / "remote.yml")
    assert make_backend().ensure_data(spec)["data"].path == "azureml:penguins:3"
    assert fake.count("data.*") == 0


def test_environment_is_built_once_per_content(fake: FakeMLClient, make_backend, spec, project: Path) -> None:
    first = make_backend(env_smoke=False).ensure_environment(spec)
    assert first.created and first.reference and first.reference.startswith("azureml:r-env:")
    second = make_backend(env_smoke=False).ensure_environment(spec)
    assert second.reference == first.reference and not second.created
    assert fake.count("environments.create_or_update") == 1

    (project / "docker-context" / "Dockerfile").write_text("FROM rocker/r-ver:4.4.1\nRUN install2.r ranger\n")
    third = make_backend(env_smoke=False).ensure_environment(spec)
    assert third.created and third.reference != first.reference
    assert fake.count("environments.create_or_update") == 2


def test_environment_reference_from_job_yml(fake: FakeMLClient, make_backend, spec, project: Path) -> None:
    """No environment file: `azureml:r-env@latest` is pinned to a version, so every cell runs the same image."""
    built = make_backend(env_smoke=False).ensure_environment(spec)
    pinned = make_backend(env_smoke=False, environment_file=None).ensure_environment(spec)
    assert pinned.reference == built.reference and not pinned.created

    text = (project / "job.yml").read_text().replace("azureml:r-env@latest", "azureml:r-env:55")
    (project / "pinned.yml").write_text(text)
    explicit = load_job_spec(project / "pinned.yml")
    calls = fake.count()
    assert make_backend(env_smoke=False, environment_file=None).ensure_environment(explicit).reference == (
        "azureml:r-env:55"
    )
    assert fake.count() == calls


def test_inline_environment_mapping_is_registered(fake: FakeMLClient, make_backend, project: Path) -> None:
    text = (
        (project / "job.yml")
        .read_text()
        .replace("environment: azureml:r-env@latest", "environment:\n  build:\n    path: docker-context")
    )
    (project / "inline.yml").write_text(text)
    spec = load_job_spec(project / "inline.yml")
    info = make_backend(env_smoke=False, environment_file=None).ensure_environment(spec)
    assert info.created and info.reference and info.reference.startswith("azureml:penguins-env:")


@pytest.mark.parametrize(
    ("environment", "message"),
    [("docker.io/rocker/r-ver", "not an Azure ML environment"), ("azureml:missing@latest", "does not exist")],
)
def test_bad_environment_is_an_input_error(make_backend, project: Path, environment: str, message: str) -> None:
    text = (project / "job.yml").read_text().replace("azureml:r-env@latest", environment)
    (project / "bad.yml").write_text(text)
    with pytest.raises(InputError, match=message):
        make_backend(env_smoke=False, environment_file=None).ensure_environment(load_job_spec(project / "bad.yml"))


def test_code_is_registered_once_and_shared(fake: FakeMLClient, prepared, make_backend, spec, cell_job) -> None:
    backend, data = prepared
    for seed in range(5):
        backend.submit(cell_job(spec, {"seed": seed}, data=data))
    assert fake.count("code.create_or_update") == 1
    assert fake.count("code.upload") == 0
    code_ids = {fake.job_record(n)["rest"]["properties"]["codeId"] for n in fake._jobs if n.startswith("run1-")}
    assert len(code_ids) == 1

    again = make_backend(env_smoke=False)
    again.ensure_code(spec)
    assert fake.count("code.create_or_update") == 1 and fake.count("code.get") == 2


def test_a_custom_code_uploader_is_used(fake: FakeMLClient, make_backend, spec) -> None:
    seen = []
    backend = make_backend(env_smoke=False, code_uploader=lambda path, name, version: seen.append(name) or "x")
    backend.ensure_code(spec)
    backend.ensure_code(spec)
    assert seen == ["penguins-r_src"] and fake.count("code.*") == 0
