"""Batch scoring: a registered model (or a model file) and a table or folder to score, written as a parallel job
file the parallel step runs, so scoring is the same engine, the same contract and the same results folder."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from rjobs.core.errors import InputError
from rjobs.core.files import atomic_write_text
from rjobs.core.hashing import content_hash

MODEL_REF = re.compile(r"^(?P<name>[A-Za-z0-9][A-Za-z0-9_.-]*)(?::(?P<version>[0-9]+))?$")


def resolve_model(model: str, tracking_uri: str, download_to: Path) -> Path:
    """An existing file is the model; otherwise NAME[:VERSION] from the MLflow registry (the newest version when
    none is given), downloaded once into download_to/NAME-VERSION/."""
    path = Path(model)
    if path.is_file():
        return path.resolve()
    match = MODEL_REF.match(model)
    if match is None:
        raise InputError("--model", model, "is no file and no NAME[:VERSION]", "give a model.rds or a registered name")
    from mlflow.exceptions import MlflowException

    from rjobs.results.tracking import make_client

    client = make_client(tracking_uri)
    name = match.group("name")
    try:
        versions = client.search_model_versions(f"name = '{name}'")
    except MlflowException as exc:
        raise InputError("--model", model, f"cannot be looked up ({exc.message})", "check --tracking-uri") from None
    wanted = match.group("version") or max((v.version for v in versions), key=int, default=None)
    found = [v for v in versions if str(v.version) == str(wanted)]
    if not found:
        raise InputError(
            "--model", model, f"is not registered in {tracking_uri}", "register it with a sweep's --register-model"
        )
    target = download_to / f"{name}-{wanted}"
    files = sorted(target.rglob("*.rds")) if target.is_dir() else []
    if not files:
        from mlflow.artifacts import download_artifacts

        download_artifacts(artifact_uri=found[0].source, dst_path=str(target), tracking_uri=tracking_uri)
        files = sorted(target.rglob("*.rds"))
    if not files:
        raise InputError("--model", model, f"has no .rds file at {found[0].source}", "register the model.rds output")
    return files[0].resolve()


def write_score_job(model: Path, data: Path, code: Path, size: int, folder: Path) -> Path:
    """The parallel job that scores `data` (a table by rows of `size`, a folder by files) with score.R."""
    if not data.exists():
        raise InputError("--data", str(data), "does not exist", "give a CSV, a Parquet file or a folder")
    kind = "uri_folder" if data.is_dir() else "uri_file"
    job = {
        "type": "parallel",
        "experiment_name": "score",
        "inputs": {
            "data": {"type": kind, "path": str(data.resolve())},
            "model": {"type": "uri_file", "path": str(model)},
        },
        "outputs": {"predictions": {"type": "uri_folder"}},
        "input_data": "${{inputs.data}}",
        "mini_batch_size": str(size),
        "task": {
            "type": "run_function",
            "code": str(code.resolve()),
            "entry_script": "score.R",
            "program_arguments": "--model ${{inputs.model}}",
            "append_row_to": "${{outputs.predictions}}",
        },
    }
    text = yaml.safe_dump(job, sort_keys=False)
    path = folder / f"score-{content_hash([text])}.yml"
    atomic_write_text(path, text)
    return path
