"""The serving build context: generated from the model and the training Dockerfile, whole or not at all, its tag the
content hash, no secret of this process in it; and the model to serve found in the registry or a sweep's best cell."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from rjobs.core.errors import InputError
from rjobs.results.registry import register_local
from rjobs.serving.context import training_base, write_context
from rjobs.serving.model_source import ModelRef, ServedModel, from_registry, from_run, parse_model_ref
from rjobs.serving.routes import CONTAINER_PORT, SERVE_R
from tests.results.conftest import Cell, Store, build_ledger

REPO = Path(__file__).resolve().parents[2]
DOCKERFILE = REPO / "docker-context" / "Dockerfile"


def served(tmp_path: Path, content: bytes = b"model bytes") -> ServedModel:
    path = tmp_path / "in" / "model.rds"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content)
    return ServedModel(path, "r-penguins", "3")


def test_the_context_builds_on_the_training_image_with_plumber(tmp_path: Path) -> None:
    os.environ["AZURE_CLIENT_SECRET_FOR_TEST"] = "s3cr3t-value"
    try:
        context = write_context(tmp_path / "ctx", served(tmp_path), DOCKERFILE)
    finally:
        del os.environ["AZURE_CLIENT_SECRET_FOR_TEST"]
    assert sorted(p.name for p in context.path.iterdir()) == ["Dockerfile", "model.rds", "serve.R"]
    assert (context.path / "serve.R").read_bytes() == SERVE_R.read_bytes()
    assert (context.path / "model.rds").read_bytes() == b"model bytes"
    dockerfile = (context.path / "Dockerfile").read_text()
    lines = dockerfile.splitlines()
    assert "FROM rocker/r-ver:4.4.1" in lines
    assert "ARG CRAN_SNAPSHOT=https://p3m.dev/cran/__linux__/jammy/2024-10-30" in lines
    install = next(line for line in lines if line.startswith("RUN install2.r"))
    assert install.split()[-5:] == ["jsonlite", "optparse", "plumber", "ranger", "\\"]
    assert f"EXPOSE {CONTAINER_PORT}" in lines and "USER serve" in lines
    assert f"ENV SERVE_HOST=0.0.0.0 SERVE_PORT={CONTAINER_PORT} SERVE_MODEL=/app/model.rds" in lines
    assert lines[-1] == 'CMD ["Rscript", "--vanilla", "/app/serve.R"]'
    everything = b"".join(p.read_bytes() for p in context.path.iterdir())
    assert b"s3cr3t-value" not in everything and b"SECRET" not in everything


def test_the_tag_is_the_content_and_a_rewrite_replaces_the_whole(tmp_path: Path) -> None:
    first = write_context(tmp_path / "ctx", served(tmp_path), DOCKERFILE)
    (first.path / "stale").write_text("left from before")
    again = write_context(tmp_path / "ctx", served(tmp_path), DOCKERFILE)
    assert again.tag == first.tag and not (again.path / "stale").exists()
    other = write_context(tmp_path / "ctx", served(tmp_path, b"another model"), DOCKERFILE)
    assert other.tag != first.tag
    predict = tmp_path / "predict.R"
    predict.write_text("predict_rows <- function(model, rows) rep(1, nrow(rows))\n")
    with_predict = write_context(tmp_path / "ctx", served(tmp_path), DOCKERFILE, predict)
    assert (with_predict.path / "predict.R").read_text() == predict.read_text()
    assert "SERVE_PREDICT=/app/predict.R" in (with_predict.path / "Dockerfile").read_text()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".ctx")] == []  # no staging left


def test_bad_inputs_leave_no_context(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"predict\.R: does not exist"):
        write_context(tmp_path / "ctx", served(tmp_path), DOCKERFILE, tmp_path / "predict.R")
    empty = tmp_path / "Dockerfile"
    empty.write_text("# nothing\n")
    with pytest.raises(InputError, match="FROM: has no base image"):
        training_base(empty)
    assert not (tmp_path / "ctx").exists()


def test_a_plain_base_image_installs_with_install_packages(tmp_path: Path) -> None:
    dockerfile = tmp_path / "Dockerfile"
    dockerfile.write_text("FROM r-base:4.4.1 AS build\nRUN apt-get install -y r-cran-ranger\n")
    context = write_context(tmp_path / "ctx", served(tmp_path), dockerfile)
    text = (context.path / "Dockerfile").read_text()
    assert "FROM r-base:4.4.1\n" in text
    assert 'install.packages(c("jsonlite", "plumber", "ranger"), repos = "https://cloud.r-project.org")' in text


@pytest.mark.parametrize(
    ("text", "ref"),
    [("r-penguins", ModelRef("r-penguins")), ("r-penguins:3", ModelRef("r-penguins", "3")),
     ("m-v_2:latest", ModelRef("m-v_2"))],
)  # fmt: skip
def test_model_refs(text: str, ref: ModelRef) -> None:
    assert parse_model_ref(text) == ref


@pytest.mark.parametrize("text", ["", "a:b:c", "name:0", "name:x", "bad name", ":3", "m.v_2:latest"])
def test_bad_model_refs_are_input_errors(text: str) -> None:
    with pytest.raises(InputError, match="--model"):
        parse_model_ref(text)


def test_the_best_cell_of_a_run_or_a_registered_version(mlflow_store: Store, tmp_path: Path) -> None:
    cells = [Cell("a", {"seed": 1}, metrics={"rmse": 2.0}), Cell("b", {"seed": 2}, metrics={"rmse": 1.0})]
    ledger, records = build_ledger(mlflow_store.root, "serve-a", cells)
    best = from_run(mlflow_store.root, "serve-a", "rmse:min")
    assert best.path == ledger.outputs_dir("b") / "model.rds"
    assert best.tags["param.seed"] == "2"
    register_local("serve-model", ledger, records[1], records, experiment="serve-exp")
    register_local("serve-model", ledger, records[0], records, experiment="serve-exp")
    latest = from_registry(parse_model_ref("serve-model"), mlflow_store.root, tmp_path / "dl-latest")
    first = from_registry(parse_model_ref("serve-model:1"), mlflow_store.root, tmp_path / "dl-1")
    assert (latest.version, latest.path.read_bytes()) == ("2", b"model of a")
    assert (first.version, first.path.read_bytes()) == ("1", b"model of b")
    with pytest.raises(InputError, match="no such version; pick one of versions 1, 2"):
        from_registry(parse_model_ref("serve-model:7"), mlflow_store.root, tmp_path / "dl-7")
    with pytest.raises(InputError, match="is no registered model"):
        from_registry(parse_model_ref("nothing-here"), mlflow_store.root, tmp_path / "dl-none")
    with pytest.raises(InputError, match="has no finished sweep"):
        from_run(mlflow_store.root, "no-such-run", "rmse:min")
