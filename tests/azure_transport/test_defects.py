"""Defects of the Azure path (issue 21) on the transport-level fake: each test states the behaviour the product
should have (they were strict xfails, or failed, before the fixes on this branch). They run the project's own
AzureMLBackend and engine over the real MLClient, so what they count is what the service would see."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from rjobs.backends.azureml.jobs import RUN_PROPERTY
from rjobs.backends.base import JobHandle
from rjobs.testing.clock import FakeClock
from rjobs.testing.fake_azureml.client import FakeMLClient
from rjobs.testing.fake_azureml.http import Reply, Request
from rjobs.testing.fake_azureml.transport import FakeAzureMLTransport
from tests.azure_transport.support import transport_backend, transport_sweep
from tests.reliability.support import OUTCOME_S, wait_until, write_project


@pytest.fixture
def project(tmp_path: Path) -> Path:
    return write_project(tmp_path / "project", azure=True, grid={"seed": [1, 2, 3, 4, 5, 6, 7, 8]})


def test_a_not_responding_job_is_cancelled_before_its_retry(
    transport: FakeAzureMLTransport, workspace: FakeMLClient, project: Path, tmp_path: Path
) -> None:
    workspace.script("nr-*", outcome="NotResponding")
    workspace.script("nr-*-r2", outcome="Completed")
    transport_sweep(transport, project, tmp_path / "results", "nr")
    order = [(r.route, r.url.split("?")[0].rsplit("/jobs/", 1)[-1]) for r in transport.records]
    retried = [name.removesuffix("-r2") for route, name in order if route == "jobs.create_or_update" and "-r2" in name]
    assert retried, "the sweep retried no cell"
    for name in retried:
        created = order.index(("jobs.create_or_update", f"{name}-r2"))
        assert ("jobs.begin_cancel", f"{name}/cancel") in order[:created], f"{name} was not cancelled first"


def test_an_unknown_service_status_keeps_the_job_polled(
    transport: FakeAzureMLTransport, workspace: FakeMLClient, project: Path, command_job: Callable[..., Any]
) -> None:
    """'Scheduled' is in the REST API's JobStatus enum but not in rjobs.core.states."""
    backend = transport_backend(transport, project)
    backend.ml_client.jobs.create_or_update(command_job("odd", properties={RUN_PROPERTY: "odd"}))
    workspace._jobs["odd"]["phases"] = [["Scheduled", 600.0]]
    status = backend.status([JobHandle(job_name="odd", backend="azureml", data={"run": "odd"})])["odd"]
    assert not status.state.terminal


def test_requests_per_poll_do_not_grow_with_the_finished_jobs_of_the_run(
    transport: FakeAzureMLTransport,
    workspace: FakeMLClient,
    clock: FakeClock,
    project: Path,
    command_job: Callable[..., Any],
) -> None:
    """Five long jobs in flight, then 20 and 40 short jobs of the same run finished after them (pages of 10)."""
    workspace.page_size = 10
    backend = transport_backend(transport, project)
    create = backend.ml_client.jobs.create_or_update
    workspace.script("long-*", run_s=100_000.0)
    workspace.script("short-*", queue_s=0.0, prepare_s=0.0, run_s=1.0)
    for index in range(5):
        create(command_job(f"long-{index}", properties={RUN_PROPERTY: "grow"}), skip_validation=True)
    in_flight = [JobHandle(job_name=f"long-{i}", backend="azureml", data={"run": "grow"}) for i in range(5)]
    costs = []
    for finished in (20, 40):
        while len([name for name in workspace._jobs if name.startswith("short-")]) < finished:
            index = len(workspace._jobs)
            create(command_job(f"short-{index}", properties={RUN_PROPERTY: "grow"}), skip_validation=True)
        clock.advance(60.0)
        before = len(transport.records)
        states = backend.status(in_flight)
        assert all(not status.state.terminal for status in states.values())
        costs.append(len(transport.records) - before)
    assert costs[1] <= costs[0] <= len(in_flight)


