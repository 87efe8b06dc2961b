"""What a terminal shows of a sweep: `python -m flows.train` under a pseudo-terminal draws a progress bar that moves
through the cells with counts per state and the time left, keeps the per-cell log lines off the screen, and ends with
the table sorted by the selected metric, the best cell marked and named in a readable line."""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path

import pytest

from tests.reliability.support import OUTCOME_S, write_project
from tests.reliability.test_terminal import Terminal

pytestmark = pytest.mark.r
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


@pytest.fixture
def prefect_api(prefect_server: None) -> str:
    from prefect.settings import PREFECT_API_URL

    return str(PREFECT_API_URL.value())


def test_the_bar_moves_and_the_final_table_is_sorted_by_the_metric(tmp_path: Path, prefect_api: str) -> None:
    project = tmp_path / "project"
    write_project(project, inputs={"seed": 1, "pause": 0.2, "fail": 0})
    (project / "grid.yml").write_text("seed: [1, 3, 2, 4]\n")
    env = {**os.environ, "RJOBS_MARKER": str(tmp_path / "launches.txt"), "PREFECT_API_URL": prefect_api}
    env.update(PREFECT_HOME=str(tmp_path / "prefect-home"), COLUMNS="160")
    argv = [sys.executable, "-m", "flows.train", "--job", str(project / "job.yml"), "--results"]
    argv += [str(project / "results"), "--run-name", "bar", "--max-concurrent", "1", "--no-mlflow"]
    argv += ["--select", "score:max"]
    terminal = Terminal(argv, env)
    try:
        assert terminal.process.wait(timeout=3 * OUTCOME_S) == 0, terminal.screen[-3000:]
    finally:
        terminal.close()
    screen = ANSI.sub("", terminal.screen.replace("\r", "\n"))

    shown = {int(n) for n in re.findall(r"\b([0-4])/4\b", screen)}
    assert shown == {0, 1, 2, 3, 4}, f"the bar did not move through every cell:\n{screen[-3000:]}"
    assert re.search(r"\d+ Completed", screen) and "time left" in screen, screen[-3000:]
    assert " -> " not in screen, "per-cell transition lines reached the terminal"
    assert "Traceback" not in screen

    [header] = [line.split("┃") for line in screen.splitlines() if "┃ cell" in line][-1:]
    rows = [line.split("│") for line in screen.splitlines() if re.search(r"│ c[0-9a-f]{9} +│", line)][-4:]
    score = [name.strip() for name in header].index("score")
    assert [float(row[score]) for row in rows] == [0.4, 0.3, 0.2, 0.1], f"not best first:\n{screen[-3000:]}"
    assert rows[0][1].strip() == "*" and all(row[1].strip() == "" for row in rows[1:]), "the best cell is marked"
    assert re.search(r"best by score:max: seed=4 \(cell c[0-9a-f]+, score 0\.4\)", screen), screen[-2000:]
