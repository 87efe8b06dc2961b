"""Azure ML's parallel-job YAML (`type: parallel`) read strictly: every key the platform documents is either used
or refused by name, and each mini-batch becomes a command job the existing engine already knows how to run."""

from __future__ import annotations

import re
import shlex
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rjobs.core.errors import InputError
from rjobs.core.values import value_text
from rjobs.inputs.spec import InputSpec, JobSpec, job_spec_from_raw
from rjobs.inputs.yaml_source import read_yaml_file

MINI_BATCH_INPUT = "mini_batch"
PARTITION_INPUT = "partition_{}"
BATCH_INPUTS = frozenset({MINI_BATCH_INPUT})
"""Inputs each batch binds itself: staged per batch, never with the job's shared inputs."""
OUTPUT_DIR = "outputs"
"""The batch's --output: the job's ./outputs, which both backends collect."""
DEFAULT_MAX_RETRIES = 3
DEFAULT_TIMEOUT_S = 30.0
TOP_KEYS = frozenset(
    {
        "$schema",
        "type",
        "name",
        "display_name",
        "experiment_name",
        "description",
        "tags",
        "compute",
        "inputs",
        "outputs",
        "input_data",
        "mini_batch_size",
        "partition_keys",
        "resources",
        "max_concurrency_per_instance",
        "mini_batch_error_threshold",
        "error_threshold",
        "retry_settings",
        "environment_variables",
        "task",
    }
)
UNSUPPORTED_TOP = {
    "logging_level": "remove it: R's own output is the job's log",
    "identity": "remove it: jobs run with the workspace's default identity",
    "is_deterministic": "remove it: batches are content-addressed and always reused when unchanged",
    "settings": "remove it: parallel jobs here run outside pipelines",
}
TASK_KEYS = frozenset({"type", "code", "entry_script", "program_arguments", "environment", "append_row_to"})
RESOURCE_KEYS = frozenset({"instance_count", "instance_type"})
RETRY_KEYS = frozenset({"max_retries", "timeout"})
INPUT_REF = re.compile(r"^\$\{\{\s*inputs\.([A-Za-z_][A-Za-z0-9_]*)\s*\}\}$")
OUTPUT_REF = re.compile(r"^\$\{\{\s*outputs\.([A-Za-z_][A-Za-z0-9_]*)\s*\}\}$")


@dataclass(frozen=True)
class ParallelJob:
    """A parallel job as the user wrote it, and the command job each of its mini-batches runs as."""

    source: Path
    data: InputSpec
    batch_spec: JobSpec
    mini_batch_size: int | None
    partition_keys: tuple[str, ...]
    instance_count: int
    max_concurrency_per_instance: int
    mini_batch_error_threshold: int
    error_threshold: int
    max_retries: int
    timeout_s: float
    entry_script: str
    append_row_to: str | None
    raw: Mapping[str, Any]

    @property
    def concurrency(self) -> int:
        """Batches in flight at once, as Azure runs them: instances times processes per instance."""
        return self.instance_count * self.max_concurrency_per_instance

    @property
    def data_path(self) -> Path:
        return self.batch_spec.local_path(self.data)


def _mapping(path: Path, key: str, raw: Any, allowed: frozenset[str]) -> Mapping[str, Any]:
    if raw is None:
        return {}
    if not isinstance(raw, Mapping):
        raise InputError(path, key, f"is a {type(raw).__name__}", f"write {key} as a mapping of {sorted(allowed)}")
    for name in raw:
        if name not in allowed:
            raise InputError(path, f"{key}.{name}", "is not a key rjobs reads here", f"use one of {sorted(allowed)}")
    return raw


def _integer(path: Path, key: str, raw: Any, default: int, minimum: int) -> int:
    if raw is None:
        return default
    text = value_text(raw).strip()
    if not re.fullmatch(r"-?[0-9]+", text) or int(text) < minimum:
        raise InputError(path, key, f"is {text!r}", f"give a whole number of at least {minimum}")
    return int(text)


