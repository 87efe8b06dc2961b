"""Secrets in the environment (a storage connection string and account key, a SAS, tokens, a database URL) appear
nowhere a run writes: results folder (MLflow store included), terminal, logs, emitted YAML, the Prefect server's
flow-run parameters, logs and artifacts, and what the Azure fake was sent and stored. A local job's environment is an
allowlist (job.yml's environment_variables, what R needs, --pass-env), so whatever a secret is called, R never has it.
"""

from __future__ import annotations

import datetime
import uuid
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING
from uuid import UUID

import pytest
import yaml

from flows.cli import main
from rjobs.storage.clients import CONNECTION_STRING_ENV
from tests.reliability.support import write_project

if TYPE_CHECKING:
    from rjobs.testing.fake_mlclient import FakeMLClient

pytestmark = [
    pytest.mark.slow,
    pytest.mark.usefixtures("prefect_server"),
    pytest.mark.r,
]


@pytest.fixture
def env_secrets(monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """Credentials a user's shell may well hold while running a sweep, under names no denylist would catch as well as
    obvious ones; unique per test."""
    token = uuid.uuid4().hex
    secrets = {
        "AZURE_CLIENT_SECRET": f"client-secret-{token}",
        "MLFLOW_TRACKING_TOKEN": f"mlflow-token-{token}",
        "GITHUB_TOKEN": f"ghp_{token}",
        "AZUREML_ACCESS_TOKEN": f"eyJhbGciOiJSUzI1NiJ9.{token}.sig",
        "DATABASE_URL": f"postgres://app:{token}-db@db.internal/prod",
        "MY_SERVICE_CONFIG": f"endpoint=https://svc.internal;key={token}-svc",
    }
    for name, value in secrets.items():
        monkeypatch.setenv(name, value)
    return secrets


def flow_run_ids() -> set[UUID]:
    from prefect.client.orchestration import get_client

    with get_client(sync_client=True) as client:
        return {run.id for run in client.read_flow_runs(limit=200)}


def prefect_records(new_runs: Iterable[UUID]) -> Iterator[tuple[str, str]]:
    """Everything the Prefect server keeps of these flow runs: parameters, logs, artifacts, task runs."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import (
        ArtifactFilter,
        ArtifactFilterFlowRunId,
        FlowRunFilter,
        FlowRunFilterId,
        LogFilter,
        LogFilterFlowRunId,
    )

    runs = list(new_runs)
    with get_client(sync_client=True) as client:
        for run in client.read_flow_runs(flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=runs))):
            yield f"flow run {run.id}", run.model_dump_json()
        offset = 0
        while logs := client.read_logs(LogFilter(flow_run_id=LogFilterFlowRunId(any_=runs)), limit=200, offset=offset):
            yield from ((f"log {log.id}", log.model_dump_json()) for log in logs)
            offset += len(logs)
        artifacts = client.read_artifacts(
            artifact_filter=ArtifactFilter(flow_run_id=ArtifactFilterFlowRunId(any_=runs))
        )
        yield from ((f"artifact {a.key}", a.model_dump_json()) for a in artifacts)
        for task_run in client.read_task_runs(flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=runs))):
            yield f"task run {task_run.name}", task_run.model_dump_json()


def files(*roots: Path) -> Iterator[tuple[str, str]]:
    """Every file under the roots, binary ones (sqlite, PNG, RDS) as latin-1 so any byte sequence matches."""
    for root in roots:
        for path in sorted(root.rglob("*")):
            if path.is_file() and not path.is_symlink():
                yield str(path), path.read_bytes().decode("latin-1")


def leaks(secrets: Iterable[str], haystacks: Iterable[tuple[str, str]]) -> list[str]:
    """Where any secret (or its URL-encoded form) appears."""
    from urllib.parse import quote, unquote

    needles = {form for s in secrets if s for form in (s, quote(s, safe=""), unquote(s))}
    found = []
    for where, text in haystacks:
        found += [f"{where}: {needle[:12]}..." for needle in needles if needle in text]
    return found


def account_sas(connection_string: str) -> str:
    from azure.storage.blob import AccountSasPermissions, ResourceTypes, generate_account_sas

    parts = dict(item.split("=", 1) for item in connection_string.strip(";").split(";"))
    return generate_account_sas(
        parts["AccountName"],
        parts["AccountKey"],
        ResourceTypes(service=True, container=True, object=True),
        AccountSasPermissions(read=True, write=True, list=True, create=True, add=True),
        datetime.datetime.now(datetime.UTC) + datetime.timedelta(hours=1),
    )


def run_and_collect(
    project: Path, args: list[str], capfd: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> tuple[tuple[int, int], list[tuple[str, str]]]:
    """Run the flow, then an --emit-yaml pass; their exit codes, and everything both wrote and printed."""
    before = flow_run_ids()
    common = ["--job", str(project / "job.yml"), "--results", str(project / "results"), *args]
    code = main(common)
    emitted = project / "emitted"
    emit_code = main([*common, "--emit-yaml", str(emitted)])
    out, err = capfd.readouterr()
    haystacks = [("stdout", out), ("stderr", err), ("log records", caplog.text)]
    roots = [p for p in (project / "results", emitted) if p.exists()]
    haystacks += [*files(*roots), *prefect_records(flow_run_ids() - before)]
    return (code, emit_code), haystacks


def test_local_sweep_with_upload_writes_no_secret(
    demo_project: Path,
    azurite: str,
    container: str,
    env_secrets: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
    capfd: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    monkeypatch.setenv(CONNECTION_STRING_ENV, azurite)
    (demo_project / "grid.yml").write_text("model: [lm]\nseed: [1, 2]\n")
    codes, haystacks = run_and_collect(
        demo_project, ["--run-name", "sec", "--upload-to", f"{container}/demo"], capfd, caplog
    )
    assert codes == (0, 0)
    account_key = azurite.split("AccountKey=")[1].split(";")[0]
    assert len(haystacks) > 20
    assert leaks([azurite, account_key, *env_secrets.values()], haystacks) == []


def test_a_sas_given_as_the_account_url_is_not_kept(
    demo_project: Path,
    azurite: str,
    container: str,
    env_secrets: dict[str, str],
    capfd: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    blob_endpoint = azurite.split("BlobEndpoint=")[1].split(";")[0]
    sas = account_sas(azurite)
    (demo_project / "grid.yml").write_text("model: [lm]\nseed: [1]\n")
    args = ["--run-name", "sas", "--upload-to", f"{container}/demo", "--data-account-url", f"{blob_endpoint}?{sas}"]
    codes, haystacks = run_and_collect(demo_project, args, capfd, caplog)
    assert codes in ((0, 0), (2, 2))  # used without a trace, or refused up front (exit 2, nothing run)
    signature = sas.split("sig=")[1].split("&")[0]
    assert leaks([signature, *env_secrets.values()], haystacks) == []


@pytest.mark.azure_fake
def test_azure_sweep_sends_and_writes_no_secret(
    demo_project: Path,
    env_secrets: dict[str, str],
    fake_workspace: FakeMLClient,
    monkeypatch: pytest.MonkeyPatch,
    capfd: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    fake = fake_workspace
    assert fake.persist_path is not None
    connection_string = f"DefaultEndpointsProtocol=https;AccountName=acct;AccountKey={uuid.uuid4().hex}==;"
    monkeypatch.setenv(CONNECTION_STRING_ENV, connection_string)
    (demo_project / "grid.yml").write_text("model: [lm]\nseed: [1, 2]\n")
    args = ["--run-name", "secaz", "--backend", "azureml", "--poll-interval", "0.05", "--no-mlflow"]
    codes, haystacks = run_and_collect(demo_project, args, capfd, caplog)
    assert codes == (0, 0)
    sent = [*files(fake.store), ("fake state", fake.persist_path.read_text())]
    sent.append(("fake calls", repr(fake.calls)))
    assert len(sent) > 10
    assert leaks([connection_string, *env_secrets.values()], [*haystacks, *sent]) == []


def test_a_sas_from_the_environment_uploads_and_is_not_kept(
    demo_project: Path,
    azurite: str,
    container: str,
    monkeypatch: pytest.MonkeyPatch,
    capfd: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    blob_endpoint = azurite.split("BlobEndpoint=")[1].split(";")[0]
    sas = account_sas(azurite)
    monkeypatch.delenv(CONNECTION_STRING_ENV, raising=False)
    monkeypatch.setenv("AZURE_STORAGE_SAS_TOKEN", sas)
    (demo_project / "grid.yml").write_text("model: [lm]\nseed: [1]\n")
    args = ["--run-name", "sasenv", "--upload-to", f"{container}/demo", "--data-account-url", blob_endpoint]
    codes, haystacks = run_and_collect(demo_project, args, capfd, caplog)
    assert codes == (0, 0)
    assert leaks([sas.split("sig=")[1].split("&")[0]], haystacks) == []


ENV_R = r"""
dir.create("outputs", showWarnings = FALSE)
env <- Sys.getenv()
writeLines(paste0(names(env), "=", env), "outputs/env.txt")
print(as.list(env))
writeLines('{"n": 1}', "outputs/metrics.json")
"""


def test_a_local_job_sees_only_its_allowlisted_environment(
    tmp_path: Path,
    env_secrets: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
    capfd: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    """R prints its whole environment to its log and outputs: only the allowlist may be there, nothing else the
    orchestrator had, and no secret anywhere a run writes (log tails, summary, MLflow, Prefect)."""
    project = tmp_path / "project"
    job = write_project(project, script=ENV_R, script_name="env.R", command="Rscript env.R", inputs={}, azure=True)
    spec = yaml.safe_load(job.read_text())
    spec["environment_variables"] = {"FROM_JOB": "declared", "DATABASE_URL": "sqlite:///local.db"}
    job.write_text(yaml.safe_dump(spec))
    for name, value in {"MY_PASSED": "passed-value", "R_PLANTED": "r", "RJOBS_PLANTED": "rj", "LC_PAPER": "C"}.items():
        monkeypatch.setenv(name, value)
    codes, haystacks = run_and_collect(project, ["--run-name", "allow", "--pass-env", "MY_PASSED"], capfd, caplog)
    assert codes == (0, 0)

    (env_file,) = (project / "results" / "allow").glob("*/outputs/env.txt")
    seen = dict(line.split("=", 1) for line in env_file.read_text().splitlines() if "=" in line)
    expected = {
        "MY_PASSED": "passed-value",
        "FROM_JOB": "declared",
        "DATABASE_URL": "sqlite:///local.db",  # job.yml's value, never the shell's
        "R_PLANTED": "r",
        "RJOBS_PLANTED": "rj",
        "LC_PAPER": "C",
        "TZ": "UTC",
    }
    assert {name: seen.get(name) for name in expected} == expected
    assert "PATH" in seen and "HOME" in seen and seen["RJOBS_JOB_NAME"].startswith("allow-")
    assert sorted(set(env_secrets) - {"DATABASE_URL"} & set(seen)) == []
    assert leaks(env_secrets.values(), haystacks) == []
