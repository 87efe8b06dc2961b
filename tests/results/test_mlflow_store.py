"""rjobs.results.mlflow_store: a new local store is a copy of a migrated empty one; existing stores and other URIs
are never touched; without a usable cache MLflow creates the store as before."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from rjobs.results.mlflow_store import seed_local_store, template_path
from rjobs.results.tracking import make_client


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    return tmp_path / "cache"


def default_location(store: Path) -> str:
    with sqlite3.connect(store) as connection:
        (location,) = connection.execute("SELECT artifact_location FROM experiments WHERE experiment_id = 0").fetchone()
    connection.close()
    return location


def test_new_store_is_a_working_copy_with_artifacts_beside_it(tmp_path: Path, cache: Path) -> None:
    for name in ("a", "b"):
        (tmp_path / name).mkdir()
        uri = f"sqlite:///{tmp_path / name / 'mlflow.db'}"
        seed_local_store(uri)
        assert (tmp_path / name / "mlflow.db").is_file()
        assert default_location(tmp_path / name / "mlflow.db") == (tmp_path / name / "mlruns" / "0").as_posix()
        client = make_client(uri)
        experiment_id = client.create_experiment(f"store-{name}")
        run = client.create_run(experiment_id)
        client.log_metric(run.info.run_id, "rmse", 1.5)
        assert client.get_run(run.info.run_id).data.metrics == {"rmse": 1.5}
    assert template_path().is_file() and template_path().parent == cache / "r-azure-ml"
    assert [p.name for p in (tmp_path / "a").iterdir()] == ["mlflow.db"]  # no scratch file left behind


def test_existing_store_and_other_uris_are_left_alone(tmp_path: Path, cache: Path) -> None:
    store = tmp_path / "mlflow.db"
    store.write_bytes(b"not a copy")
    seed_local_store(f"sqlite:///{store}")
    assert store.read_bytes() == b"not a copy"
    seed_local_store("http://127.0.0.1:5000")
    seed_local_store(f"sqlite:///{tmp_path / 'missing-folder' / 'mlflow.db'}")
    assert not (tmp_path / "missing-folder").exists()
    assert not cache.exists()


def test_unusable_cache_falls_back_to_mlflow(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    blocker = tmp_path / "cache-is-a-file"
    blocker.write_text("")
    monkeypatch.setenv("XDG_CACHE_HOME", str(blocker))
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    seed_local_store(uri)
    assert not (tmp_path / "mlflow.db").exists()
    client = make_client(uri)
    assert client.create_experiment("fallback")
    assert (tmp_path / "mlflow.db").is_file()
