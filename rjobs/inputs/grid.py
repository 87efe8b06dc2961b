"""Parameter grids: a product of axes or an explicit cell list, each cell overriding job inputs."""

from __future__ import annotations

import hashlib
import itertools
import json
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from rjobs.core.errors import InputError
from rjobs.inputs.spec import JobSpec, Scalar

CELL_ID_LENGTH = 10
DEFAULT_MAX_CELLS = 1000


@dataclass(frozen=True)
class Cell:
    """One point of the grid: the job inputs it overrides, and an id derived from them alone."""

    params: Mapping[str, Scalar]

    @property
    def cell_id(self) -> str:
        return cell_id(self.params)


def canonical_params(params: Mapping[str, Scalar]) -> str:
    """Key-sorted compact JSON: the same params give the same text whatever their order."""
    return json.dumps(dict(params), sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def cell_id(params: Mapping[str, Scalar]) -> str:
    """Short stable hash of the canonical params; 'c' prefix keeps Azure job names letter-led."""
    digest = hashlib.sha256(canonical_params(params).encode("utf-8")).hexdigest()
    return "c" + digest[: CELL_ID_LENGTH - 1]


def _check_scalar(source: str, key: str, value: Any) -> Scalar:
    if isinstance(value, str | int | float | bool) and value is not None:
        return value
    raise InputError(
        source,
        key,
        f"has a {type(value).__name__} value {value!r}",
        "grid values must be scalars (text, numbers, true/false)",
    )


def _product(source: str, axes: Mapping[str, Any], max_cells: int | None = None) -> list[dict[str, Scalar]]:
    values: dict[str, list[Scalar]] = {}
    for key, axis in axes.items():
        axis_values = axis if isinstance(axis, list) else [axis]
        if not axis_values:
            raise InputError(source, str(key), "is an empty axis", "give it at least one value or remove it")
        values[str(key)] = [_check_scalar(source, str(key), v) for v in axis_values]
    count = math.prod(len(v) for v in values.values())
    if max_cells is not None and count > max_cells:
        raise _too_many(source, count, max_cells)
    return [dict(zip(values, combo, strict=True)) for combo in itertools.product(*values.values())]


def _too_many(source: str, count: int, max_cells: int) -> InputError:
    return InputError(
        source,
        None,
        f"has {count} cells, more than the limit of {max_cells}",
        f"shrink the grid or confirm with --max-cells {count}",
    )


def parse_grid(source: str, raw: Any, max_cells: int | None = None) -> list[dict[str, Scalar]]:
    """A mapping is the product of its axes; a list of mappings is an explicit list of cells."""
    if raw is None:
        raise InputError(source, None, "is an empty grid", "give key: [values] pairs, or omit --grid for one cell")
    if isinstance(raw, Mapping):
        if not raw:
            raise InputError(source, None, "is an empty grid", "give key: [values] pairs, or omit --grid for one cell")
        return _product(source, raw, max_cells)
    if isinstance(raw, list):
        if not raw:
            raise InputError(source, None, "is an empty cell list", "give at least one cell mapping")
        cells = []
        for index, item in enumerate(raw):
            if not isinstance(item, Mapping):
                raise InputError(source, f"[{index}]", "is not a mapping", "write each cell as key: value pairs")
            cells.append({str(k): _check_scalar(source, f"[{index}].{k}", v) for k, v in item.items()})
        return cells
    raise InputError(source, None, f"is a {type(raw).__name__}", "write the grid as key: [values] or a list of cells")


def load_grid_file(path: str | Path, max_cells: int | None = None) -> list[dict[str, Scalar]]:
    """Read grid.yml; bad YAML or shape is an InputError naming the file."""
    path = Path(path)
    if not path.is_file():
        raise InputError(path, None, "file not found", "pass --grid with an existing YAML file, or omit it")
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise InputError(
            path, None, f"is not valid YAML ({getattr(exc, 'problem', exc)})", "fix the YAML syntax"
        ) from None
    return parse_grid(str(path), raw, max_cells)


def parse_param_args(args: Iterable[str]) -> dict[str, list[Scalar]]:
    """`--param key=v1,v2` -> {key: [v1, v2]}; each value read as YAML so 1 is a number, as in grid.yml."""
    axes: dict[str, list[Scalar]] = {}
    for arg in args:
        key, sep, text = arg.partition("=")
        key = key.strip()
        if not sep or not key:
            raise InputError("--param", arg, "is not key=value[,value...]", "write e.g. --param seed=1,2,3")
        values = []
        for item in text.split(","):
            try:
                value = yaml.safe_load(item) if item.strip() else item
            except yaml.YAMLError:
                value = item
            values.append(_check_scalar("--param", key, value if value is not None else item))
        axes[key] = values
    return axes


def build_cells(
    spec: JobSpec,
    grid: Mapping[str, Any] | Sequence[Mapping[str, Any]] | None = None,
    grid_file: str | Path | None = None,
    params: Iterable[str] = (),
    max_cells: int = DEFAULT_MAX_CELLS,
) -> list[Cell]:
    """Combine grid file, grid object and --param axes into cells, checked against the job's inputs."""
    source = str(grid_file) if grid_file else "grid"
    if grid_file is not None:
        rows = load_grid_file(grid_file, max_cells)
    elif grid is not None:
        rows = parse_grid(source, grid, max_cells)
    else:
        rows = [{}]
    overrides = parse_param_args(params)
    if overrides:
        source = "--param" if grid_file is None and grid is None else source
        fixed = [{k: v for k, v in row.items() if k not in overrides} for row in rows]
        fixed = list({canonical_params(row): row for row in fixed}.values())
        count = len(fixed) * math.prod(len(v) for v in overrides.values())
        if count > max_cells:
            raise _too_many(source, count, max_cells)
        rows = [dict(row, **combo) for row in fixed for combo in _product("--param", overrides)]
    cells = [Cell(params=row) for row in rows]
    _check_against_spec(spec, source, cells)
    seen: dict[str, Cell] = {}
    for cell in cells:
        if cell.cell_id in seen:
            raise InputError(source, canonical_params(cell.params), "is listed twice", "remove the duplicate cell")
        seen[cell.cell_id] = cell
    if len(cells) > max_cells:
        raise _too_many(source, len(cells), max_cells)
    return cells


def _check_against_spec(spec: JobSpec, source: str, cells: list[Cell]) -> None:
    for cell in cells:
        for key in cell.params:
            if key not in spec.inputs:
                raise InputError(
                    source,
                    key,
                    f"is not an input of {spec.source.name} (inputs: {', '.join(spec.inputs) or 'none'})",
                    f"add {key} under inputs: in {spec.source.name} and use it in the command, or drop it",
                )
