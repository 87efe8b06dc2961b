"""The results tests' MLflow store, shared: registering a model to serve needs one."""

from tests.results.conftest import mlflow_store  # noqa: F401  (a fixture, used by name)
