"""Bad input: one line naming the file, the key and the fix; exit code 2; nothing run or written."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from flows.cli import EXIT_BAD_INPUT, main


def _replace(name: str, old: str, new: str) -> Callable[[Path], None]:
    def edit(project: Path) -> None:
        path = project / name
        path.write_text(path.read_text().replace(old, new))

    return edit


def _write(name: str, text: str) -> Callable[[Path], None]:
    return lambda project: (project / name).write_text(text)


BOMB = "a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n" + "".join(
    f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join(['*' + chr(97 + i)] * 9)}]\n" for i in range(9)
)


CASES: list[tuple[str, Callable[[Path], None], list[str], tuple[str, ...]]] = [
    ("missing job file", lambda p: (p / "job.yml").unlink(), [], ("job.yml", "file not found")),
    ("malformed job yaml", _write("job.yml", "command: [unclosed\n"), [], ("job.yml", "not valid YAML")),
    ("job not a mapping", _write("job.yml", "- a\n- b\n"), [], ("job.yml", "not a YAML mapping")),
    (
        "command uses unknown input",
        _replace("job.yml", "${{inputs.seed}}", "${{inputs.sed}}"),
        [],
        ("job.yml", "command", "inputs.sed"),
    ),
    (
        "grid key not an input",
        _write("grid.yml", "learning_rate: [0.1]\n"),
        [],
        ("grid.yml", "learning_rate", "inputs:"),
    ),
    ("empty grid", _write("grid.yml", "{}\n"), [], ("grid.yml", "empty grid")),
    ("empty axis", _write("grid.yml", "seed: []\n"), [], ("grid.yml", "seed", "empty axis")),
    ("non-scalar grid value", _write("grid.yml", "seed: [[1, 2]]\n"), [], ("grid.yml", "seed", "scalars")),
    (
        "missing data path",
        lambda p: (p / "data" / "penguins.csv").unlink(),
        [],
        ("job.yml", "inputs.penguins.path", "does not exist"),
    ),
    (
        "missing code folder",
        _replace("job.yml", "code: r_src", "code: no_such_dir"),
        [],
        ("job.yml", "code", "no_such_dir"),
    ),
    (
        "missing script",
        _replace("job.yml", "Rscript train.R", "Rscript trian.R"),
        [],
        ("job.yml", "trian.R", "does not exist"),
    ),
    ("Rscript not found", lambda p: None, ["--rscript", "/nonexistent/Rscript"], ("Rscript", "not found", "install R")),
    ("unknown param key", lambda p: None, ["--param", "alpha=1,2"], ("alpha", "not an input")),
    ("bad param syntax", lambda p: None, ["--param", "seed"], ("--param", "key=value")),
    ("invalid run name", lambda p: None, ["--run-name", "bad name!"], ("--run-name", "letter")),
    ("too many cells", lambda p: None, ["--max-cells", "5"], ("grid.yml", "12 cells", "--max-cells 12")),
    (
        "job key twice",
        _replace("job.yml", "compute: azureml:cpu-cluster", "compute: azureml:cpu-cluster\ncommand: Rscript x.R"),
        [],
        ("job.yml: line 25: key 'command' appears twice (first on line 8)",),
    ),
    (
        "grid key twice",
        _write("grid.yml", "seed: [1]\nmodel: [lm]\nseed: [2, 3]\n"),
        [],
        ("grid.yml: line 3: key 'seed' appears twice (first on line 1)",),
    ),
    (
        "environment key twice",
        _write("environment-job.yml", "name: a\nbuild:\n  path: docker-context\nname: b\n"),
        [],
        ("environment-job.yml: line 4: key 'name' appears twice",),
    ),
    ("alias bomb in job", _write("job.yml", BOMB), [], ("job.yml: line 2: uses the alias *a",)),
    ("alias in grid", _write("grid.yml", "seed: &s [1, 2]\nmodel: *s\n"), [], ("grid.yml: line 2", "alias *s")),
    ("one argv spelled twice", _write("grid.yml", 'seed: [16, "16"]\n'), [], ("grid.yml: seed: lists '16' twice",)),
    ("NUL in a grid value", _write("grid.yml", 'features: ["a\\0b"]\n'), [], ("grid.yml: features", "NUL byte")),
    (
        "grid value over the argument limit",
        _write("grid.yml", "features: [" + "x" * 140_000 + "]\n"),
        [],
        ("grid.yml: features", "140000 bytes long", "data input"),
    ),
    (
        "grid value over the argument limit from --param",
        lambda p: None,
        ["--param", "features=" + "x" * 140_000],
        ("--param: features", "140000 bytes long"),
    ),
    (
        "zero concurrency",
        lambda p: None,
        ["--max-concurrent", "0"],
        ("error: --max-concurrent: must be at least 1 (got 0); pass a whole number >= 1",),
    ),
    (
        "cells not a number",
        lambda p: None,
        ["--max-cells", "many"],
        ("--max-cells: must be a whole number (got many)",),
    ),
    (
        "cells over the ceiling",
        lambda p: None,
        ["--max-cells", "10000000000"],
        ("--max-cells: must be at most 100000 (got 10000000000); pass a whole number <= 100000",),
    ),
    (
        "zero timeout",
        lambda p: None,
        ["--timeout", "0"],
        ("--timeout: must be more than 0 (got 0); pass a number > 0",),
    ),
    (
        "huge grid",
        lambda p: None,
        [
            "--param",
            "seed=" + ",".join(map(str, range(100_000))),
            "--param",
            "model=" + ",".join(map(str, range(10**5))),
        ],
        ("has 30000000000 cells, more than the limit of 1000", "split it into sweeps of at most 100000 cells"),
    ),
]
MISSING_PACKAGES = pytest.param(
    _write("r_src/extra.R", "library(notapkg123)\nanotherpkg456::f()\n"),
    [],
    ("notapkg123", "anotherpkg456", "install"),
    id="missing R packages",
    marks=pytest.mark.r,
)


@pytest.mark.parametrize(
    ("edit", "args", "expected"),
    [pytest.param(*c[1:], id=c[0]) for c in CASES] + [MISSING_PACKAGES],
)
def test_bad_input_is_one_line_exit_2_and_runs_nothing(
    demo_project: Path,
    capsys: pytest.CaptureFixture[str],
    edit: Callable[[Path], None],
    args: list[str],
    expected: tuple[str, ...],
) -> None:
    edit(demo_project)
    results = demo_project / "results"
    code = main(["--job", str(demo_project / "job.yml"), "--results", str(results), *args])
    err = capsys.readouterr().err
    assert code == EXIT_BAD_INPUT
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("error: ")
    for fragment in expected:
        assert fragment in lines[0], (fragment, lines[0])
    assert not results.exists()


def test_unknown_backend_is_refused_with_exit_2(demo_project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["--job", str(demo_project / "job.yml"), "--backend", "kubernetes"])
    assert exit_info.value.code == EXIT_BAD_INPUT
    assert "invalid choice: 'kubernetes'" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("where", "problem"),
    [
        (lambda p: p / "afile", "is a file, not a folder"),
        (lambda p: p / "afile" / "results", "is inside"),
        (lambda p: Path("/proc/rjobs-results"), "cannot be written"),
    ],
    ids=["a-file", "inside-a-file", "read-only"],
)
def test_results_that_cannot_be_a_folder_is_refused_before_anything_runs(
    demo_project: Path, capsys: pytest.CaptureFixture[str], where: Callable[[Path], Path], problem: str
) -> None:
    if not Path("/proc/self").is_dir():
        pytest.skip("needs /proc as a place nobody can write")
    (demo_project / "afile").write_text("not a folder\n")
    results = where(demo_project)
    code = main(["--job", str(demo_project / "job.yml"), "--results", str(results), "--dry-run"])
    lines = capsys.readouterr().err.strip().splitlines()
    assert code == EXIT_BAD_INPUT
    assert len(lines) == 1 and lines[0].startswith(f"error: --results: {results}: "), lines
    assert problem in lines[0] and "give --results a folder you can write to" in lines[0]


@pytest.mark.parametrize(
    ("grid", "argv"),
    [
        ("seed: [010, 0x10, 1_000]\n", ["--seed 010", "--seed 0x10", "--seed 1_000"]),
        ("seed: [1:30, .nan, 1.5e-7]\n", ["--seed 1:30", "--seed .nan", "--seed 1.5e-7"]),
        ("model: [yes, 'on']\nseed: [2024-01-01]\n", ["--model yes", "--model on", "--seed 2024-01-01"]),
    ],
)
def test_dry_run_shows_values_as_written(
    demo_project: Path, capsys: pytest.CaptureFixture[str], grid: str, argv: list[str]
) -> None:
    (demo_project / "grid.yml").write_text(grid)
    assert main(["--job", str(demo_project / "job.yml"), "--dry-run"]) == 0
    out = capsys.readouterr().out
    for fragment in argv:
        assert fragment + " " in out or out.rstrip().endswith(fragment) or fragment + "\n" in out, (fragment, out)


@pytest.mark.parametrize("where", ["r_src", "."], ids=["the-code-folder", "a-folder-holding-it"])
def test_results_that_are_or_hold_the_code_folder_are_refused(
    demo_project: Path, capsys: pytest.CaptureFixture[str], where: str
) -> None:
    results = demo_project / where
    code = main(["--job", str(demo_project / "job.yml"), "--results", str(results), "--dry-run"])
    lines = capsys.readouterr().err.strip().splitlines()
    assert code == EXIT_BAD_INPUT
    assert len(lines) == 1 and "is or holds the job's code folder" in lines[0], lines
    assert "give results a folder of its own" in lines[0]
