"""A new local MLflow store starts as a copy of an empty, migrated one kept per MLflow version in the user's cache:
creating and migrating the tables costs seconds of CPU per results folder, a copy next to nothing."""

from __future__ import annotations

import contextlib
import logging
import os
import sqlite3
import tempfile
from pathlib import Path

log = logging.getLogger(__name__)

SQLITE_PREFIX = "sqlite:///"


def cache_dir() -> Path:
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "r-azure-ml"


def template_path() -> Path:
    from mlflow.version import VERSION

    return cache_dir() / f"mlflow-{VERSION}-empty.db"


def _create_template(template: Path) -> None:
    """Migrate an empty store in a scratch folder, then move it into place (a concurrent creator's copy wins)."""
    from mlflow import MlflowClient

    template.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=template.parent) as scratch:
        store = Path(scratch) / "mlflow.db"
        MlflowClient(tracking_uri=SQLITE_PREFIX + store.as_posix()).search_experiments()
        with contextlib.suppress(FileExistsError):
            os.link(store, template)


def seed_local_store(tracking_uri: str) -> None:
    """Put a copy of the template where a sqlite tracking URI points, if nothing is there yet, its Default
    experiment's artifacts beside the store (not in the template's folder). On any failure MLflow creates it."""
    if not tracking_uri.startswith(SQLITE_PREFIX):
        return
    target = Path(tracking_uri.removeprefix(SQLITE_PREFIX))
    if target.exists() or not target.parent.is_dir():
        return
    try:
        template = template_path()
        if not template.is_file():
            _create_template(template)
        fd, scratch = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.")
        try:
            with os.fdopen(fd, "wb") as out:
                out.write(template.read_bytes())
            with sqlite3.connect(scratch) as connection:
                location = (target.parent / "mlruns" / "0").as_posix()
                connection.execute("UPDATE experiments SET artifact_location = ? WHERE experiment_id = 0", (location,))
            connection.close()
            with contextlib.suppress(FileExistsError):
                os.link(scratch, target)  # never over a store another sweep just created
        finally:
            os.unlink(scratch)
    except (OSError, sqlite3.Error) as exc:
        log.debug("no MLflow store template (%s): MLflow creates the store", exc)
