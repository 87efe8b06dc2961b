"""The engine's own model of an Azure ML command-job YAML (job.yml), read without the Azure SDK: every scalar is the
text the user wrote (rjobs.inputs.yaml_source), so a literal input reaches R as written."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from rjobs.core.errors import InputError
from rjobs.core.values import argument_problem, value_text
from rjobs.inputs.yaml_source import read_yaml_file

Scalar = str | int | float | bool
DATA_TYPES = frozenset({"uri_file", "uri_folder", "mltable", "custom_model", "mlflow_model", "triton_model"})
REMOTE_PREFIXES = ("azureml:", "https:", "http:", "abfss:", "wasbs:", "adl:", "s3:", "gs:")
REFERENCE = re.compile(r"\$\{\{\s*(inputs|outputs)\.([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")
DEFAULT_EXPERIMENT = "rjobs"
KNOWN_KEYS = frozenset(
    {
        "$schema",
        "type",
        "command",
        "code",
        "inputs",
        "outputs",
        "environment",
        "compute",
        "display_name",
        "experiment_name",
        "description",
        "tags",
        "environment_variables",
        "name",
        "resources",
        "distribution",
        "limits",
        "identity",
        "services",
        "queue_settings",
        "properties",
    }
)


@dataclass(frozen=True)
class InputSpec:
    """One job input: a literal value (the text R receives), or a data reference (local path or remote URI)."""

    name: str
    type: str
    value: str | None = None
    path: str | None = None
    mode: str | None = None

    @property
    def is_literal(self) -> bool:
        return self.type == "literal"

    @property
    def is_local(self) -> bool:
        """A data input whose path is on this machine (uploaded or mounted by the backend)."""
        return not self.is_literal and self.path is not None and not self.path.startswith(REMOTE_PREFIXES)

    def with_value(self, value: Scalar) -> InputSpec:
        """The same input bound to a cell's value: literal stays literal, a data input gets a new path."""
        if self.is_literal:
            return replace(self, value=value_text(value))
        return replace(self, path=value_text(value))


@dataclass(frozen=True)
class OutputSpec:
    """One named job output (besides the default ./outputs artifacts)."""

    name: str
    type: str = "uri_folder"
    mode: str | None = None
    path: str | None = None


@dataclass(frozen=True)
class JobSpec:
    """A command job as the user wrote it; paths are absolute, resolved against job.yml's folder."""

    source: Path
    command: str
    code: Path | None
    inputs: Mapping[str, InputSpec]
    outputs: Mapping[str, OutputSpec] = field(default_factory=dict)
    environment: str | Mapping[str, Any] | None = None
    compute: str | None = None
    display_name: str | None = None
    experiment_name: str | None = None
    description: str | None = None
    tags: Mapping[str, str] = field(default_factory=dict)
    environment_variables: Mapping[str, str] = field(default_factory=dict)
    extra: Mapping[str, Any] = field(default_factory=dict)
    raw: Mapping[str, Any] = field(default_factory=dict)

    @property
    def experiment(self) -> str:
        """The job's experiment_name, never the SDK's default of the current folder's name."""
        return self.experiment_name or DEFAULT_EXPERIMENT

    @property
    def base_dir(self) -> Path:
        return self.source.parent

    def local_path(self, spec_input: InputSpec) -> Path:
        """The absolute local path of a local data input, resolved as azure-ai-ml resolves it."""
        assert spec_input.path is not None
        return (self.base_dir / spec_input.path).resolve()

    def referenced(self, kind: str = "inputs") -> list[str]:
        """Names the command references as ${{inputs.x}} (or outputs), in order of first use."""
        seen: dict[str, None] = {}
        for match in REFERENCE.finditer(self.command):
            if match.group(1) == kind:
                seen.setdefault(match.group(2), None)
        return list(seen)


def _argument(path: Path, key: str, text: str) -> str:
    """A text that will be one of R's arguments (or environment strings), checked before anything runs."""
    problem = argument_problem(text)
    if problem:
        raise InputError(
            path, key, f"value {text[:40]!r} {problem}", "shorten it, or pass the data as a uri_file input"
        )
    return text


def _parse_input(path: Path, name: str, raw: Any) -> InputSpec:
    key = f"inputs.{name}"
    if raw is None or isinstance(raw, str | int | float | bool):
        if raw is None:
            raise InputError(path, key, "has no value", "give it a literal value or a {type, path} mapping")
        return InputSpec(name=name, type="literal", value=_argument(path, key, value_text(raw)))
    if not isinstance(raw, Mapping):
        raise InputError(path, key, f"is a {type(raw).__name__}", "use a literal value or a {type, path} mapping")
    kind = raw.get("type", "uri_folder")
    if kind not in DATA_TYPES:
        raise InputError(
            path,
            key,
            f"has type {kind!r}",
            f"command jobs take literals as plain values; data types are {sorted(DATA_TYPES)}",
        )
    if not raw.get("path"):
        raise InputError(path, f"{key}.path", "is missing", "give the data's local path or azureml:/https: URI")
    return InputSpec(name=name, type=kind, path=str(raw["path"]), mode=raw.get("mode"))


