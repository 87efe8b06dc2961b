"""--emit-yaml for a sweep job: the platform's own sweep-job YAML, for users who want Azure ML to run the sweep,
with what that loses for R said out loud (the objective must then be an MLflow metric logged by R inside the job)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import yaml

from rjobs.core.errors import InputError
from rjobs.core.files import atomic_write_text
from rjobs.core.values import typed_value
from rjobs.search.sweep_file import SweepJob

LOSES = (
    "Azure ML's own sweep reads objective.primary_metric ({metric}) as an MLflow metric the trial logs itself, "
    "which R cannot do reliably on Azure ML (no MLflow R client there without r_src/azureml_utils.R and the mlflow "
    "R package); outputs/metrics.json is not read, so trials may report no metric. Early termination then needs "
    "MLflow step metrics too, and Bayesian sampling takes choice, uniform and quniform only. Run the sweep with "
    "python -m flows.train --job {job} --backend azureml to keep metrics.json as the objective."
)


def _typed(node: Any) -> Any:
    """Source texts back to the YAML types Azure's schema expects (numbers as numbers), texts kept as written."""
    if isinstance(node, dict):
        return {key: _typed(value) for key, value in node.items()}
    if isinstance(node, list):
        return [_typed(item) for item in node]
    return typed_value(node) if isinstance(node, str) else node


def sweep_yaml(job: SweepJob, folder: Path) -> dict[str, Any]:
    """The sweep job as written, with local paths (trial code, data inputs) made relative to the emitted file."""
    raw = _typed(dict(job.raw))
    base = job.spec.base_dir
    trial = dict(raw["trial"])
    if trial.get("code") is not None:
        trial["code"] = os.path.relpath(base / str(job.raw["trial"]["code"]), folder.resolve())
    raw["trial"] = trial
    inputs = dict(raw.get("inputs") or {})
    for name, spec_input in job.spec.inputs.items():
        if name in inputs and spec_input.is_local and isinstance(inputs[name], dict):
            inputs[name] = {**inputs[name], "path": os.path.relpath(job.spec.local_path(spec_input), folder.resolve())}
    if inputs:
        raw["inputs"] = inputs
    return raw


def emit_sweep_yaml(job: SweepJob, folder: Path) -> tuple[Path, str]:
    """Write <folder>/<name>.sweep.yml; returns its path and the sentence on what the platform's sweep loses."""
    if folder.exists() and not folder.is_dir():
        raise InputError("--emit-yaml", str(folder), "is a file, not a folder", "give a folder to write into")
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{job.spec.source.stem}.sweep.yml"
    note = LOSES.format(metric=job.objective.metric, job=job.spec.source)
    header = "".join(f"# {line}\n" for line in ("Emitted by python -m flows.train --emit-yaml.", note))
    atomic_write_text(path, header + yaml.safe_dump(sweep_yaml(job, folder), sort_keys=False, allow_unicode=True))
    return path, note
