"""Which model file to serve: a version of a registered model (`--model NAME[:VERSION]`, the local MLflow registry
that rjobs.results.registry fills), or the best cell of a finished sweep (`--run RUN --select METRIC:goal`, chosen by
rjobs.results.selection as registration chooses it)."""

from __future__ import annotations

import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from rjobs.core.errors import InputError
from rjobs.engine.ledger import RunLedger
from rjobs.inputs.result_options import DEFAULT_MODEL_PATH, check_model_name, check_model_path, parse_objective
from rjobs.results.selection import select_best
from rjobs.results.tracking import local_tracking_uri, make_client

MODEL_REF = re.compile(r"^(?P<name>[^:]+)(?::(?P<version>[1-9][0-9]*|latest))?$")
REF_FIX = "write --model NAME or NAME:VERSION (a version number or latest), e.g. --model r-penguins:3"


@dataclass(frozen=True)
class ModelRef:
    """A registered model and a version (None: the latest)."""

    name: str
    version: str | None = None

    def __str__(self) -> str:
        return f"{self.name}:{self.version or 'latest'}"


@dataclass(frozen=True)
class ServedModel:
    """The model file to serve and where it came from (for logs, tags and the image's labels)."""

    path: Path
    name: str
    version: str
    tags: dict[str, str] = field(default_factory=dict)


def parse_model_ref(text: str, option: str = "--model") -> ModelRef:
    """NAME or NAME:VERSION; the name obeys the registry's rules."""
    match = MODEL_REF.fullmatch(text.strip())
    if not match:
        raise InputError(option, text, "is not NAME[:VERSION]", REF_FIX)
    name = check_model_name(match["name"], option)
    version = match["version"]
    return ModelRef(name, None if version in (None, "latest") else version)


def from_registry(ref: ModelRef, results_root: str | Path, dest: Path, tracking_uri: str | None = None) -> ServedModel:
    """Download the version's model file from the MLflow registry into dest (the local backend's registry)."""
    import mlflow.artifacts
    from mlflow.exceptions import MlflowException

    uri = tracking_uri or local_tracking_uri(results_root)
    client = make_client(uri)
    try:
        versions = client.search_model_versions(f"name = '{ref.name}'")
    except MlflowException as exc:
        raise InputError(uri, ref.name, f"the registry could not be read ({exc})", "check --tracking-uri") from exc
    if not versions:
        fix = "register one first (python -m flows.train --select rmse:min --register-model NAME)"
        raise InputError(uri, ref.name, "is no registered model", fix)
    numbers = sorted(int(v.version) for v in versions)
    version = ref.version or str(numbers[-1])
    chosen = [v for v in versions if str(v.version) == version]
    if not chosen:
        fix = f"pick one of versions {', '.join(map(str, numbers))}"
        raise InputError(uri, f"{ref.name}:{version}", "no such version", fix)
    found = chosen[0]
    dest.mkdir(parents=True, exist_ok=True)
    local = Path(mlflow.artifacts.download_artifacts(artifact_uri=found.source, dst_path=str(dest), tracking_uri=uri))
    return ServedModel(local, ref.name, version, dict(found.tags))


def from_run(results_root: str | Path, run: str, select: str, model_path: str = DEFAULT_MODEL_PATH) -> ServedModel:
    """The best completed cell's model file of a finished sweep, by the same rule registration uses."""
    objective = parse_objective(select)
    model_path = check_model_path(model_path)
    ledger = RunLedger(results_root, run)
    if not ledger.summary_path.is_file():
        raise InputError(ledger.run_dir, None, "has no finished sweep (no summary.csv)", "pass a run of --results")
    best = select_best(ledger.records(), objective)
    assert best is not None  # required=True raises instead
    path = ledger.cell_dir(best.cell) / model_path
    if not path.is_file():
        raise InputError(ledger.cell_dir(best.cell), model_path, "is not a file of the best cell", "pass --model-path")
    tags = {"rjobs.run": run, "rjobs.cell": best.cell, "rjobs.objective": str(objective)}
    tags.update({f"param.{k}": str(v) for k, v in best.params.items()})
    return ServedModel(path, f"{run}-{best.cell}", "1", tags)


def copy_model(model: ServedModel, dest: Path) -> Path:
    """The model file copied to dest (a build context's model.rds)."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(model.path, dest)
    return dest