def _check_top_keys(path: Path, raw: Mapping[str, Any]) -> None:
    for key in raw:
        if key in UNSUPPORTED_TOP:
            raise InputError(path, key, "is not supported by rjobs", UNSUPPORTED_TOP[key])
        if key not in TOP_KEYS:
            raise InputError(path, key, "is not a parallel-job key", "check the spelling against Azure ML's schema")


def _mini_batch_size(path: Path, raw: Mapping[str, Any], partitioned: bool) -> int | None:
    given = raw.get("mini_batch_size")
    if partitioned:
        if given is not None:
            raise InputError(path, "mini_batch_size", "is set with partition_keys", "keep one: a partition is a batch")
        return None
    if given is None:
        raise InputError(path, "mini_batch_size", "is missing", 'give files (folder) or rows (table) per batch, "10"')
    text = value_text(given).strip()
    if re.fullmatch(r"[0-9]+\s*[kKmMgG][bB]", text):
        raise InputError(path, "mini_batch_size", f"is {text!r} (a size in bytes)", "give a count of files or rows")
    return _integer(path, "mini_batch_size", given, 1, 1)


def _partition_keys(path: Path, raw: Any) -> tuple[str, ...]:
    if raw is None:
        return ()
    if not isinstance(raw, list) or not raw or not all(isinstance(k, str) and k for k in raw):
        raise InputError(path, "partition_keys", "is not a list of column names", "write e.g. partition_keys: [island]")
    return tuple(raw)


def _command(path: Path, task: Mapping[str, Any], partitions: int) -> tuple[str, str]:
    """The R contract: Rscript <entry_script> <program_arguments> --mini_batch <path> --output <dir>."""
    entry = task.get("entry_script")
    if not isinstance(entry, str) or not entry.strip():
        raise InputError(path, "task.entry_script", "is missing", "name the R script in task.code, e.g. score.R")
    arguments = value_text(task.get("program_arguments") or "").strip()
    try:
        shlex.split(arguments)
    except ValueError as exc:
        raise InputError(path, "task.program_arguments", f"cannot be split ({exc})", "balance the quotes") from None
    parts = ["Rscript", shlex.quote(entry.strip()), arguments, f"--mini_batch ${{{{inputs.{MINI_BATCH_INPUT}}}}}"]
    parts += [f"--partition ${{{{inputs.{PARTITION_INPUT.format(i)}}}}}" for i in range(1, partitions + 1)]
    parts.append(f"--output {OUTPUT_DIR}")
    return entry.strip(), " ".join(part for part in parts if part)


def _data_input(path: Path, raw: Mapping[str, Any]) -> str:
    ref = raw.get("input_data")
    match = INPUT_REF.match(value_text(ref).strip()) if isinstance(ref, str) else None
    inputs = raw.get("inputs") or {}
    if match is None or not isinstance(inputs, Mapping) or match.group(1) not in inputs:
        raise InputError(path, "input_data", f"is {ref!r}", "point it at a data input: input_data: ${{inputs.data}}")
    kind = (inputs[match.group(1)] or {}).get("type") if isinstance(inputs[match.group(1)], Mapping) else None
    if kind not in ("uri_folder", "uri_file"):
        raise InputError(
            path, f"inputs.{match.group(1)}.type", f"is {kind!r}", "a parallel job splits a uri_folder or a uri_file"
        )
    return match.group(1)


def _append_output(path: Path, task: Mapping[str, Any], outputs: Any) -> str | None:
    ref = task.get("append_row_to")
    if ref is None:
        return None
    match = OUTPUT_REF.match(value_text(ref).strip())
    if match is None or not isinstance(outputs, Mapping) or match.group(1) not in outputs:
        raise InputError(path, "task.append_row_to", f"is {ref!r}", "name an output: ${{outputs.predictions}}")
    return match.group(1)


