"""rjobs.results.registry: the best cell's model in MLflow's registry locally and as an Azure ML model (the backend's
own registry), never twice."""

from __future__ import annotations

import types
from pathlib import Path
from typing import Any

import pytest

from rjobs.backends.azureml.backend import AzureMLBackend
from rjobs.backends.azureml.models import job_output_uri
from rjobs.backends.base import RegisteredModelRef
from rjobs.core.errors import InputError
from rjobs.core.naming import SOURCE_TAG
from rjobs.inputs.result_options import check_model_name, check_model_path, check_result_options
from rjobs.results.registry import register_in_backend, register_local, register_mlflow
from rjobs.results.tracking import log_sweep
from tests.results.conftest import Cell, Store, build_ledger, demo_cells

# --- local: MLflow registry on the results root's sqlite store ------------------------------------------------


def versions_of(store: Store, name: str) -> list[Any]:
    return store.client.search_model_versions(f"name = '{name}'")


def test_register_once_then_reuse_then_a_new_version_for_another_cell(mlflow_store: Store) -> None:
    ledger, records = build_ledger(mlflow_store.root, "reg-a", demo_cells(n_seeds=1))
    logged = log_sweep(ledger, records, experiment="reg-exp-a", backend="local")
    best, other = records[0], records[1]

    first = register_mlflow(mlflow_store.client, "penguins-a", ledger, best, logged.child_run_ids[best.cell])
    assert isinstance(first, RegisteredModelRef)
    assert (first.name, first.version, first.created) == ("penguins-a", "1", True)
    assert first.source == f"runs:/{logged.child_run_ids[best.cell]}/outputs/model.rds"
    version = mlflow_store.client.get_model_version("penguins-a", "1")
    assert version.run_id == logged.child_run_ids[best.cell]
    assert version.tags[SOURCE_TAG] == f"reg-a/{best.cell}/outputs/model.rds"
    assert (version.tags["rjobs.run"], version.tags["rjobs.cell"]) == ("reg-a", best.cell)
    assert {k: v for k, v in version.tags.items() if k.startswith("param.")} == {
        f"param.{k}": str(v) for k, v in best.params.items()
    }
    artifacts = {a.path for a in mlflow_store.client.list_artifacts(version.run_id, "outputs")}
    assert "outputs/model.rds" in artifacts  # the version's source exists

    again = register_mlflow(mlflow_store.client, "penguins-a", ledger, best, logged.child_run_ids[best.cell])
    assert (again.version, again.created) == ("1", False)
    assert len(versions_of(mlflow_store, "penguins-a")) == 1

    second = register_mlflow(mlflow_store.client, "penguins-a", ledger, other, logged.child_run_ids[other.cell])
    assert (second.version, second.created) == ("2", True)
    assert len(versions_of(mlflow_store, "penguins-a")) == 2


def test_register_local_logs_a_sweep_that_never_was(mlflow_store: Store) -> None:
    ledger, records = build_ledger(mlflow_store.root, "reg-b", demo_cells(n_seeds=1))
    made = register_local("penguins-b", ledger, records[2], records, experiment="reg-exp-b", extra_tags={"x": 1})
    assert (made.version, made.created) == ("1", True)
    experiment = mlflow_store.client.get_experiment_by_name("reg-exp-b")
    assert experiment is not None
    runs = mlflow_store.client.search_runs([experiment.experiment_id], "tags.`rjobs.run` = 'reg-b'")
    assert len(runs) == len(records) + 1
    assert mlflow_store.client.get_model_version("penguins-b", "1").tags["x"] == "1"

    again = register_local("penguins-b", ledger, records[2], records, experiment="reg-exp-b")
    assert (again.version, again.created) == ("1", False)
    assert len(mlflow_store.client.search_runs([experiment.experiment_id], "tags.`rjobs.run` = 'reg-b'")) == 7


