"""From options to a ready sweep: the backend built with its clients, resolved and checked once per invocation.

Construction lives here so flows never import an SDK they don't use, and so the CLI and the flow share one
resolution (and one backend, whose environment check is then made once) instead of recomputing it.
"""

from __future__ import annotations

from dataclasses import dataclass

from rjobs.backends.base import Backend
from rjobs.core.errors import InputError
from rjobs.engine.monitor import JobMonitor, Transition
from rjobs.inputs.options import ResolvedSweep, SweepOptions, dockerfile_path, resolve

DEFAULT_POLL_INTERVAL = {"local": 0.05, "azureml": 15.0}  # a local poll is a stat per job; Azure's is a request
QUIET_GROWTH = {"local": 1.0, "azureml": 1.25}  # the pause grows by this while polls find no job ended, to 60 s


def make_monitor(backend: Backend, interval: float, on_transition: Transition | None = None) -> JobMonitor:
    """The monitor with the backend's cadence: on Azure ML, where a poll is a paid request, quiet polls space out."""
    return JobMonitor(
        backend, interval=interval, quiet_growth=QUIET_GROWTH.get(backend.name, 1.0), on_transition=on_transition
    )


@dataclass(frozen=True)
class PreparedSweep:
    """A resolved sweep and the backend it runs on: what the CLI hands the flow."""

    resolved: ResolvedSweep
    backend: Backend

    @property
    def poll_interval(self) -> float:
        return self.resolved.options.poll_interval or DEFAULT_POLL_INTERVAL[self.backend.name]


def prepare(options: SweepOptions) -> PreparedSweep:
    """Resolve the options (every input error raised here) and build their backend."""
    resolved = resolve(options)
    return PreparedSweep(resolved, make_backend(resolved))


def backend_by_name(name: str, *, workspace_config: str | None = None, rscript: str = "Rscript") -> Backend:
    """The backend a finished or running sweep used (run.json's name), for commands that act on it afterwards:
    cancel, register. No package check: nothing new runs."""
    if name == "local":
        from rjobs.backends.local.backend import LocalBackend

        return LocalBackend(rscript=rscript, check_packages=False)
    if name == "azureml":
        from rjobs.backends.azureml.backend import AzureMLBackend
        from rjobs.backends.azureml.workspace import make_ml_client

        return AzureMLBackend(make_ml_client(workspace_config))
    raise InputError("--backend", name, "is not a backend", "choose local or azureml")


def make_backend(sweep: ResolvedSweep) -> Backend:
    """The backend the options name, built with its clients; the Azure SDK is imported only when chosen."""
    options = sweep.options
    if options.backend == "local":
        from rjobs.backends.local.backend import LocalBackend

        return LocalBackend(
            rscript=options.rscript,
            dockerfile=dockerfile_path(sweep.environment_file),
            pass_env=options.pass_env,
            results_root=sweep.results_root,
        )
    if options.backend == "azureml":
        from rjobs.backends.azureml.backend import AzureMLBackend
        from rjobs.backends.azureml.workspace import make_ml_client

        if options.pass_env:
            raise InputError(
                "--pass-env",
                ", ".join(options.pass_env),
                "only passes variables to local jobs",
                "on Azure a job sees job.yml's environment_variables: set the variable there",
            )
        if not options.no_mlflow and options.tracking_uri is None:
            from rjobs.results.tracking import require_azureml_mlflow

            require_azureml_mlflow()
        backend = AzureMLBackend(make_ml_client(options.workspace_config), environment_file=sweep.environment_file)
        backend.code.exclude = (sweep.results_root,)  # the code snapshot never uploads the results folder
        return backend
    raise InputError("--backend", options.backend, "is not a backend", "choose local or azureml")
