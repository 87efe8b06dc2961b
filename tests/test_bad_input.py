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