def test_another_model_path_is_another_version(mlflow_store: Store) -> None:
    ledger, records = build_ledger(mlflow_store.root, "reg-c", [Cell("a", {"seed": 1}, metrics={"rmse": 1.0})])
    (ledger.outputs_dir("a") / "sub").mkdir()
    (ledger.outputs_dir("a") / "sub" / "other.rds").write_bytes(b"x")
    first = register_local("penguins-c", ledger, records[0], records, experiment="reg-exp-c")
    other = register_local(
        "penguins-c", ledger, records[0], records, experiment="reg-exp-c", model_path="outputs/sub/other.rds"
    )
    assert (first.version, other.version) == ("1", "2")
    assert other.source.endswith("/outputs/sub/other.rds")


def test_missing_model_file_is_an_input_error(tmp_path: Path) -> None:
    ledger, records = build_ledger(tmp_path, "reg-d", [Cell("a", {"seed": 1}, metrics={"rmse": 1.0})])
    with pytest.raises(InputError, match=r"outputs/model\.pkl: is not a file of this cell; pass --model-path"):
        register_local("m", ledger, records[0], records, experiment="e", model_path="outputs/model.pkl")
    assert not (tmp_path / "mlflow.db").exists()  # nothing was created for a bad request


BAD_NAMES = ["", "-lead", "has space", "a/b", "quote'd", "x" * 256, "a.b-c", "my.model", "good\n"]


@pytest.mark.parametrize("name", BAD_NAMES)
def test_bad_model_names(name: str) -> None:
    with pytest.raises(InputError, match=r"^--register: "):
        check_model_name(name)


@pytest.mark.parametrize("name", ["penguins", "Penguins_2", "a-b_c", "0model"])
def test_good_model_names(name: str) -> None:
    assert check_model_name(name) == name


# (path, accepted)
PATH_CASES = [
    ("outputs/model.rds", True),
    ("outputs/sub/model.rds", True),
    ("model.rds", False),
    ("outputs", False),
    ("outputs/../status.json", False),
    ("/outputs/model.rds", False),
    ("logs/model.rds", False),
    ("outputs/it's.rds", False),
    ("", False),
]


@pytest.mark.parametrize(("path", "accepted"), PATH_CASES)
def test_model_paths(path: str, accepted: bool) -> None:
    if accepted:
        assert check_model_path(path) == path
    else:
        with pytest.raises(InputError, match=r"^--model-path: .*is not a file under outputs/"):
            check_model_path(path)


# --- Azure ML: ml_client.models with the SDK's real Model entity ------------------------------------------------


class FakeModels:
    """ml_client.models as far as registration uses it: records calls, round-trips entities through REST."""

    def __init__(self, missing_raises: bool = False) -> None:
        self.calls: list[tuple[str, Any]] = []
        self.stored: dict[str, dict[str, Any]] = {}
        self.missing_raises = missing_raises

    def create_or_update(self, model: Any) -> Any:
        from azure.ai.ml.entities import Model

        assert isinstance(model, Model)
        self.calls.append(("create_or_update", model))
        versions = self.stored.setdefault(model.name, {})
        assert model.version not in versions, "the service refuses to overwrite a model version"
        rest = model._to_rest_object()  # as the SDK serialises it for the service
        rest.properties.flavors = {}
        rest.id = (
            "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg/providers/"
            f"Microsoft.MachineLearningServices/workspaces/ws/models/{model.name}/versions/{model.version}"
        )
        versions[model.version] = rest
        return Model._from_rest_object(rest)

    def list(self, name: str | None = None, **kwargs: Any) -> list[Any]:
        from azure.ai.ml.entities import Model
        from azure.core.exceptions import ResourceNotFoundError

        self.calls.append(("list", name))
        if name not in self.stored and self.missing_raises:
            raise ResourceNotFoundError("model container not found")
        return [Model._from_rest_object(rest) for rest in self.stored.get(name or "", {}).values()]

    def get(self, name: str, version: str | None = None, label: str | None = None) -> Any:
        from azure.ai.ml.entities import Model

        self.calls.append(("get", (name, version, label)))
        return Model._from_rest_object(self.stored[name][version or max(self.stored[name], key=int)])

    def creates(self) -> list[Any]:
        return [model for call, model in self.calls if call == "create_or_update"]


def azure(models: FakeModels) -> AzureMLBackend:
    """The Azure backend on a client that has only ml_client.models: registration needs nothing else."""
    return AzureMLBackend(types.SimpleNamespace(models=models))


