"""serve.R under local R behind real HTTP: the demo's best model answers /score as R's own predict() does, bad requests
get a 4xx naming the problem, 20 concurrent clients are served, and the server stops cleanly on Ctrl-C's signal."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from rjobs.core.errors import ServingError
from rjobs.serving.local_server import LocalServer
from rjobs.serving.routes import SCORING_ROUTE, SERVE_R
from tests.serving.support import offline_predictions, penguin_rows, post, train_model

pytestmark = pytest.mark.r

MAX_BYTES = 200_000


@pytest.fixture(scope="module", params=["ranger", "lm"])
def served(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalServer]:
    """The demo sweep's best kind of cell (all features), fitted with train.R and served on a free port."""
    work = tmp_path_factory.mktemp(f"serve-{request.param}")
    model = train_model(work / "outputs", request.param)
    with LocalServer(SERVE_R, model, work / "serve.log", max_bytes=MAX_BYTES) as server:
        yield server


def test_predictions_equal_r_predict_on_the_penguins_rows(served: LocalServer, tmp_path: Path) -> None:
    rows = penguin_rows()
    status, answer = post(served.url + SCORING_ROUTE, json.dumps(rows))
    assert status == 200, answer
    assert answer["predictions"] == offline_predictions(served.model, rows, tmp_path)
    assert len(answer["predictions"]) == len(rows) == 333


def test_one_row_and_the_rows_wrapper_answer_as_lists(served: LocalServer, tmp_path: Path) -> None:
    rows = penguin_rows()[-1:]  # a Gentoo alone: its level is coded as in training, not as the only one sent
    expected = offline_predictions(served.model, penguin_rows(), tmp_path)[-1:]
    assert post(served.url + SCORING_ROUTE, json.dumps(rows)) == (200, {"predictions": expected})
    assert post(served.url + SCORING_ROUTE, json.dumps({"rows": rows})) == (200, {"predictions": expected})


ROW = {"bill_length_mm": 39.1, "bill_depth_mm": 18.7, "flipper_length_mm": 181, "species": "Adelie", "sex": "male"}

BAD_REQUESTS = [
    ("malformed JSON", '[{"bill_length_mm": 39.1,', 400, "malformed JSON"),
    ("empty body", "", 400, "empty body"),
    ("not rows", '{"a": 1}', 400, "array of row objects"),
    ("numbers, not rows", "[1, 2, 3]", 400, "array of row objects"),
    ("no rows", "[]", 400, "array of row objects"),
    ("missing column", json.dumps([{k: v for k, v in ROW.items() if k != "species"}]), 400, "missing column 'species'"),
    ("text for a number", json.dumps([{**ROW, "flipper_length_mm": "x"}]), 400, "'flipper_length_mm' must be a number"),
    ("number for a level", json.dumps([{**ROW, "sex": 1}]), 400, "'sex' must be text"),
    ("unknown level", json.dumps([{**ROW, "species": "Emperor"}]), 400, "'species' has unknown value 'Emperor'"),
    ("null value", json.dumps([ROW, {**ROW, "sex": None}]), 400, "'sex' is null or absent in row(s) 2"),
    ("nested value", json.dumps([{**ROW, "species": {"name": "Adelie"}}]), 400, "'species' must hold scalars"),
    ("oversized body", json.dumps([ROW] * 3000), 413, "over the limit of 200000"),
]  # fmt: skip


@pytest.mark.parametrize(("case", "body", "status", "message"), BAD_REQUESTS, ids=[c[0] for c in BAD_REQUESTS])
def test_bad_requests_get_a_4xx_naming_the_problem(
    served: LocalServer, case: str, body: str, status: int, message: str
) -> None:
    got, answer = post(served.url + SCORING_ROUTE, body)
    assert (got, case) == (status, case)
    assert message in answer["error"]
    assert "Error in" not in answer["error"] and "\n" not in answer["error"]  # one line, no R trace


def test_unknown_route_and_method_are_4xx(served: LocalServer) -> None:
    assert post(served.url + "/predict", "[]")[0] == 404
    assert served.ready()


def test_twenty_concurrent_clients_are_all_served(served: LocalServer, tmp_path: Path) -> None:
    rows = penguin_rows()
    expected = offline_predictions(served.model, rows, tmp_path)
    slices = [(i * 16, i * 16 + 1 + i) for i in range(20)]
    with ThreadPoolExecutor(max_workers=20) as pool:
        answers = list(pool.map(lambda s: post(served.url + SCORING_ROUTE, json.dumps(rows[s[0] : s[1]])), slices))
    assert [status for status, _ in answers] == [200] * 20
    assert [a["predictions"] for _, a in answers] == [expected[a:b] for a, b in slices]


def test_binds_loopback_and_stops_cleanly(tmp_path: Path) -> None:
    model = train_model(tmp_path / "outputs", "lm", "flipper_length_mm")
    server = LocalServer(SERVE_R, model, tmp_path / "serve.log")
    with server:
        assert server.url.startswith("http://127.0.0.1:")
        pid, port = server.pid, server.port
        assert post(server.url + SCORING_ROUTE, '[{"flipper_length_mm": 200}]')[0] == 200
    assert server.pid is None and pid is not None
    with pytest.raises(ProcessLookupError):
        import os

        os.kill(pid, 0)
    with socket.socket() as probe, pytest.raises(ConnectionRefusedError):
        probe.connect(("127.0.0.1", port))
    assert "listening on http://127.0.0.1" in (tmp_path / "serve.log").read_text()


def test_user_predict_rows_and_no_secret_reaches_r(tmp_path: Path) -> None:
    """The user's predict.R contract (predict_rows(model, rows) -> one value per row) and the allowlisted
    environment: a cloud key in this process is not visible to R."""
    model = train_model(tmp_path / "outputs", "lm", "flipper_length_mm")
    predict = tmp_path / "predict.R"
    predict.write_text(
        "predict_rows <- function(model, rows) {\n"
        '  leaked <- nzchar(Sys.getenv("AZURE_CLIENT_SECRET"))\n'
        "  2 * predict(model, newdata = rows) + leaked\n}\n",
        encoding="utf-8",
    )
    environ = {"PATH": "/usr/bin:/bin", "AZURE_CLIENT_SECRET": "s3cr3t"}
    with LocalServer(SERVE_R, model, tmp_path / "serve.log", predict=predict, environ=environ) as server:
        status, answer = post(server.url + SCORING_ROUTE, '[{"flipper_length_mm": 200}]')
    plain = offline_predictions(model, [{"flipper_length_mm": 200}], tmp_path / "offline")
    assert (status, answer) == (200, {"predictions": [2 * plain[0]]})
    assert "s3cr3t" not in (tmp_path / "serve.log").read_text()


def test_a_model_r_cannot_read_fails_fast_with_the_log(tmp_path: Path) -> None:
    broken = tmp_path / "model.rds"
    broken.write_bytes(b"not an rds file")
    server = LocalServer(SERVE_R, broken, tmp_path / "serve.log")
    with pytest.raises(ServingError, match=r"R exited with status .* before it was ready") as caught:
        server.__enter__()
    assert str(tmp_path / "serve.log") in str(caught.value)
    assert server.pid is None
