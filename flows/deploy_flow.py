"""The `deploy` flow: the same release as `python -m flows.deploy`, as a Prefect flow run (a deployment in
prefect.yaml, the UI). With backend azureml it builds the image and releases it blue-green; with local it writes the
build context and serves until the flow run is cancelled (Prefect's cancel stops R with the process)."""

from __future__ import annotations

from prefect import flow, get_run_logger

from flows.deploy import EXIT_OK, main


@flow(name="deploy", log_prints=True)
def deploy(
    endpoint: str,
    model: str | None = None,
    run: str | None = None,
    select: str = "rmse:min",
    backend: str = "azureml",
    results: str = "results",
    auth_mode: str = "key",
    instance_type: str | None = None,
    smoke_data: str = "data/penguins.csv",
    context_only: bool = False,
) -> int:
    """Serve a registered model (model NAME[:VERSION]) or a sweep's best cell (run + select) at the endpoint."""
    if (model is None) == (run is None):
        raise ValueError("give exactly one of model (NAME[:VERSION]) or run")
    argv = ["--endpoint", endpoint, "--backend", backend, "--results", results, "--select", select]
    argv += ["--model", model] if model is not None else ["--run", str(run)]
    argv += ["--auth-mode", auth_mode, "--smoke-data", smoke_data]
    argv += ["--instance-type", instance_type] if instance_type else []
    argv += ["--context-only"] if context_only else []
    code = main(argv)
    if code != EXIT_OK:
        raise RuntimeError(f"python -m flows.deploy {' '.join(argv)} exited {code} (its error is in this run's log)")
    get_run_logger().info("deploy of %s finished", endpoint)
    return code
