"""--pack that cannot be honoured is one line and exit 2, before anything runs."""

from __future__ import annotations

from pathlib import Path

import pytest

from flows.train import main

PARALLEL_JOB = """\
type: parallel
inputs:
  data: {type: uri_folder, path: data}
input_data: ${{inputs.data}}
mini_batch_size: "1"
task: {type: run_function, code: src, entry_script: score.R}
"""


@pytest.mark.parametrize(
    ("args", "said"),
    [
        (["--pack", "0"], "--pack: must be at least 1 (got 0)"),
        (["--pack", "two"], "--pack: must be a number (got two)"),
        (["--pack-processes", "0"], "--pack-processes: must be at least 1 (got 0)"),
        (["--pack", "2", "--global-limit", "quota"], "--global-limit: quota: caps jobs in flight across sweeps"),
    ],
)
def test_bad_pack_options_are_one_line_and_exit_2(
    demo_project: Path, capsys: pytest.CaptureFixture[str], args: list[str], said: str
) -> None:
    code = main(["--job", str(demo_project / "job.yml"), "--results", str(demo_project / "results"), *args])
    err = capsys.readouterr().err
    assert code == 2
    assert len(err.strip().splitlines()) == 1 and said in err
    assert not (demo_project / "results").exists()


def test_pack_other_than_a_parallel_jobs_instance_count_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "parallel.yml").write_text(PARALLEL_JOB)
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "a.txt").write_text("1\n")
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "score.R").write_text("cat('scored')\n")
    assert main(["--job", str(tmp_path / "parallel.yml"), "--pack", "2", "--results", str(tmp_path / "r")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "into its resources.instance_count (1) jobs, not 2" in err
    assert not (tmp_path / "r").exists()
