"""Register the chosen cell's model: MLflow's registry locally, the backend's own registry where it has one (an Azure
ML model from the job's output, see RegistersModels).

Registering the same file of the same cell again finds the version made before (tag rjobs.source) instead of
adding one, so a re-run of the flow or of `python -m flows.results --register` is safe.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import PurePosixPath
from typing import TYPE_CHECKING, Any

from rjobs.backends.base import RegisteredModelRef, RegistersModels
from rjobs.core.errors import InputError
from rjobs.core.files import OUTPUTS_DIR
from rjobs.core.naming import SOURCE_TAG
from rjobs.engine.ledger import CellRecord, RunLedger
from rjobs.inputs.result_options import DEFAULT_MODEL_PATH, check_model_name, check_model_path
from rjobs.results.mlflow_runs import check_filter_value, find_cell_run
from rjobs.results.tracking import ARTIFACT_PATH, local_tracking_uri, log_sweep, make_client

if TYPE_CHECKING:
    from mlflow import MlflowClient


def source_key(run: str, cell: str, model_path: str) -> str:
    """What makes a registration the same one: run, cell and file."""
    return f"{run}/{cell}/{model_path}"


def model_tags(run: str, record: CellRecord, model_path: str, extra: Mapping[str, Any] | None = None) -> dict[str, str]:
    """run, cell, job, source and the cell's params (as param.<name>), so a version says where it came from."""
    tags = {
        "rjobs.run": run,
        "rjobs.cell": record.cell,
        "rjobs.job_name": record.job_name,
        SOURCE_TAG: source_key(run, record.cell, model_path),
    }
    tags.update({f"param.{k}": str(v) for k, v in record.params.items()})
    tags.update({k: str(v) for k, v in (extra or {}).items()})
    return tags


def _check_local_file(ledger: RunLedger, record: CellRecord, model_path: str) -> None:
    if not (ledger.cell_dir(record.cell) / model_path).is_file():
        raise InputError(
            ledger.cell_dir(record.cell), model_path, "is not a file of this cell", "pass --model-path with its file"
        )


def register_mlflow(
    client: MlflowClient,
    name: str,
    ledger: RunLedger,
    record: CellRecord,
    child_run_id: str,
    model_path: str = DEFAULT_MODEL_PATH,
    extra_tags: Mapping[str, Any] | None = None,
) -> RegisteredModelRef:
    """A version of `name` from the child run's artifact runs:/<child>/outputs/..., unless one exists already."""
    from mlflow.exceptions import MlflowException

    name, model_path = check_model_name(name), check_model_path(model_path)
    _check_local_file(ledger, record, model_path)
    key = check_filter_value("model source", source_key(ledger.run, record.cell, model_path))
    found = client.search_model_versions(f"name = '{name}' and tags.`{SOURCE_TAG}` = '{key}'")
    if found:
        first = min(found, key=lambda v: int(v.version))
        return RegisteredModelRef(name, str(first.version), first.source, False)
    try:
        client.create_registered_model(name, description="Registered by r-azure-ml from a sweep's best cell")
    except MlflowException as exc:
        if exc.error_code != "RESOURCE_ALREADY_EXISTS":
            raise
    artifact = PurePosixPath(model_path).relative_to(OUTPUTS_DIR).as_posix()
    source = f"runs:/{child_run_id}/{ARTIFACT_PATH}/{artifact}"
    tags = model_tags(ledger.run, record, model_path, extra_tags)
    version = client.create_model_version(name, source, run_id=child_run_id, tags=tags, await_creation_for=0)
    return RegisteredModelRef(name, str(version.version), source, True)


def register_local(
    name: str,
    ledger: RunLedger,
    record: CellRecord,
    records: Sequence[CellRecord],
    *,
    experiment: str,
    model_path: str = DEFAULT_MODEL_PATH,
    tracking_uri: str | None = None,
    extra_tags: Mapping[str, Any] | None = None,
) -> RegisteredModelRef:
    """Register from the cell's child run in the local store, logging the sweep first if it never was."""
    name, model_path = check_model_name(name), check_model_path(model_path)
    _check_local_file(ledger, record, model_path)
    uri = tracking_uri or local_tracking_uri(ledger.root)
    client = make_client(uri)
    child = find_cell_run(client, ledger.run, record.cell)
    if child is not None:
        run_id = child.info.run_id
    else:
        logged = log_sweep(ledger, records, experiment=experiment, backend="local", tracking_uri=uri, client=client)
        run_id = logged.child_run_ids[record.cell]
    return register_mlflow(client, name, ledger, record, run_id, model_path, extra_tags)


def register_in_backend(
    backend: RegistersModels,
    name: str,
    ledger: RunLedger,
    record: CellRecord,
    model_path: str = DEFAULT_MODEL_PATH,
    extra_tags: Mapping[str, Any] | None = None,
) -> RegisteredModelRef:
    """A version in the backend's own registry (an Azure ML model from the cell's job output), unless one exists: the
    checks and tags are the sweep's, the versioning is the backend's."""
    name, model_path = check_model_name(name), check_model_path(model_path)
    if not record.job_name:
        raise InputError(ledger.cell_dir(record.cell), "job_name", "is empty", "re-run the sweep so the cell has a job")
    if ledger.outputs_dir(record.cell).is_dir():
        _check_local_file(ledger, record, model_path)
    tags = model_tags(ledger.run, record, model_path, extra_tags)
    description = f"Best cell {record.cell} of sweep {ledger.run} (r-azure-ml)"
    return backend.register_model(name, record.job_name, model_path, tags, description)