def test_reading_a_log_fetches_only_the_log(
    transport: FakeAzureMLTransport,
    workspace: FakeMLClient,
    clock: FakeClock,
    project: Path,
    tmp_path: Path,
    command_job: Callable[..., Any],
) -> None:
    backend = transport_backend(transport, project)
    workspace.script("heavy", log="the log\n", artifacts={"outputs/model.bin": b"\1" * 1_000_000})
    backend.ml_client.jobs.create_or_update(command_job("heavy"))
    clock.advance(600.0)
    log = backend.logs(JobHandle(job_name="heavy", backend="azureml"), tmp_path / "cell")
    assert log is not None and log.read_text() == "the log\n"
    fetched = [r.url.split("?")[0] for r in transport.records if r.route == "blob.download"]
    assert fetched and all(url.endswith("/user_logs/std_log.txt") for url in fetched)


def test_a_sweep_costs_at_most_six_control_plane_requests_per_cell(
    transport: FakeAzureMLTransport, workspace: FakeMLClient, project: Path, tmp_path: Path
) -> None:
    """Counted with the eight jobs in flight together, as on a cluster, where submitting eight jobs takes far less
    than one 15 s poll interval: the fake clock moves only once all eight are created. Without that, fake time
    raced ahead of a submission slowed in real time (each poll is instant) and the count followed the machine's
    speed: 22-27 here, 36-39 with one create held 1 s, 50 in one fresh-clone run."""
    workspace.script("*", queue_s=30.0, prepare_s=10.0, run_s=120.0)

    def created() -> int:
        return sum(1 for r in transport.records if r.route == "jobs.create_or_update" and "/jobs/cost-" in r.url)

    def sleep_once_all_created(seconds: float) -> None:
        assert wait_until(lambda: created() >= 8, OUTCOME_S), f"{created()} of 8 jobs created"
        transport.clock.sleep(seconds)

    sweep, phases = transport_sweep(
        transport, project, tmp_path / "results", "cost", workers=8, sleep=sleep_once_all_created
    )
    assert len(sweep.results) == 8 and created() == 8
    assert phases.control_plane(phases.cells) / len(sweep.results) <= 6


def test_two_sweeps_registering_the_same_assets_at_once_both_succeed(
    transport: FakeAzureMLTransport, workspace: FakeMLClient, tmp_path: Path
) -> None:
    """Both processes find no version and upload; a barrier holds the two uploads of the data file until both are
    sent, so the race that is a matter of timing on the service is certain here. Only the data file's: holding any
    first two uploads could hold one process's upload while the other waited on something else, until the barrier
    timed out."""
    import threading
    from concurrent.futures import ThreadPoolExecutor

    from rjobs.inputs.spec import load_job_spec

    inputs = {"seed": 1, "pause": 0.3, "fail": 0, "table": {"type": "uri_file", "path": "t.csv"}}
    job = write_project(tmp_path / "project", azure=True, inputs=inputs)
    (job.parent / "t.csv").write_text("a,b\n1,2\n")
    spec = load_job_spec(job)
    backends = [transport_backend(transport, job, env_smoke=False) for _ in range(2)]
    barrier, held = threading.Barrier(2, timeout=60), []
    answer = transport.service.answer

    def racing(request: Request) -> Reply:
        upload = request.method == "PUT" and request.host.endswith(".blob.core.windows.net") and not request.query
        if upload and request.path.endswith("/t.csv") and len(held) < 2:
            held.append(request.url)
            barrier.wait()
        return answer(request)

    transport.service.answer = racing  # type: ignore[method-assign]

    with ThreadPoolExecutor(max_workers=2) as pool:
        list(pool.map(lambda backend: backend.ensure_data(spec), backends))
    for backend in backends:  # one after the other: the SDK's directory upload counts its files without a lock
        backend.ensure_environment(spec)
    codes = [str(backend.code_id(spec)) for backend in backends]
    assert codes[0] == codes[1]
    assert [len(versions) for versions in workspace._assets["data"].values()] == [1]


def test_a_not_responding_job_that_comes_back_is_collected_not_retried(
    transport: FakeAzureMLTransport, workspace: FakeMLClient, project: Path, tmp_path: Path
) -> None:
    """The service documents NotResponding -> Running: a job that recovers within the wait is the cell's result."""
    workspace.script("back-*", outcome="NotResponding", recover_s=300.0)
    sweep, _ = transport_sweep(transport, project, tmp_path / "results", "back")
    assert {result.record.job_state.value for result in sweep.results.values()} == {"Completed"}
    assert all(result.record.collected and result.record.attempt == 1 for result in sweep.results.values())
    assert transport.count("jobs.begin_cancel") == 0
    assert not [r for r in transport.records if r.route == "jobs.create_or_update" and "-r2" in r.url]


