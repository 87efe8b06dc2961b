"""A local job's environment is an allowlist (job.yml's environment_variables, what R needs, --pass-env), and the
--pass-env flag reaches the local backend from the command line."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from flows.cli import build_parser, options_from_args
from rjobs.backends.local.environment import check_pass_env, job_environment
from rjobs.core.errors import InputError
from rjobs.engine.wiring import make_backend
from rjobs.inputs.options import resolve
from tests.reliability.support import write_project

ORCHESTRATOR = {
    "PATH": "/usr/bin",
    "HOME": "/home/u",
    "LANG": "C.UTF-8",
    "LANGUAGE": "en",
    "LC_ALL": "C.UTF-8",
    "LC_NUMERIC": "C",
    "TZ": "Europe/Paris",
    "TMPDIR": "/tmp/u",
    "R_LIBS_USER": "/home/u/R",
    "RJOBS_MARKER": "/tmp/m",
    "RJOBS_CANCEL_GRACE_S": "1",
    "DATABASE_URL": "postgres://u:pw@db/x",
    "AWS_SECRET_ACCESS_KEY": "aws",
    "AZURE_CLIENT_SECRET": "azure",
    "GOOGLE_APPLICATION_CREDENTIALS": "/home/u/key.json",
    "MY_APP_SETTING": "not-for-r",
    "PYTHONPATH": "/src",
    "VIRTUAL_ENV": "/venv",
    "OTHER": "x",
}
R_NEEDS = ["PATH", "HOME", "LANG", "LANGUAGE", "LC_ALL", "LC_NUMERIC", "TMPDIR", "R_LIBS_USER"]
RJOBS = ["RJOBS_MARKER", "RJOBS_CANCEL_GRACE_S"]

ENVIRONMENT_CASES = [
    # (id, job.yml environment_variables, --pass-env, names expected besides R_NEEDS and RJOBS_*, TZ)
    ("nothing-else", {}, [], [], "UTC"),
    ("declared", {"FROM_JOB": "1", "DATABASE_URL": "sqlite://"}, [], ["FROM_JOB", "DATABASE_URL"], "UTC"),
    ("passed", {}, ["MY_APP_SETTING", "NOT_SET"], ["MY_APP_SETTING"], "UTC"),
    ("tz-from-job", {"TZ": "America/New_York"}, [], ["TZ"], "America/New_York"),
    ("tz-passed", {}, ["TZ"], ["TZ"], "Europe/Paris"),
]


@pytest.mark.parametrize(
    ("declared", "pass_env", "extra", "tz"), [c[1:] for c in ENVIRONMENT_CASES], ids=[c[0] for c in ENVIRONMENT_CASES]
)
def test_a_local_job_gets_only_its_allowlist(
    declared: dict[str, str], pass_env: list[str], extra: list[str], tz: str
) -> None:
    env = job_environment(ORCHESTRATOR, declared, pass_env, "run-c1")
    assert sorted(env) == sorted({*R_NEEDS, *RJOBS, *extra, "TZ", "RJOBS_JOB_NAME"})
    assert env["TZ"] == tz and env["RJOBS_JOB_NAME"] == "run-c1"
    for name, value in declared.items():
        assert env[name] == value  # job.yml's value, as on Azure, even over the orchestrator's
    for name in ("AWS_SECRET_ACCESS_KEY", "AZURE_CLIENT_SECRET", "GOOGLE_APPLICATION_CREDENTIALS", "PYTHONPATH"):
        assert name not in env


@pytest.mark.parametrize("name", ["A=1", "", "1ABC", "MY-VAR", "A B"])
def test_pass_env_takes_names_only(name: str) -> None:
    with pytest.raises(InputError, match="--pass-env"):
        check_pass_env([name], ORCHESTRATOR)


def test_pass_env_warns_about_a_name_this_shell_does_not_set(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING):
        assert check_pass_env(["OTHER", "NOT_SET", "OTHER"], ORCHESTRATOR) == ("OTHER", "NOT_SET")
    assert "NOT_SET" in caplog.text and "OTHER" not in caplog.text


def test_pass_env_flags_reach_the_local_backend(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MY_TOKEN", "t")
    job = write_project(tmp_path, inputs={"seed": 1, "pause": 0.1, "fail": 0})
    parser = build_parser("python -m flows.train", "")
    args = ["--job", str(job), "--results", str(tmp_path / "results"), "--pass-env", "MY_TOKEN", "--pass-env", "X_1"]
    options = options_from_args(parser.parse_args(args))
    assert options.pass_env == ["MY_TOKEN", "X_1"]
    backend = make_backend(resolve(options))
    assert backend.pass_env == ("MY_TOKEN", "X_1")  # type: ignore[attr-defined]
    assert options_from_args(parser.parse_args(args[:4])).pass_env == []


def test_pass_env_is_refused_for_azure_jobs(tmp_path: Path) -> None:
    job = write_project(tmp_path, inputs={"seed": 1, "pause": 0.1, "fail": 0}, azure=True)
    parser = build_parser("python -m flows.train", "")
    args = ["--job", str(job), "--results", str(tmp_path / "r"), "--backend", "azureml", "--pass-env", "A"]
    with pytest.raises(InputError, match="environment_variables"):
        make_backend(resolve(options_from_args(parser.parse_args(args))))
