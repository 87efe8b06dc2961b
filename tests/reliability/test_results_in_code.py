"""`code: .` with the results folder inside the code folder (the default layout of a one-folder project): results,
.git, .venv and ignored files never reach the per-cell code copy or the code hash, so a re-run keeps its run name and
resumes instead of starting over, and no cell copies results into itself."""

from __future__ import annotations

from pathlib import Path

import pytest

from flows.cli import main
from tests.reliability.support import read_summary, write_project

pytestmark = [pytest.mark.slow, pytest.mark.r, pytest.mark.usefixtures("prefect_server")]

LIST_CODE_R = r"""
dir.create("outputs", showWarnings = FALSE)
writeLines(list.files(".", recursive = TRUE, all.files = TRUE), "outputs/files.txt")
writeLines(sprintf('{"seed": %s}', commandArgs(TRUE)[[2]]), "outputs/metrics.json")
"""


def test_a_rerun_with_results_inside_the_code_folder_keeps_its_run_name_and_resumes(tmp_path: Path) -> None:
    project = tmp_path / "project"
    job = write_project(
        project,
        script=LIST_CODE_R,
        script_name="list.R",
        command="Rscript list.R --seed ${{inputs.seed}}",
        inputs={"seed": 1},
        grid={"seed": [1, 2, 3]},
        code_dir=".",
    )
    (project / ".git").mkdir()
    (project / ".git" / "HEAD").write_text("ref: refs/heads/main\n")
    (project / ".venv" / "bin").mkdir(parents=True)
    (project / ".venv" / "bin" / "python").write_text("")
    (project / ".gitignore").write_text("*.log\n/emitted/\n")
    (project / "debug.log").write_text("noise\n")
    results = project / "results"
    args = ["--job", str(job), "--results", str(results), "--no-mlflow"]

    assert main(args) == 0
    (first_run,) = [p.parent for p in results.glob("*/run.json")]
    first = read_summary(first_run)
    assert main(args) == 0

    assert [p.parent for p in results.glob("*/run.json")] == [first_run]  # same derived name: resumed
    assert read_summary(first_run) == first  # every cell reused, none ran again
    for cell in first:
        listed = sorted((first_run / cell / "outputs" / "files.txt").read_text().split())
        assert listed == [".gitignore", "grid.yml", "job.yml", "list.R"], listed
    assert not list(results.glob("*/*/.jobs/*/code/results"))