def parse_parallel_job(path: Path, raw: Mapping[str, Any]) -> ParallelJob:
    """Check every key, then derive the per-batch command job; InputError (exit 2) names the key and the fix."""
    _check_top_keys(path, raw)
    task = _mapping(path, "task", raw.get("task"), TASK_KEYS)
    if value_text(task.get("type", "run_function")) != "run_function":
        raise InputError(path, "task.type", f"is {task.get('type')!r}", "parallel tasks are type: run_function")
    resources = _mapping(path, "resources", raw.get("resources"), RESOURCE_KEYS)
    retry = _mapping(path, "retry_settings", raw.get("retry_settings"), RETRY_KEYS)
    data_name = _data_input(path, raw)
    keys = _partition_keys(path, raw.get("partition_keys"))
    entry, command = _command(path, task, len(keys))
    inputs = dict(raw.get("inputs") or {})
    for reserved in [MINI_BATCH_INPUT, *(PARTITION_INPUT.format(i) for i in range(1, len(keys) + 1))]:
        if reserved in inputs:
            raise InputError(path, f"inputs.{reserved}", "is a name rjobs gives each batch", "rename the input")
    referenced = set(re.findall(r"inputs\.([A-Za-z_][A-Za-z0-9_]*)", command))
    batch_inputs = {name: value for name, value in inputs.items() if name in referenced}
    batch_inputs[MINI_BATCH_INPUT] = {"type": "uri_file", "path": inputs[data_name]["path"]}
    batch_inputs.update({PARTITION_INPUT.format(i): "-" for i in range(1, len(keys) + 1)})
    command_raw = {
        "type": "command",
        "command": command,
        "code": task.get("code"),
        "environment": task.get("environment"),
        "inputs": batch_inputs,
        **{k: raw[k] for k in ("compute", "display_name", "experiment_name", "description", "tags") if k in raw},
        **({"environment_variables": raw["environment_variables"]} if "environment_variables" in raw else {}),
    }
    batch_spec = job_spec_from_raw(path, command_raw)
    timeout = value_text(retry.get("timeout", DEFAULT_TIMEOUT_S)).strip()
    if not re.fullmatch(r"[0-9]+(\.[0-9]*)?", timeout) or float(timeout) <= 0:
        raise InputError(path, "retry_settings.timeout", f"is {timeout!r}", "give seconds per batch, e.g. 600")
    data = job_spec_from_raw(path, {"command": "R", "inputs": {data_name: inputs[data_name]}}).inputs[data_name]
    return ParallelJob(
        source=path,
        data=data,
        batch_spec=batch_spec,
        mini_batch_size=_mini_batch_size(path, raw, bool(keys)),
        partition_keys=keys,
        instance_count=_integer(path, "resources.instance_count", resources.get("instance_count"), 1, 1),
        max_concurrency_per_instance=_integer(
            path, "max_concurrency_per_instance", raw.get("max_concurrency_per_instance"), 1, 1
        ),
        mini_batch_error_threshold=_integer(
            path, "mini_batch_error_threshold", raw.get("mini_batch_error_threshold"), -1, -1
        ),
        error_threshold=_integer(path, "error_threshold", raw.get("error_threshold"), -1, -1),
        max_retries=_integer(path, "retry_settings.max_retries", retry.get("max_retries"), DEFAULT_MAX_RETRIES, 0),
        timeout_s=float(timeout),
        entry_script=entry,
        append_row_to=_append_output(path, task, raw.get("outputs")),
        raw=dict(raw),
    )


def is_parallel_job(path: str | Path) -> bool:
    """True when the job file says type: parallel (the CLI's dispatch); unreadable files are left to the reader."""
    try:
        raw = read_yaml_file(Path(path).resolve(), "pass --job with the path of your job YAML")
    except InputError:
        return False
    return isinstance(raw, Mapping) and raw.get("type") == "parallel"


def load_parallel_job(path: str | Path) -> ParallelJob:
    """Read a parallel-job YAML (see parse_parallel_job)."""
    path = Path(path).resolve()
    raw = read_yaml_file(path, "pass --job with the path of your parallel-job YAML")
    if not isinstance(raw, Mapping) or raw.get("type") != "parallel":
        raise InputError(path, "type", "is not parallel", "set type: parallel")
    return parse_parallel_job(path, raw)
