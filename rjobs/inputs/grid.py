"""Parameter grids: a product of axes or an explicit cell list, each cell overriding job inputs with the text the
user wrote. A grid is counted before its cells are built, so a grid too big to mean it costs no memory."""

from __future__ import annotations

import hashlib
import itertools
import json
import math
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rjobs.core.errors import InputError
from rjobs.core.values import argument_problem, typed_value, value_text
from rjobs.inputs.command import ArgvChecker
from rjobs.inputs.spec import JobSpec
from rjobs.inputs.yaml_source import parse_yaml, read_yaml_file

CELL_ID_LENGTH = 10
DEFAULT_MAX_CELLS = 1000
MAX_CELLS_CEILING = 100_000
"""The most cells one sweep takes, whatever --max-cells says: every cell is held in memory and in the results
folder, and no Azure ML quota runs more; a bigger grid is split into several sweeps."""


@dataclass(frozen=True)
class Cell:
    """One point of the grid: the job inputs it overrides, as the text R receives, and an id derived from them."""

    params: Mapping[str, str]

    def __post_init__(self) -> None:
        object.__setattr__(self, "params", {str(k): value_text(v) for k, v in self.params.items()})

    @property
    def cell_id(self) -> str:
        return cell_id(self.params)


def canonical_params(params: Mapping[str, Any]) -> str:
    """Key-sorted compact JSON of what R receives, whatever order or type. A text that spells a number as Python
    prints it is written as that number, so ordinary cells keep the ids they had when YAML typed their values."""
    texts = {str(k): typed_value(value_text(v)) for k, v in params.items()}
    return json.dumps(texts, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def cell_label(params: Mapping[str, Any], width: int = 100) -> str:
    """The canonical params for a message, cut short so a huge value never makes a huge message."""
    text = canonical_params(params)
    return text if len(text) <= width else text[: width - 1] + "…"


def cell_title(params: Mapping[str, Any], width: int = 80) -> str:
    """A cell as a person reads it, `model=lm seed=1`, for task-run names and progress lines; cut short, since the
    hash already identifies it."""
    text = " ".join(f"{k}={value_text(v)}" for k, v in params.items()) or "(no parameters)"
    return text if len(text) <= width else text[: width - 1] + "…"


def cell_id(params: Mapping[str, Any]) -> str:
    """Short stable hash of the canonical params; 'c' prefix keeps Azure job names letter-led. Two cells whose
    values R receives as the same text have the same id: `16` and `"16"` are one cell."""
    digest = hashlib.sha256(canonical_params(params).encode("utf-8")).hexdigest()
    return "c" + digest[: CELL_ID_LENGTH - 1]


@dataclass(frozen=True)
class Grid:
    """A grid before its cells exist: explicit rows, each multiplied by the product of the axes (a product grid is
    one empty row times its axes). Its size is known without building it."""

    rows: Sequence[Mapping[str, str]] = ({},)
    axes: Mapping[str, Sequence[str]] = field(default_factory=dict)

    @property
    def count(self) -> int:
        return len(self.rows) * math.prod(len(values) for values in self.axes.values())

    @property
    def keys(self) -> list[str]:
        found: dict[str, None] = {}
        for row in self.rows:
            found.update(dict.fromkeys(row))
        return [*found, *self.axes]

    def overridden(self, axes: Mapping[str, Sequence[str]]) -> Grid:
        """--param axes replace the grid's values of their keys; rows that then agree become one."""
        rows = [{k: v for k, v in row.items() if k not in axes} for row in self.rows]
        unique = list({canonical_params(row): row for row in rows}.values())
        kept = {k: v for k, v in self.axes.items() if k not in axes}
        return Grid(rows=unique, axes={**kept, **axes})

    def widths(self) -> dict[str, int]:
        """The most bytes any value of each key takes, to bound the size of every cell's argv at once."""
        found: dict[str, int] = {}
        pairs = [pair for row in self.rows for pair in row.items()]
        pairs += [(key, value) for key, values in self.axes.items() for value in values]
        for key, value in pairs:
            found[key] = max(found.get(key, 0), len(value.encode("utf-8", "surrogateescape")))
        return found

    def params(self) -> Iterator[dict[str, str]]:
        """The cells' params, row by row, the last axis varying fastest, one at a time."""
        keys = list(self.axes)
        for row in self.rows:
            for combo in itertools.product(*self.axes.values()):
                yield {**row, **dict(zip(keys, combo, strict=True))}


def _text(source: str, key: str, value: Any) -> str:
    """A grid value as the text R receives; refused when it is no scalar or no program argument can carry it."""
    if value is None or not isinstance(value, str | int | float | bool):
        shown = "an empty value (null)" if value is None else f"a {type(value).__name__} value {value!r}"
        raise InputError(source, key, f"has {shown}", "grid values must be scalars (text, numbers, true/false)")
    text = value_text(value)
    problem = argument_problem(text)
    if problem:
        raise InputError(source, key, f"value {text[:40]!r} {problem}", "pass large or binary data as a data input")
    return text


def _axis(source: str, key: str, raw: Any) -> list[str]:
    values = raw if isinstance(raw, list) else [raw]
    if not values:
        raise InputError(source, key, "is an empty axis", "give it at least one value or remove it")
    texts = [_text(source, key, v) for v in values]
    seen: set[str] = set()
    for text in texts:
        if text in seen:
            raise InputError(
                source, key, f"lists {text!r} twice (R would receive it the same way)", "remove the duplicate value"
            )
        seen.add(text)
    return texts


def parse_grid(source: str, raw: Any) -> Grid:
    """A mapping is the product of its axes; a list of mappings is an explicit list of cells."""
    if raw is None or (isinstance(raw, Mapping) and not raw):
        raise InputError(source, None, "is an empty grid", "give key: [values] pairs, or omit --grid for one cell")
    if isinstance(raw, Mapping):
        return Grid(axes={str(key): _axis(source, str(key), axis) for key, axis in raw.items()})
    if isinstance(raw, list):
        if not raw:
            raise InputError(source, None, "is an empty cell list", "give at least one cell mapping")
        rows = []
        for index, item in enumerate(raw):
            if not isinstance(item, Mapping):
                raise InputError(source, f"[{index}]", "is not a mapping", "write each cell as key: value pairs")
            rows.append({str(k): _text(source, f"[{index}].{k}", v) for k, v in item.items()})
        return Grid(rows=rows)
    raise InputError(source, None, f"is a {type(raw).__name__}", "write the grid as key: [values] or a list of cells")


def load_grid_file(path: str | Path) -> Grid:
    """Read grid.yml with every value as written; bad YAML or shape is an InputError naming the file and line."""
    path = Path(path)
    raw = read_yaml_file(path, "pass --grid with an existing YAML file, or omit it")
    return parse_grid(str(path), raw)


def param_text(item: str) -> str:
    """One --param value: a quoted YAML scalar ('a b', "x\\ty") is its string; anything else is the text as written,
    spaces around it dropped as YAML drops them around a plain scalar (quote it to keep them)."""
    text = item.strip()
    if text[:1] in ("'", '"'):
        try:
            quoted = parse_yaml(text, "--param")
        except InputError:  # not one quoted scalar (`'it's`): then it is text like any other
            return text
        if isinstance(quoted, str):
            return quoted
    return text


def parse_param_args(args: Iterable[str]) -> dict[str, list[str]]:
    """`--param key=v1,v2` -> {key: [v1, v2]}, each value the text R receives (see param_text)."""
    axes: dict[str, list[str]] = {}
    for arg in args:
        key, sep, text = arg.partition("=")
        key = key.strip()
        if not sep or not key:
            raise InputError("--param", arg, "is not key=value[,value...]", "write e.g. --param seed=1,2,3")
        axes[key] = _axis("--param", key, [param_text(item) for item in text.split(",")])
    return axes


def _too_many(source: str, count: int, max_cells: int) -> InputError:
    if count <= MAX_CELLS_CEILING:
        fix = f"shrink the grid or confirm with --max-cells {count}"
    else:
        fix = f"shrink the grid or split it into sweeps of at most {MAX_CELLS_CEILING} cells, the most one sweep takes"
    return InputError(source, None, f"has {count} cells, more than the limit of {max_cells}", fix)


def iter_cells(
    spec: JobSpec,
    grid: Mapping[str, Any] | Sequence[Mapping[str, Any]] | None = None,
    grid_file: str | Path | None = None,
    params: Iterable[str] = (),
    max_cells: int = DEFAULT_MAX_CELLS,
) -> Iterator[Cell]:
    """The cells of grid file (or grid object) and --param axes, counted and checked against the job's inputs
    before the first is made, then made one at a time; two cells that would give R the same argv are refused."""
    source = str(grid_file) if grid_file else "grid"
    if grid_file is not None:
        shape = load_grid_file(grid_file)
    elif grid is not None:
        shape = parse_grid(source, grid)
    else:
        shape = Grid()
    overrides = parse_param_args(params)
    if overrides:
        source = "--param" if grid_file is None and grid is None else source
        shape = shape.overridden(overrides)
    limit = min(max_cells, MAX_CELLS_CEILING)
    if shape.count > limit:
        raise _too_many(source, shape.count, max_cells)
    _check_against_spec(spec, source, shape.keys)
    checker = ArgvChecker(spec, shape.widths())
    seen: dict[str, dict[str, str]] = {}
    for row in shape.params():
        cell = Cell(params=row)
        effective = checker.check(source, cell.params, cell_label(cell.params))
        if len(shape.rows) > 1:
            key = canonical_params(effective)
            if key in seen:
                first = seen[key]
                problem = "is listed twice" if first == cell.params else f"runs as {cell_label(first)} does"
                raise InputError(source, cell_label(cell.params), problem, "remove the duplicate cell")
            seen[key] = dict(cell.params)
        yield cell


def build_cells(
    spec: JobSpec,
    grid: Mapping[str, Any] | Sequence[Mapping[str, Any]] | None = None,
    grid_file: str | Path | None = None,
    params: Iterable[str] = (),
    max_cells: int = DEFAULT_MAX_CELLS,
) -> list[Cell]:
    """Every cell of iter_cells, in order."""
    return list(iter_cells(spec, grid, grid_file, params, max_cells))


def _check_against_spec(spec: JobSpec, source: str, keys: Sequence[str]) -> None:
    for key in keys:
        if key not in spec.inputs:
            raise InputError(
                source,
                key,
                f"is not an input of {spec.source.name} (inputs: {', '.join(spec.inputs) or 'none'})",
                f"add {key} under inputs: in {spec.source.name} and use it in the command, or drop it",
            )
