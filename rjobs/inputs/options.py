"""Sweep options as one typed model: the CLI flags and the Prefect UI form are both generated from it."""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, Field, ValidationError

from rjobs.core.errors import InputError
from rjobs.core.hashing import content_hash, hash_tree
from rjobs.core.naming import check_run_name, slug
from rjobs.core.snapshot import code_snapshot, snapshot_hash
from rjobs.core.values import typed_value
from rjobs.inputs.command import entry_script
from rjobs.inputs.grid import DEFAULT_MAX_CELLS, MAX_CELLS_CEILING, Cell, build_cells, canonical_params
from rjobs.inputs.result_options import Objective, check_result_options, parse_objective
from rjobs.inputs.service_names import check_sent_names
from rjobs.inputs.spec import JobSpec, check_local_files, load_job_spec
from rjobs.inputs.yaml_source import read_yaml_file

BACKENDS = ("local", "azureml")


class SweepOptions(BaseModel):
    """What a user chooses for one sweep; defaults run the demo."""

    job: str = Field("job.yml", description="Azure ML command-job YAML of the R job")
    environment: str | None = Field(
        None,
        description="Azure ML environment YAML (build: docker-context); default: environment-job.yml beside the job",
    )
    grid: str | None = Field(
        None, description="grid YAML (key -> list, or a list of cells); default: grid.yml beside the job"
    )
    grid_values: dict[str, list[Any]] | list[dict[str, Any]] | None = Field(
        None, description="the grid as an object (overrides the grid file), e.g. {seed: [1, 2]}"
    )
    param: list[str] = Field(default_factory=list, description="extra axes as key=v1,v2 (repeatable)")
    backend: Literal["local", "azureml"] = Field("local", description="where the jobs run")
    max_concurrent: int = Field(default_factory=lambda: os.cpu_count() or 2, ge=1, description="jobs in flight at once")
    pack: int | None = Field(
        None, ge=1, description="run the grid's cells in this many packed jobs, not one job per cell"
    )
    pack_processes: int = Field(2, ge=1, description="Rscript processes at a time in each packed job (with --pack)")
    run_name: str | None = Field(None, description="run name; default derived from job, code, data and grid content")
    results: str = Field("results", description="folder for results/<run>/")
    retries: int = Field(1, ge=0, description="extra attempts for a failed cell")
    timeout: float | None = Field(None, gt=0, description="seconds a job may run before it is cancelled")
    poll_interval: float | None = Field(None, gt=0, description="seconds between status polls (backend default)")
    max_cells: int = Field(
        DEFAULT_MAX_CELLS, ge=1, le=MAX_CELLS_CEILING, description="refuse grids with more cells than this"
    )
    rscript: str = Field("Rscript", description="Rscript executable for the local backend")
    pass_env: list[str] = Field(
        default_factory=list,
        description="environment variable a local job may see besides job.yml's and R's own (repeatable)",
    )
    global_limit: str | None = Field(
        None, description="Prefect global concurrency limit shared by all sweeps (cluster quota); created if missing"
    )
    global_limit_size: int = Field(4, ge=1, description="slots of --global-limit when it has to be created")
    upload_to: str | None = Field(
        None, description="container[/prefix] in Blob Storage: local data inputs are uploaded there first"
    )
    data_account_url: str | None = Field(
        None, description="storage account URL for --upload-to (default: AZURE_STORAGE_CONNECTION_STRING)"
    )
    datastore: str | None = Field(None, description="Azure ML datastore of that container: inputs become azureml://")
    workspace_config: str | None = Field(
        None, description="Azure ML config.json (default: found upward from here, else AZURE_* variables)"
    )
    emit_yaml: str | None = Field(None, description="write one command-job YAML per cell into this folder; run nothing")
    select: str | None = Field(
        None, description="METRIC:min or METRIC:max: pick the best completed cell and plot the metric, e.g. rmse:min"
    )
    register_model: str | None = Field(
        None, description="register the best cell's model under this name (needs --select)"
    )
    model_path: str = Field("outputs/model.rds", description="the model file inside a cell, for --register-model")
    no_mlflow: bool = Field(False, description="do not log the sweep to MLflow (parent run + a child run per cell)")
    tracking_uri: str | None = Field(
        None, description="MLflow tracking URI (default: sqlite:///<results>/mlflow.db; the workspace's on azureml)"
    )
    dry_run: bool = Field(False, description="validate and print the plan; run nothing")


