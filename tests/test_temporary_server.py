"""The CLI's own start of Prefect's temporary server: the same command as Prefect's, only when nothing is configured,
history kept, logs all sent before it stops, and a clear error when it never answers."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from flows import temporary_server
from flows.temporary_server import SERVER_ENV, TemporaryServer, prefect_api_configured, uvicorn_command
from tests.conftest import REPO


def test_command_is_the_one_prefects_subprocess_server_runs(monkeypatch: pytest.MonkeyPatch) -> None:
    from prefect.server.api import server as prefect_server

    seen: dict[str, object] = {}

    def record(args: list[str], env: dict[str, str]) -> None:
        seen.update(args=args, env=env)

    monkeypatch.setattr(prefect_server.subprocess, "Popen", record)
    instance = prefect_server.SubprocessASGIServer(port=48765)
    try:
        instance._run_uvicorn_command()
    finally:
        prefect_server.SubprocessASGIServer._instances.pop(48765, None)
    assert uvicorn_command(48765) == seen["args"]
    env = seen["env"]
    assert isinstance(env, dict)
    assert {key: env[key] for key in SERVER_ENV} == SERVER_ENV


PROFILE_CASES = [
    ("env var", {"PREFECT_API_URL": "http://x/api"}, None, True),
    ("active profile with a URL", {}, 'active = "dev"\n[profiles.dev]\nPREFECT_API_URL = "http://x/api"\n', True),
    ("active profile without", {}, 'active = "dev"\n[profiles.dev]\nPREFECT_LOGGING_LEVEL = "INFO"\n', False),
    ("PREFECT_PROFILE picks", {"PREFECT_PROFILE": "b"}, '[profiles.b]\nPREFECT_API_URL = "http://x/api"\n', True),
    ("default ephemeral", {}, '[profiles.dev]\nPREFECT_API_URL = "http://x/api"\n', False),
    ("no profiles file", {}, None, False),
    ("unreadable profiles", {}, "active = [", False),
]


@pytest.mark.parametrize(("case", "env", "profiles", "expected"), PROFILE_CASES, ids=[c[0] for c in PROFILE_CASES])
def test_api_configured_read_without_importing_prefect(
    case: str,
    env: dict[str, str],
    profiles: str | None,
    expected: bool,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for key in ("PREFECT_API_URL", "PREFECT_PROFILE", "PREFECT_PROFILES_PATH"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("PREFECT_HOME", str(tmp_path))
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    if profiles is not None:
        (tmp_path / "profiles.toml").write_text(profiles)
    monkeypatch.delitem(sys.modules, "prefect")
    assert prefect_api_configured() is expected


def test_not_started_when_prefect_is_already_imported(monkeypatch: pytest.MonkeyPatch) -> None:
    import prefect  # noqa: F401  (a worker or a test harness: Prefect's settings are made)

    def refuse(self: TemporaryServer) -> None:
        raise AssertionError("a second server was started")

    monkeypatch.delenv("PREFECT_API_URL", raising=False)
    monkeypatch.setattr(TemporaryServer, "__init__", refuse)
    assert TemporaryServer.start_unless_configured() is None


def server_running(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, script: str) -> TemporaryServer:
    """A TemporaryServer whose server process is `python -c script`, with PREFECT_HOME (and so its log) in tmp_path."""
    monkeypatch.setenv("PREFECT_HOME", str(tmp_path / "home"))
    monkeypatch.setattr(temporary_server, "uvicorn_command", lambda port: [sys.executable, "-c", script])
    return TemporaryServer()


def test_a_server_that_exits_is_one_clear_error(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    """Its output goes to a log in PREFECT_HOME, never to the user's terminal; the error names it and its last line."""
    crash = "import sys; sys.stderr.write('Traceback: the port is taken\\n'); raise SystemExit(3)"
    server = server_running(monkeypatch, tmp_path, crash)
    with pytest.raises(
        RuntimeError, match=r"did not answer within 60 s \(exit code 3;.*the port is taken\).*PREFECT_API_URL"
    ):
        server.wait(timeout=60)  # returns when the process exits; the bound only covers a loaded machine
    assert server.process.poll() == 3
    assert "Traceback" not in capfd.readouterr().err
    server.stop()  # as at exit: the failed server's log stays
    assert "the port is taken" in server.log_path.read_text()
    assert server.log_path.parent == tmp_path / "home"


def test_a_server_that_stops_leaves_no_log_and_said_nothing_on_the_terminal(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    """A server shutting down under load printed asyncio tracebacks into the terminal after Ctrl-C."""
    noisy = "import sys, time; sys.stderr.write('Traceback: CancelledError\\n'); sys.stderr.flush(); time.sleep(60)"
    server = server_running(monkeypatch, tmp_path, noisy)
    deadline = time.monotonic() + 60
    while "CancelledError" not in server.log_path.read_text() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert "CancelledError" in server.log_path.read_text()
    server.stop()
    assert "Traceback" not in capfd.readouterr().err
    assert not server.log_path.exists()


@pytest.mark.slow
def test_serves_the_api_and_stops() -> None:
    server = TemporaryServer()
    try:
        server.wait()
        with urllib.request.urlopen(f"{server.url}/health", timeout=10) as response:
            assert response.status == 200
    finally:
        server.stop()
    assert server.process.poll() is not None


@pytest.mark.slow
def test_cli_runs_the_flow_on_it_keeps_history_and_sends_every_log(tmp_path: Path) -> None:
    """No PREFECT_API_URL: the CLI's server records the flow run in PREFECT_HOME's database, as Prefect's own
    temporary server would, stops only after Prefect has sent its logs (no 'Error logging to API') and
    receives no heartbeats."""
    project = tmp_path / "project"
    (project / "src").mkdir(parents=True)
    (project / "src" / "main.R").write_text("args <- commandArgs(TRUE)\ncat('seed', args[2], '\\n')\n")
    (project / "job.yml").write_text("command: Rscript main.R --seed ${{inputs.seed}}\ncode: src\ninputs:\n  seed: 1\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
    env.update(PREFECT_HOME=str(tmp_path / "prefect-home"), PREFECT_SERVER_ANALYTICS_ENABLED="false")
    args = ["--job", str(project / "job.yml"), "--results", str(project / "results"), "--param", "seed=1,2"]
    result = subprocess.run(
        [sys.executable, "-m", "flows.train", *args, "--run-name", "tmp-server", "--no-mlflow"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "run tmp-server: 2/2 completed" in output
    assert "Error logging to API" not in output
    assert "Starting temporary server" not in output  # ours, not Prefect's own
    database = tmp_path / "prefect-home" / "prefect.db"
    assert database.is_file()
    import sqlite3

    with sqlite3.connect(database) as connection:
        states = connection.execute("SELECT state_type FROM flow_run").fetchall()
        heartbeats = connection.execute("SELECT count(*) FROM events WHERE event LIKE '%heartbeat%'").fetchone()
        flow_events = connection.execute("SELECT count(*) FROM events WHERE event LIKE 'prefect.flow-run.%'").fetchone()
    assert states == [("COMPLETED",)]
    assert flow_events[0] > 0 and heartbeats == (0,)  # nobody watches a temporary server's heartbeats