def test_a_stalled_job_that_will_not_stop_is_not_retried(
    transport: FakeAzureMLTransport, workspace: FakeMLClient, project: Path, tmp_path: Path
) -> None:
    """A cancel the service never carries out leaves the job live: a retry would run beside it, so the cell fails."""
    workspace.script("stuck-*", outcome="NotResponding")
    answer = transport.service.answer

    def ignoring_cancels(request: Request) -> Reply:
        if request.method == "POST" and request.path.endswith("/cancel"):
            return Reply(202, None, {})
        return answer(request)

    transport.service.answer = ignoring_cancels  # type: ignore[method-assign]
    sweep, _ = transport_sweep(transport, project, tmp_path / "results", "stuck")
    records = [result.record for result in sweep.results.values()]
    assert {r.job_state.value for r in records} == {"NotResponding"}
    assert all(r.attempt == 1 and "not stopped by a cancel" in r.error for r in records)


def test_an_image_that_fails_to_build_is_reported_with_its_build_log(
    transport: FakeAzureMLTransport, workspace: FakeMLClient, project: Path
) -> None:
    """Defect 2: a failed image build leaves no user log; the environment check shows the build log's tail."""
    from rjobs.core.errors import EnvironmentCheckError
    from rjobs.inputs.spec import load_job_spec

    workspace.break_image("r-env", "Step 4/7 : RUN Rscript -e 'install.packages(\"nope\")'\nERROR: nope is gone\n")
    backend = transport_backend(transport, project)
    with pytest.raises(EnvironmentCheckError) as raised:
        backend.ensure_environment(load_job_spec(project))
    message = str(raised.value)
    assert "failed to build" in message and "ERROR: nope is gone" in message
    assert transport.count("jobs.create_or_update") == 1  # the check only: no cell was submitted


def test_the_environment_check_runs_with_the_cells_settings(
    transport: FakeAzureMLTransport, workspace: FakeMLClient, project: Path
) -> None:
    """Defect 5: the smoke job carries the cells' environment variables, resources, identity and queue settings, so
    it fails (or passes) where the cells would."""
    import yaml

    from rjobs.inputs.spec import load_job_spec

    raw = yaml.safe_load(project.read_text())
    raw.update(
        environment_variables={"RJOBS_PROBE": "1"},
        resources={"instance_count": 1, "shm_size": "2g"},
        identity={"type": "managed"},
        queue_settings={"job_tier": "spot"},
    )
    project.write_text(yaml.safe_dump(raw))
    transport_backend(transport, project).ensure_environment(load_job_spec(project))
    [smoke] = [record["rest"]["properties"] for name, record in workspace._jobs.items() if "envcheck" in name]
    assert smoke["environmentVariables"] == {"RJOBS_PROBE": "1"}
    assert smoke["resources"]["instanceCount"] == 1 and smoke["resources"]["shmSize"] == "2g"
    assert smoke["identity"]["identityType"] == "Managed"
    assert smoke["queueSettings"]["jobTier"].lower() == "spot"


@pytest.mark.parametrize(
    ("experiment", "run_property", "reason"),
    [("other-experiment", "nr", "in experiment 'other-experiment'"), (None, "someone-else", "belongs to run")],
)
def test_a_job_of_our_name_from_another_run_is_not_attached_to(
    transport: FakeAzureMLTransport,
    project: Path,
    tmp_path: Path,
    command_job: Callable[..., Any],
    experiment: str | None,
    run_property: str,
    reason: str,
) -> None:
    """Defect 4: job names are unique across the workspace; an old job holding ours (another run or experiment) is
    refused with an input error before anything is submitted, never collected as this run's."""
    from rjobs.core.errors import InputError
    from rjobs.core.naming import job_name
    from tests.reliability.support import load_sweep

    _, cells = load_sweep(project)
    squatter = job_name("nr", cells[0].cell_id, 1)
    fields: dict[str, Any] = {"properties": {RUN_PROPERTY: run_property}}
    if experiment:
        fields["experiment_name"] = experiment
    transport_backend(transport, project).ml_client.jobs.create_or_update(command_job(squatter, **fields))
    with pytest.raises(InputError, match=reason):
        transport_sweep(transport, project, tmp_path / "results", "nr")
