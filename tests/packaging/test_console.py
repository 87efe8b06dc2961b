"""The r-azure-ml command's dispatch and its own subcommands (r-helper, renv-context), in process."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from flows.console import main
from rjobs.environment.dockerfile import dockerfile_packages
from rjobs.rhelper import HELPER_FILE


def test_help_lists_the_commands_this_version_has(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--help"]) == 0
    out = capsys.readouterr().out
    assert all(
        f"  {name} " in out for name in ("train", "score", "deploy", "cancel", "results", "r-helper", "renv-context")
    )
    assert main([]) == 2


def test_an_unknown_command_is_bad_input(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["trian"]) == 2
    assert "unknown command 'trian'" in capsys.readouterr().err


def test_subcommands_get_their_own_arguments(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as caught:
        main(["results", "--help"])
    assert caught.value.code == 0
    assert "--run" in capsys.readouterr().out


def test_r_helper_writes_the_helper_and_keeps_a_changed_copy(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(["r-helper", "src"]) == 0
    written = tmp_path / "src" / "rjobs.R"
    assert written.read_bytes() == HELPER_FILE.read_bytes()
    assert main(["r-helper", "src"]) == 0 and "up to date" in capsys.readouterr().out
    written.write_text("# my edits\n")
    assert main(["r-helper", "src"]) == 2 and "--force" in capsys.readouterr().err
    assert written.read_text() == "# my edits\n"
    assert main(["r-helper", "src", "--force"]) == 0 and written.read_bytes() == HELPER_FILE.read_bytes()


def test_renv_context_writes_the_context_and_never_overwrites_a_hand_written_dockerfile(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(["renv-context"]) == 2 and "renv.lock: not found" in capsys.readouterr().err
    lock = {
        "R": {"Version": "4.3.3", "Repositories": [{"Name": "CRAN", "URL": "https://cran.example/snapshot"}]},
        "Packages": {"glue": {"Package": "glue", "Version": "1.7.0", "Source": "Repository"}},
    }
    (tmp_path / "renv.lock").write_text(json.dumps(lock))
    (tmp_path / "docker-context").mkdir()
    (tmp_path / "docker-context" / "Dockerfile").write_text("FROM rocker/r-ver:4.4.1\n")
    assert main(["renv-context"]) == 2 and "not generated from renv.lock" in capsys.readouterr().err
    assert main(["renv-context", "--force"]) == 0
    assert dockerfile_packages(tmp_path / "docker-context" / "Dockerfile") == {"glue", "remotes"}
    assert main(["renv-context"]) == 0  # its own Dockerfile is regenerated without --force
