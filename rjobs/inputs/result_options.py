"""What to do with a sweep's results, checked before it runs: the objective, the model name and the model's path."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Literal

from rjobs.core.azure_names import check_name
from rjobs.core.errors import InputError
from rjobs.core.files import OUTPUTS_DIR

GOALS = ("min", "max")
SPEC = re.compile(r"^\s*(?P<metric>[^:\s][^:]*?)\s*:\s*(?P<goal>[A-Za-z]+)\s*$")
SPEC_FIX = "write METRIC:min or METRIC:max with a metric of metrics.json, e.g. rmse:min or r2:max"


DEFAULT_MODEL_PATH = f"{OUTPUTS_DIR}/model.rds"
MODEL_PATH = re.compile(r"^[A-Za-z0-9_.\-/]+$")


@dataclass(frozen=True)
class Objective:
    """A parsed `metric:min|max`; str() gives the canonical spelling back."""

    metric: str
    goal: Literal["min", "max"]

    def __str__(self) -> str:
        return f"{self.metric}:{self.goal}"

    def better(self, a: float, b: float) -> bool:
        return a < b if self.goal == "min" else a > b


def parse_objective(spec: str | Objective, option: str = "--select") -> Objective:
    """`rmse:min` -> Objective; anything else is an InputError that says how to write it."""
    if isinstance(spec, Objective):
        return spec
    match = SPEC.match(spec) if isinstance(spec, str) else None
    if match is None:
        raise InputError(option, repr(spec), "is not METRIC:min or METRIC:max", SPEC_FIX)
    goal = match["goal"].lower()
    if goal not in GOALS:
        raise InputError(option, repr(spec), f"has goal {match['goal']!r}, not min or max", SPEC_FIX)
    return Objective(match["metric"], goal)  # type: ignore[arg-type]


def check_model_name(name: str, option: str = "--register") -> str:
    """A name both registries accept: Azure ML's model-name rule (rjobs.core.azure_names; no '.'), applied locally
    too so a model registered here registers there."""
    return check_name("model", name, option)


def check_model_path(path: str) -> str:
    """A path inside the cell's outputs folder (the only folder that reaches MLflow and Azure's artifacts)."""
    parts = PurePosixPath(path or "").parts
    if not MODEL_PATH.match(path or "") or len(parts) < 2 or parts[0] != OUTPUTS_DIR or ".." in parts:
        raise InputError(
            "--model-path", repr(path), "is not a file under outputs/", f"give its path like {DEFAULT_MODEL_PATH}"
        )
    return PurePosixPath(path).as_posix()


def check_result_options(
    select: str | None, register: str | None, model_path: str = DEFAULT_MODEL_PATH, register_option: str = "--register"
) -> None:
    """--select, --register and --model-path checked together before a sweep runs, so a typo costs no job."""
    if select is not None:
        parse_objective(select)
    if register is not None:
        if select is None:
            raise InputError(register_option, register, "needs a cell to register", "add --select METRIC:min|max")
        check_model_name(register, register_option)
        check_model_path(model_path)
