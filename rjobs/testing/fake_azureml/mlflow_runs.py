"""The workspace's MLflow as the fake service keeps it: every job is a run whose id is the job's name, in the job's
experiment (created on first use), its artifacts the job's own folder (user_logs/, outputs/), its status following
the job's. A local sqlite store stands in for the workspace's tracking server; MLflow generates run ids, so the run
is inserted with the job's name as its id, as the service's run history does."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import TYPE_CHECKING

from rjobs.results.mlflow_store import SQLITE_PREFIX, seed_local_store
from rjobs.testing.fake_azureml.lifecycle import artifact_dir

if TYPE_CHECKING:
    from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore

RUN_STATUS = {"Completed": "FINISHED", "Failed": "FAILED", "Canceled": "KILLED"}
"""Azure ML's terminal job states as MLflow run statuses (a job not yet started is SCHEDULED)."""


class JobRuns:
    """One MLflow run per job in a sqlite store; `tracking_uri` is what the workspace reports as its MLflow."""

    def __init__(self, path: Path, store: Path) -> None:
        self.tracking_uri = SQLITE_PREFIX + Path(path).resolve().as_posix()
        self.service_store = Path(store)
        self._store: SqlAlchemyStore | None = None
        self._lock = threading.Lock()

    def store(self) -> SqlAlchemyStore:
        from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore

        if self._store is None:
            seed_local_store(self.tracking_uri)
            self._store = SqlAlchemyStore(self.tracking_uri, (self.service_store / "mlflow-artifacts").as_uri())
        return self._store

    def start(self, name: str, experiment: str, created_s: float) -> None:
        """The job's run, SCHEDULED, in its experiment; a job created again (same name) keeps its run."""
        from mlflow.store.tracking.dbmodels.models import SqlRun, SqlTag

        with self._lock:
            store = self.store()
            found = store.get_experiment_by_name(experiment)
            experiment_id = found.experiment_id if found is not None else store.create_experiment(experiment)
            with store.ManagedSessionMaker(read_only=False) as session:
                if session.get(SqlRun, name) is not None:
                    return
                run = SqlRun(
                    run_uuid=name,
                    name=name,
                    experiment_id=int(experiment_id),
                    user_id="fake",
                    status="SCHEDULED",
                    start_time=int(created_s * 1000),
                    lifecycle_stage="active",
                    artifact_uri=artifact_dir(self.service_store, name).as_uri(),
                    source_type="JOB",
                    source_name="",
                    entry_point_name="",
                    source_version="",
                )
                run.tags = [SqlTag(key="mlflow.runName", value=name)]
                session.add(run)

    def finish(self, name: str, outcome: str, ended_s: float) -> None:
        """The run's status once the job is Completed, Failed or Canceled (a run deleted meanwhile stays deleted)."""
        from mlflow.entities import RunStatus

        status = RUN_STATUS.get(outcome)
        if status is None:
            return
        with self._lock:
            store = self.store()
            if store.get_run(name).info.lifecycle_stage == "active":
                store.update_run_info(name, RunStatus.from_string(status), int(ended_s * 1000), None)

    def delete(self, name: str) -> None:
        """A test control: the job's run deleted from the workspace's MLflow, as a user can."""
        with self._lock:
            self.store().delete_run(name)