@dataclass(frozen=True)
class ResolvedSweep:
    """Validated inputs of a sweep: everything checked before anything is submitted."""

    options: SweepOptions
    spec: JobSpec
    cells: list[Cell]
    run: str
    environment_file: Path | None
    objective: Objective | None = None
    """--select parsed once, here."""
    content: str = ""
    """Hash of what every cell's result depends on besides its parameters (backend, job, code, data, environment):
    a finished cell of any sweep with the same content and parameters is reused."""

    @property
    def results_root(self) -> Path:
        return Path(self.options.results)


def content_parts(
    spec: JobSpec,
    environment_file: Path | None,
    results: Path | None = None,
    *,
    source: Any = None,
    skip_inputs: tuple[str, ...] = (),
) -> list[str]:
    """What a job's result depends on besides its parameters: the job, its code, its data and its environment. The
    code counts as its snapshot (core.snapshot): results inside the code folder, .git, .venv and ignored files
    change nothing. A parallel job passes its own file as `source` and skips the input its batches fill."""
    tree = _typed(spec.raw) if source is None else source
    parts = [json.dumps(tree, sort_keys=True, separators=(",", ":"), ensure_ascii=False)]
    if spec.code is not None and spec.code.is_dir():
        snapshot = code_snapshot(spec.code, exclude=[results] if results is not None else [])
        snapshot.warn()
        parts.append(snapshot_hash(snapshot))
    for name, spec_input in spec.inputs.items():
        if name not in skip_inputs and spec_input.is_local and spec.local_path(spec_input).exists():
            parts.append(hash_tree(spec.local_path(spec_input)))
    if environment_file is not None and environment_file.is_file():
        parts.append(hash_tree(environment_file))
        dockerfile = dockerfile_path(environment_file)
        if dockerfile is not None and dockerfile.parent.is_dir():
            parts.append(hash_tree(dockerfile.parent))
    return parts


def derive_run_name(
    spec: JobSpec,
    cells: list[Cell],
    environment_file: Path | None,
    results: Path | None = None,
    parts: list[str] | None = None,
) -> str:
    """Same job, code, data, environment and grid give the same run name, so a re-run resumes."""
    parts = list(parts if parts is not None else content_parts(spec, environment_file, results))
    parts.extend(sorted(canonical_params(c.params) for c in cells))
    return f"{slug(spec.experiment_name or spec.source.stem)}-{content_hash(parts)}"


def _typed(tree: Any) -> Any:
    """The job file with numbers as numbers (core.values.typed_value), so the run name hashes an unchanged job.yml
    as earlier releases did and their results folders still resume."""
    if isinstance(tree, dict):
        return {key: _typed(value) for key, value in tree.items()}
    if isinstance(tree, list):
        return [_typed(item) for item in tree]
    return typed_value(tree) if isinstance(tree, str) else tree


def _beside(spec: JobSpec, name: str) -> Path | None:
    """The conventional file next to the job YAML, when the user has one."""
    path = spec.base_dir / name
    return path if path.is_file() else None


def resolve(options: SweepOptions) -> ResolvedSweep:
    """Load and check job, grid and names; every problem is an InputError before anything runs."""
    if options.backend not in BACKENDS:
        raise InputError("--backend", options.backend, "is not a backend", f"choose one of {', '.join(BACKENDS)}")
    check_results_folder(options.results)
    check_pack(options)
    spec = load_job_spec(options.job)
    check_local_files(spec, entry_script(spec))
    check_results_outside_code(options.results, spec)
    grid_file = options.grid or _beside(spec, "grid.yml")
    if options.grid_values is not None:
        grid_file = None
    cells = build_cells(
        spec, grid=options.grid_values, grid_file=grid_file, params=options.param, max_cells=options.max_cells
    )
    environment_file = Path(options.environment) if options.environment else _beside(spec, "environment-job.yml")
    if environment_file is not None and not environment_file.is_file():
        raise InputError(environment_file, None, "file not found", "pass --environment with your environment YAML")
    check_sent_names(spec, environment_file)
    if options.data_account_url and "sig=" in urlsplit(options.data_account_url).query:
        raise InputError(
            "--data-account-url",
            None,
            "carries a SAS token, which Prefect would store with the flow run's parameters and show in its UI",
            "give the account URL without its '?...' query and put the SAS token in AZURE_STORAGE_SAS_TOKEN",
        )
    check_result_options(options.select, options.register_model, options.model_path, "--register-model")
    parts = content_parts(spec, environment_file, Path(options.results))
    run = (
        check_run_name(options.run_name)
        if options.run_name
        else derive_run_name(spec, cells, environment_file, parts=parts)
    )
    objective = parse_objective(options.select) if options.select else None
    return ResolvedSweep(
        options=options,
        spec=spec,
        cells=cells,
        run=run,
        environment_file=environment_file,
        objective=objective,
        content=content_hash([options.backend, *parts], length=16),
    )


