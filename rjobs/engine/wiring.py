"""Backends: where cells run. Construction lives here so flows never import an SDK they don't use."""

from __future__ import annotations

from rjobs.backends.base import Backend
from rjobs.core.errors import InputError
from rjobs.inputs.options import ResolvedSweep, dockerfile_path

DEFAULT_POLL_INTERVAL = {"local": 0.05, "azureml": 15.0}  # local: a stat per job; 0.2 s cost 0.1 s per cell


def make_backend(sweep: ResolvedSweep) -> Backend:
    """The backend the options name, built with its clients; the Azure SDK is imported only when chosen."""
    name = sweep.options.backend
    if name == "local":
        from rjobs.backends.local.backend import LocalBackend

        return LocalBackend(rscript=sweep.options.rscript, dockerfile=dockerfile_path(sweep.environment_file))
    if name == "azureml":
        from rjobs.backends.azureml.backend import AzureMLBackend
        from rjobs.backends.azureml.workspace import make_ml_client

        return AzureMLBackend(make_ml_client(sweep.options.workspace_config), environment_file=sweep.environment_file)
    raise InputError("--backend", name, "is not a backend", "choose local or azureml")
