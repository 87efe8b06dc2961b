"""jobs.download through the real SDK: run history and dataset resolution name the outputs, the datastores and their
secrets give the storage account, and the SDK's blob code lists and fetches what the finished job left behind."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from rjobs.backends.azureml.workspace import SDK_RETRY
from rjobs.testing.clock import FakeClock
from rjobs.testing.fake_azureml.client import FakeMLClient
from rjobs.testing.fake_azureml.lifecycle import artifact_dir
from rjobs.testing.fake_azureml.transport import FakeAzureMLTransport, blob_clients_through, fake_ml_client
from tests.azure_transport.conftest import ENVIRONMENT


@pytest.fixture
def running(tmp_path: Path, clock: FakeClock) -> Any:
    """A workspace that runs each job's command on this machine (bash), over its own transport and client."""
    workspace = FakeMLClient(clock, seed=3, store=tmp_path / "running-service", run_commands=True)
    transport = FakeAzureMLTransport(workspace)
    with blob_clients_through(transport):
        yield transport, fake_ml_client(transport, show_progress=False, **SDK_RETRY)


def test_a_finished_job_downloads_its_log_outputs_and_named_outputs(
    running: tuple[FakeAzureMLTransport, Any], tmp_path: Path, clock: FakeClock
) -> None:
    """Code and data go up through the SDK's uploads; the job runs on them; its results come down."""
    from azure.ai.ml import Input, Output, command
    from azure.ai.ml.entities import Environment

    transport, ml_client = running
    ml_client.environments.create_or_update(Environment(name="r-env", version="1", image="rocker/r-ver:4.4.1"))
    code = tmp_path / "src"
    code.mkdir()
    (code / "step.sh").write_text("echo from the code folder\n")
    (tmp_path / "table.csv").write_text("a,b\n1,2\n")
    job = command(
        name="runs-here",
        code=str(code),
        command="bash step.sh && cp ${{inputs.table}} ${{outputs.model}}/copy.csv && echo 0.9 > outputs/score.txt",
        inputs={"table": Input(type="uri_file", path=str(tmp_path / "table.csv"))},
        outputs={"model": Output(type="uri_folder")},
        environment=ENVIRONMENT,
        compute="cpu-cluster",
    )
    ml_client.jobs.create_or_update(job)
    clock.advance(600.0)
    assert ml_client.jobs.get("runs-here").status == "Completed"
    before = len(transport.records)
    ml_client.jobs.download("runs-here", download_path=str(tmp_path / "down"), all=True)
    down = tmp_path / "down"
    assert (down / "artifacts" / "user_logs" / "std_log.txt").read_text() == "from the code folder\n"
    assert (down / "artifacts" / "outputs" / "score.txt").read_text() == "0.9\n"
    assert (down / "named-outputs" / "model" / "copy.csv").read_text() == "a,b\n1,2\n"
    hosts = Counter(r.host for r in transport.records[before:])
    assert hosts["blob"] == 2 + 3  # a listing per output folder, a download per file


def test_scripted_artifacts_download_once_the_job_is_finished(
    ml_client: Any, workspace: FakeMLClient, command_job: Any, tmp_path: Path, clock: FakeClock
) -> None:
    workspace.script("scripted", outcome="Failed", log="it broke\n", artifacts={"outputs/partial.txt": b"half"})
    ml_client.jobs.create_or_update(command_job("scripted"))
    clock.advance(600.0)
    ml_client.jobs.download("scripted", download_path=str(tmp_path / "down"))
    assert (tmp_path / "down" / "artifacts" / "user_logs" / "std_log.txt").read_text() == "it broke\n"
    assert (tmp_path / "down" / "artifacts" / "outputs" / "partial.txt").read_bytes() == b"half"


def test_a_running_job_cannot_be_downloaded(ml_client: Any, command_job: Any, tmp_path: Path) -> None:
    from azure.ai.ml.exceptions import JobException

    ml_client.jobs.create_or_update(command_job("busy"))
    with pytest.raises(JobException):
        ml_client.jobs.download("busy", download_path=str(tmp_path / "down"))


def test_a_large_output_comes_down_in_ranged_requests(
    ml_client: Any, transport: FakeAzureMLTransport, workspace: FakeMLClient, command_job: Any, tmp_path: Path
) -> None:
    """Past the SDK's first 32 MiB request, a blob comes in 4 MiB ranges, each one request."""
    size = 40 * 1024 * 1024
    workspace.script("big", outcome="Completed")
    ml_client.jobs.create_or_update(command_job("big"))
    workspace.clock.advance(600.0)
    assert ml_client.jobs.get("big").status == "Completed"
    big = artifact_dir(workspace.store, "big") / "outputs" / "big.bin"
    big.parent.mkdir(parents=True)
    with big.open("wb") as handle:
        handle.truncate(size)
    before = transport.count("blob.download")
    ml_client.jobs.download("big", download_path=str(tmp_path / "down"))
    assert (tmp_path / "down" / "artifacts" / "outputs" / "big.bin").stat().st_size == size
    assert transport.count("blob.download") - before == 1 + 2 + 1  # 32 MiB, 2 x 4 MiB, the log
