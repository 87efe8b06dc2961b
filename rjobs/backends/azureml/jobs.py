"""One cell as an azure-ai-ml command job: built once here for submission and for --emit-yaml alike."""

from __future__ import annotations

import json
import os
import re
import shlex
from collections.abc import Mapping, Sequence
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from rjobs.backends.base import CellJob
from rjobs.core.errors import InputError
from rjobs.core.values import typed_value, value_text
from rjobs.inputs.command import render_shell_command
from rjobs.inputs.grid import canonical_params
from rjobs.inputs.spec import JobSpec, Scalar

if TYPE_CHECKING:
    from azure.ai.ml.entities import Command

RUN_PROPERTY = "rjobs_run"
"""Job property holding the run name: jobs.list can filter on properties (name=value), so a poll is one call."""

JOB_SCHEMA = "https://azuremlschemas.azureedge.net/latest/commandJob.schema.json"
SDK_ONLY_KEYS = ("resources", "limits", "queue_settings", "identity", "distribution", "services")
R_PACKAGE = re.compile(r"^[A-Za-z][A-Za-z0-9.]*$")


def literal_values(job: CellJob) -> dict[str, str]:
    """The text each literal input reaches R as; Azure would re-substitute `${{...}}`, so such values are refused."""
    values = {}
    for name, spec_input in job.inputs.items():
        if not spec_input.is_literal:
            continue
        assert spec_input.value is not None
        text = value_text(spec_input.value)
        if "${{" in text:
            raise InputError(
                job.spec.source,
                f"inputs.{name}",
                f"value {text!r} of cell {job.cell_id} contains '${{{{', which Azure ML would substitute",
                "remove '${{' from the value",
            )
        values[name] = text
    return values


def _studio_literal(value: Scalar) -> Scalar:
    """The text R receives, typed as a number only where the number prints as that very text (16, 0.5), so the
    studio and an emitted YAML show the real value: never 8 for `010` nor 1e-07 for `1e-7`."""
    return typed_value(value_text(value))


@lru_cache(maxsize=16)
def _sdk_settings(source: str, mtime_ns: int) -> dict[str, Any]:
    """Settings only azure-ai-ml understands fully (resources, limits, ...), read by its own loader, once."""
    del mtime_ns
    from azure.ai.ml import load_job

    try:
        loaded = load_job(source)
    except Exception as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise InputError(source, None, f"azure-ai-ml cannot load it ({first})", "fix the job YAML") from None
    return {key: getattr(loaded, key, None) for key in SDK_ONLY_KEYS}


def apply_sdk_settings(entity: Command, spec: JobSpec) -> None:
    if not any(key in spec.raw for key in SDK_ONLY_KEYS):
        return
    settings = _sdk_settings(str(spec.source), spec.source.stat().st_mtime_ns)
    for key in SDK_ONLY_KEYS:
        if key in spec.raw and settings.get(key) is not None:
            setattr(entity, key, settings[key])


def job_tags(job: CellJob) -> dict[str, str]:
    """The user's tags, then run, cell, attempt and each param: what the studio filters and `cancel --run` use."""
    tags = {str(k): str(v) for k, v in job.spec.tags.items()}
    tags.update({str(k): str(v) for k, v in job.tags.items()})
    tags.setdefault("rjobs.run", job.run)
    tags.setdefault("rjobs.cell", job.cell_id)
    tags.setdefault("rjobs.attempt", str(job.attempt))
    for key, value in job.params.items():
        tags.setdefault(f"param.{key}", value_text(value))
    return tags