def _parse_outputs(path: Path, raw: Any) -> dict[str, OutputSpec]:
    if raw is None:
        return {}
    if not isinstance(raw, Mapping):
        raise InputError(path, "outputs", "is not a mapping", "write outputs as name: {type: uri_folder}")
    outputs = {}
    for name, value in raw.items():
        value = value or {}
        if not isinstance(value, Mapping):
            raise InputError(path, f"outputs.{name}", "is not a mapping", "write it as {type: uri_folder}")
        outputs[str(name)] = OutputSpec(
            name=str(name), type=value.get("type", "uri_folder"), mode=value.get("mode"), path=value.get("path")
        )
    return outputs


def _string_map(path: Path, key: str, raw: Any) -> dict[str, str]:
    if raw is None:
        return {}
    if not isinstance(raw, Mapping):
        raise InputError(path, key, "is not a mapping", f"write {key} as name: value pairs")
    return {str(k): _argument(path, f"{key}.{k}", value_text(v)) for k, v in raw.items()}


def load_job_spec(path: str | Path) -> JobSpec:
    """Read job.yml and check what the engine relies on, raising InputError with file, key and fix."""
    path = Path(path).resolve()
    return parse_job_spec(path, read_yaml_file(path, "pass --job with the path of your job YAML"))


def parse_job_spec(path: Path, raw: Any) -> JobSpec:
    """A command job from its YAML source tree (path: where it came from, for messages and relative paths)."""
    if not isinstance(raw, Mapping):
        raise InputError(
            path, None, "is not a YAML mapping", "write the Azure ML command-job schema (command:, code:, inputs:)"
        )
    if raw.get("type", "command") != "command":
        raise InputError(path, "type", f"is {raw['type']!r}", "only command jobs are supported; set type: command")
    command = raw.get("command")
    if not isinstance(command, str) or not command.strip():
        raise InputError(
            path, "command", "is missing or empty", "give the command, e.g. Rscript train.R --seed ${{inputs.seed}}"
        )
    if "\x00" in command:
        raise InputError(path, "command", "contains a NUL byte, which no program argument can carry", "remove it")
    raw_inputs = raw.get("inputs") or {}
    if not isinstance(raw_inputs, Mapping):
        raise InputError(path, "inputs", "is not a mapping", "write inputs as name: value or name: {type, path}")
    inputs = {str(name): _parse_input(path, str(name), value) for name, value in raw_inputs.items()}
    code = None
    if raw.get("code") is not None:
        code = (path.parent / str(raw["code"])).resolve()
    environment = raw.get("environment")
    spec = JobSpec(
        source=path,
        command=command.strip(),
        code=code,
        inputs=inputs,
        outputs=_parse_outputs(path, raw.get("outputs")),
        environment=environment,
        compute=raw.get("compute"),
        display_name=raw.get("display_name"),
        experiment_name=raw.get("experiment_name"),
        description=raw.get("description"),
        tags=_string_map(path, "tags", raw.get("tags")),
        environment_variables=_string_map(path, "environment_variables", raw.get("environment_variables")),
        extra={k: v for k, v in raw.items() if k not in KNOWN_KEYS},
        raw=dict(raw),
    )
    _check_references(spec)
    return spec


def _check_references(spec: JobSpec) -> None:
    for name in spec.referenced("inputs"):
        if name not in spec.inputs:
            raise InputError(
                spec.source,
                "command",
                f"uses ${{{{inputs.{name}}}}} but inputs has no {name!r}",
                f"add {name} under inputs: or fix the name in the command",
            )
    for name in spec.referenced("outputs"):
        if name not in spec.outputs:
            raise InputError(
                spec.source,
                "command",
                f"uses ${{{{outputs.{name}}}}} but outputs has no {name!r}",
                f"add {name} under outputs: or fix the name in the command",
            )


def check_local_files(spec: JobSpec, entry_script: str | None = None) -> None:
    """Fail before anything runs when the code folder, its entry script or a local data path is missing."""
    if spec.code is not None and not spec.code.is_dir():
        raise InputError(
            spec.source, "code", f"folder {spec.code} does not exist", "fix code: to point at your R code folder"
        )
    if entry_script and spec.code is not None and not (spec.code / entry_script).is_file():
        raise InputError(
            spec.source,
            "command",
            f"runs {entry_script} but {spec.code / entry_script} does not exist",
            "fix the script name in the command or add the file to the code folder",
        )
    for spec_input in spec.inputs.values():
        if spec_input.is_local and not spec.local_path(spec_input).exists():
            raise InputError(
                spec.source,
                f"inputs.{spec_input.name}.path",
                f"{spec.local_path(spec_input)} does not exist",
                "fix the path (relative to the job YAML) or use an azureml:/https: URI",
            )
