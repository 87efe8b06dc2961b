"""`python -m flows.deploy` end to end with real R: the best cell of a finished sweep served from its generated build
context (the container's serve.R, run under local R), answering, then stopped by Ctrl-C's signal with exit 0."""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from flows.deploy import main
from rjobs.serving.routes import SCORING_ROUTE
from tests.results.conftest import Cell, build_ledger
from tests.serving.support import REPO, offline_predictions, penguin_rows, post, train_model

READY_DEADLINE_S = 120.0


@pytest.mark.r
def test_serves_the_best_cell_until_ctrl_c(tmp_path: Path) -> None:
    results = tmp_path / "results"
    cells = [
        Cell("lm1", {"model": "lm"}, metrics={"rmse": 380.0}),
        Cell("rf1", {"model": "ranger"}, metrics={"rmse": 290.0}),
    ]
    ledger, _ = build_ledger(results, "sweep", cells)
    for cell, model in (("lm1", "lm"), ("rf1", "ranger")):
        shutil.copyfile(train_model(tmp_path / model, model), ledger.outputs_dir(cell) / "model.rds")
    command = [sys.executable, "-m", "flows.deploy", "--run", "sweep", "--endpoint", "penguins", "--port", "0",
               "--results", str(results), "--docker-context", str(REPO / "docker-context")]  # fmt: skip
    process = subprocess.Popen(command, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    lines: list[str] = []
    ready = threading.Event()

    def read() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            lines.append(line)
            if line.startswith("serving on "):
                ready.set()

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        assert ready.wait(READY_DEADLINE_S), (lines, process.poll())
        url = lines[-1].split()[2]
        assert url.startswith("http://127.0.0.1:")
        rows = penguin_rows()[:50]
        status, answer = post(url + SCORING_ROUTE, json.dumps(rows))
        assert status == 200
        context = results / "serving" / "penguins" / "context"
        expected = offline_predictions(context / "model.rds", penguin_rows(), tmp_path / "offline")[:50]
        assert answer["predictions"] == expected
        assert (context / "model.rds").read_bytes() == (ledger.outputs_dir("rf1") / "model.rds").read_bytes()
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=90) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    reader.join(timeout=10)
    assert lines[-1].startswith("stopped")
    assert "model sweep-rf1:1" in lines[0]


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--model", "a:b:c", "--endpoint", "ep1"], "--model: a:b:c: is not NAME[:VERSION]"),
        (["--run", "nope", "--endpoint", "ep1"], "has no finished sweep"),
        (["--run", "nope", "--endpoint", "bad name!"], "--endpoint: 'bad name!': is not a valid online endpoint name"),
        (["--run", "nope", "--endpoint", "ep1", "--port", "70000"], "--port: 70000: is not a port"),
    ],
)
def test_bad_input_exits_2_before_anything_starts(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    assert main([*argv, "--results", str(tmp_path / "results")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and message in err and err.count("\n") == 1
    assert not (tmp_path / "results" / "serving").exists()