@pytest.mark.azure_fake
@pytest.mark.parametrize("missing_raises", [False, True], ids=["empty-list", "not-found"])
def test_azure_registers_from_the_job_output_once(tmp_path: Path, missing_raises: bool) -> None:
    ledger, records = build_ledger(tmp_path, "reg-az", demo_cells(n_seeds=1))
    best, other = records[0], records[1]
    models = FakeModels(missing_raises)

    backend = azure(models)
    first = register_in_backend(backend, "penguins", ledger, best, extra_tags={"rjobs.objective": "rmse:min"})
    expected_uri = f"azureml://jobs/reg-az-{best.cell}/outputs/artifacts/paths/outputs/model.rds"
    assert first == RegisteredModelRef("penguins", "1", expected_uri, True)
    (sent,) = models.creates()
    assert (sent.name, sent.version, sent.type, str(sent.path)) == ("penguins", "1", "custom_model", expected_uri)
    assert sent.tags == {
        "rjobs.run": "reg-az",
        "rjobs.cell": best.cell,
        "rjobs.job_name": f"reg-az-{best.cell}",
        SOURCE_TAG: f"reg-az/{best.cell}/outputs/model.rds",
        **{f"param.{k}": str(v) for k, v in best.params.items()},
        "rjobs.objective": "rmse:min",
    }
    assert models.get("penguins", "1").tags[SOURCE_TAG] == f"reg-az/{best.cell}/outputs/model.rds"

    again = register_in_backend(backend, "penguins", ledger, best)
    assert (again.version, again.created) == ("1", False)
    assert len(models.creates()) == 1

    second = register_in_backend(backend, "penguins", ledger, other)
    assert (second.version, second.created) == ("2", True)
    assert [m.version for m in models.creates()] == ["1", "2"]
    assert [c for c, _ in models.calls].count("list") == 3


@pytest.mark.azure_fake
def test_azure_uses_the_latest_attempts_job(tmp_path: Path) -> None:
    ledger, records = build_ledger(tmp_path, "reg-az2", [Cell("a", {"seed": 1}, metrics={"rmse": 1.0})])
    records[0].job_name = "reg-az2-a-r2"
    made = register_in_backend(azure(FakeModels()), "m", ledger, records[0])
    assert made.source == job_output_uri("reg-az2-a-r2", "outputs/model.rds")
    assert made.source == "azureml://jobs/reg-az2-a-r2/outputs/artifacts/paths/outputs/model.rds"


@pytest.mark.azure_fake
def test_azure_refuses_a_file_the_collected_outputs_lack(tmp_path: Path) -> None:
    ledger, records = build_ledger(tmp_path, "reg-az3", [Cell("a", {"seed": 1}, metrics={"rmse": 1.0})])
    models = FakeModels()
    with pytest.raises(InputError, match=r"outputs/nope\.rds"):
        register_in_backend(azure(models), "m", ledger, records[0], model_path="outputs/nope.rds")
    assert models.calls == []


# (select, register, model path, error match or None)
OPTION_CASES = [
    (None, None, "outputs/model.rds", None),
    ("rmse:min", None, "anything", None),  # the path matters only when registering
    ("rmse:min", "penguins", "outputs/model.rds", None),
    ("rmse", None, "outputs/model.rds", r"^--select: "),
    (None, "penguins", "outputs/model.rds", r"^--register: penguins: needs a cell to register; add --select"),
    ("rmse:min", "bad name", "outputs/model.rds", r"^--register: 'bad name': is not a valid model name"),
    ("rmse:min", "penguins", "model.rds", r"^--model-path: "),
]


def test_the_train_flag_name_is_used_in_messages() -> None:
    with pytest.raises(InputError, match=r"^--register-model: 'a b': is not a valid model name"):
        check_result_options("rmse:min", "a b", register_option="--register-model")
    with pytest.raises(InputError, match=r"^--register-model: m: needs a cell"):
        check_result_options(None, "m", register_option="--register-model")


@pytest.mark.parametrize(("select", "register", "path", "error"), OPTION_CASES)
def test_check_result_options(select: str | None, register: str | None, path: str, error: str | None) -> None:
    if error is None:
        assert check_result_options(select, register, path) is None
    else:
        with pytest.raises(InputError, match=error):
            check_result_options(select, register, path)