def build_command_job(job: CellJob, environment: str, code: str | None) -> Command:
    """The cell's command job: literal values baked into the command (shell-quoted) and kept as inputs.

    `code` is a registered code asset's id; None uploads the spec's code folder with this job (emit-yaml).
    """
    from azure.ai.ml import Input, Output, command

    spec = job.spec
    shell_command = render_shell_command(spec, literal_values(job))
    inputs: dict[str, Any] = {}
    for name, spec_input in job.inputs.items():
        if spec_input.is_literal:
            assert spec_input.value is not None
            inputs[name] = _studio_literal(spec_input.value)
            continue
        path = str(spec.local_path(spec_input)) if spec_input.is_local else spec_input.path
        options = {"mode": spec_input.mode} if spec_input.mode else {}
        inputs[name] = Input(type=spec_input.type, path=path, **options)
    outputs = {
        name: Output(type=out.type, **{k: v for k, v in (("mode", out.mode), ("path", out.path)) if v})
        for name, out in spec.outputs.items()
    }
    raw_properties = spec.raw.get("properties")
    properties = {str(k): str(v) for k, v in raw_properties.items()} if isinstance(raw_properties, Mapping) else {}
    properties[RUN_PROPERTY] = job.run
    attempt = f" r{job.attempt}" if job.attempt > 1 else ""
    description = spec.description or f"rjobs run {job.run}, cell {job.cell_id}: {canonical_params(job.params)}"
    entity = command(
        name=job.job_name,
        command=shell_command,
        code=code if code is not None else (str(spec.code) if spec.code else None),
        inputs=inputs,
        outputs=outputs,
        environment=environment,
        compute=spec.compute,
        experiment_name=spec.experiment,
        display_name=f"{spec.display_name or job.run} {job.cell_id}{attempt}",
        description=description,
        environment_variables=dict(spec.environment_variables),
        tags=job_tags(job),
        properties=properties,
    )
    apply_sdk_settings(entity, spec)
    return entity


def smoke_expression(packages: Sequence[str]) -> str:
    """R that loads every package and exits 1 naming the missing ones: one job proves the environment."""
    names = ", ".join(json.dumps(p) for p in packages)
    return (
        f"pkgs <- c({names}); "
        "ok <- vapply(pkgs, requireNamespace, logical(1), quietly = TRUE); "
        'cat(R.version.string, "\\n"); '
        'if (!all(ok)) { cat("missing R packages:", pkgs[!ok], "\\n"); quit(status = 1) }; '
        'cat("rjobs: environment OK,", length(pkgs), "packages load\\n")'
    )


def build_smoke_job(
    name: str, spec: JobSpec, environment: str, packages: Sequence[str], tags: Mapping[str, str] | None = None
) -> Command:
    """A tiny command job on the cells' environment, compute, environment variables and SDK settings (resources,
    identity, queue settings), so it fails where the cells would: a broken image costs one job, not N."""
    from azure.ai.ml import command

    bad = [p for p in packages if not R_PACKAGE.match(p)]
    if bad:
        raise ValueError(f"not R package names: {bad}")
    entity = command(
        name=name,
        command=f"Rscript -e {shlex.quote(smoke_expression(packages))}",
        environment=environment,
        compute=spec.compute,
        experiment_name=spec.experiment,
        display_name="rjobs environment check",
        description=f"Loads {len(packages)} R packages in {environment} before a sweep fans out",
        environment_variables=dict(spec.environment_variables),
        tags={"rjobs.kind": "environment-check", **(tags or {})},
    )
    apply_sdk_settings(entity, spec)  # resources, identity, queue settings: what the cells will run with
    return entity


def _plain(value: Any) -> Any:
    """OrderedDicts and friends as plain JSON types, so yaml.safe_dump writes clean YAML."""
    return json.loads(json.dumps(value, default=str))


def _relative(path: Path, folder: Path) -> str:
    """Relative to the YAML's folder, as `az ml job create -f` resolves it; absolute across drives."""
    try:
        return Path(os.path.relpath(path, folder)).as_posix()
    except ValueError:
        return path.as_posix()


def emit_job_yaml(job: CellJob, environment: str, code: str | None, path: Path) -> Path:
    """Write the cell as a command-job YAML that `az ml job create -f` and azure-ai-ml's load_job accept."""
    path = Path(path)
    entity = build_command_job(job, environment, code)
    data: dict[str, Any] = {"$schema": JOB_SCHEMA, **_plain(entity._to_job()._to_dict())}
    folder = path.resolve().parent
    if code is None and job.spec.code is not None:
        data["code"] = _relative(job.spec.code, folder)
    for name, spec_input in job.inputs.items():
        if spec_input.is_local and isinstance(data.get("inputs", {}).get(name), dict):
            data["inputs"][name]["path"] = _relative(job.spec.local_path(spec_input), folder)
    for key in ("parameters", "outputs", "properties"):
        if not data.get(key):
            data.pop(key, None)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=1000), encoding="utf-8")
    return path