def check_pack(options: SweepOptions, job_type: str = "command") -> None:
    """--pack packs a command job's grid cells and a parallel job's batches; elsewhere it is refused before anything
    runs."""
    if options.pack is None:
        return
    if job_type not in ("command", "parallel"):
        raise InputError(
            "--pack",
            str(options.pack),
            f"packs the cells of a grid sweep or a parallel job's batches; a type: {job_type} job is not packed yet",
            "drop --pack",
        )
    if options.global_limit:
        raise InputError(
            "--global-limit",
            options.global_limit,
            "caps jobs in flight across sweeps, and packed jobs do not take its slots yet",
            "drop --global-limit or --pack",
        )


def check_results_folder(results: str) -> None:
    """--results must be a folder this process can create and write: found here, not after Prefect started."""
    path = Path(results).absolute()
    existing = path
    while not existing.exists() and existing.parent != existing:
        existing = existing.parent
    fix = "give --results a folder you can write to (it is created if missing)"
    if not existing.is_dir():
        where = "is a file" if existing == path else f"is inside {existing}, which is a file"
        raise InputError("--results", results, f"{where}, not a folder", fix)
    try:
        with tempfile.TemporaryFile(dir=existing):
            pass
    except OSError as exc:
        raise InputError("--results", results, f"cannot be written ({existing}: {exc.strerror})", fix) from None


def check_results_outside_code(results: str, spec: JobSpec) -> None:
    """Results may lie inside the code folder (the snapshot leaves them out) but not be it or hold it: then the
    code itself would count as results and every job would get an empty code folder."""
    if spec.code is None:
        return
    code, folder = spec.code.resolve(), Path(results).resolve()
    if code == folder or folder in code.parents:
        raise InputError(
            "--results",
            results,
            f"is or holds the job's code folder {spec.code}",
            "give results a folder of its own, e.g. --results results",
        )


def dockerfile_path(environment_file: Path | None) -> Path | None:
    """The Dockerfile an environment YAML builds from (build.path + build.dockerfile_path)."""
    if environment_file is None:
        return None
    raw = read_yaml_file(environment_file, "pass --environment with your environment YAML") or {}
    build = raw.get("build") if isinstance(raw, dict) else None
    if not isinstance(build, dict) or not build.get("path"):
        return None
    context = (environment_file.parent / str(build["path"])).resolve()
    return context / str(build.get("dockerfile_path") or "Dockerfile")


BOUNDS = {
    "greater_than_equal": ("must be at least {ge}", ">= {ge}"),
    "greater_than": ("must be more than {gt}", "> {gt}"),
    "less_than_equal": ("must be at most {le}", "<= {le}"),
    "less_than": ("must be less than {lt}", "< {lt}"),
}


def option_error(exc: ValidationError) -> InputError:
    """Pydantic's first complaint about SweepOptions as one line naming the flag, the value and what to pass."""
    error = exc.errors()[0]
    name = str(error["loc"][0]) if error.get("loc") else ""
    flag = "--" + name.replace("_", "-") if name else "options"
    field = SweepOptions.model_fields.get(name)
    kind = "whole number" if field is not None and field.annotation is int else "number"
    got = f" (got {error['input']})" if "input" in error and not isinstance(error["input"], dict) else ""
    context = {k: int(v) if isinstance(v, float) and v.is_integer() else v for k, v in (error.get("ctx") or {}).items()}
    if error["type"] in BOUNDS:
        problem, bound = BOUNDS[error["type"]]
        return InputError(flag, None, problem.format(**context) + got, f"pass a {kind} {bound.format(**context)}")
    if error["type"] in ("int_parsing", "int_from_float", "float_parsing", "int_type", "float_type"):
        return InputError(flag, None, f"must be a {kind}{got}", f"pass a {kind}, e.g. {flag} 4")
    message = str(error.get("msg", "is not valid")).rstrip(".")
    return InputError(flag, None, f"{message[:1].lower()}{message[1:]}{got}", "see --help for what it takes")
