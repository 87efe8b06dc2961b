"""Every name a sweep will send to Azure ML that the user wrote (experiment, environment, model, run), checked against
the service's rules (rjobs.core.azure_names) when the sweep is resolved, so a bad one exits 2 before any request."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from rjobs.core.azure_names import check_name
from rjobs.inputs.spec import JobSpec
from rjobs.inputs.yaml_source import read_yaml_file


def check_environment_file(path: Path) -> None:
    """The environment YAML's `name` becomes an environment asset's name."""
    raw = read_yaml_file(path, "pass --environment with your environment YAML")
    if isinstance(raw, Mapping) and raw.get("name") is not None:
        check_name("environment", str(raw["name"]), path, "name")


def check_environment_reference(spec: JobSpec) -> None:
    """`environment: azureml:<name>:<version>` or `azureml:<name>@<label>` names an environment asset."""
    raw = spec.environment
    if isinstance(raw, str) and raw.startswith("azureml:") and not raw.startswith("azureml://"):
        name = raw[len("azureml:") :].split("@", 1)[0].split(":", 1)[0]
        check_name("environment", name, spec.source, "environment")


def check_sent_names(spec: JobSpec, environment_file: Path | None) -> None:
    """The job file's experiment_name and environment, and the environment YAML's name (run and model names are
    checked where their flags are read: rjobs.core.naming, rjobs.inputs.result_options)."""
    if spec.experiment_name is not None:
        check_name("experiment", spec.experiment_name, spec.source, "experiment_name")
    if environment_file is not None:
        check_environment_file(environment_file)
    else:
        check_environment_reference(spec)
