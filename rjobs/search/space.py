"""A sweep job's search_space: Azure ML's distributions with Azure ML's meaning of their parameters, each sampled
from a numpy Generator and written as the text R receives (loguniform's bounds are exponents, as on Azure)."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from rjobs.core.errors import InputError
from rjobs.core.values import argument_problem

if TYPE_CHECKING:
    import numpy as np

PARAMETERS: dict[str, tuple[str, ...]] = {
    "choice": ("values",),
    "randint": ("upper",),
    "uniform": ("min_value", "max_value"),
    "quniform": ("min_value", "max_value", "q"),
    "loguniform": ("min_value", "max_value"),
    "qloguniform": ("min_value", "max_value", "q"),
    "normal": ("mu", "sigma"),
    "qnormal": ("mu", "sigma", "q"),
    "lognormal": ("mu", "sigma"),
    "qlognormal": ("mu", "sigma", "q"),
}
BOUNDED = frozenset({"choice", "randint", "uniform", "quniform", "loguniform", "qloguniform"})
LOG_SCALE = frozenset({"loguniform", "qloguniform", "lognormal", "qlognormal"})


@dataclass(frozen=True)
class Dimension:
    """One search-space key: its distribution, its numeric parameters and, for choice, its values as written."""

    name: str
    kind: str
    values: tuple[str, ...] = ()
    a: float = 0.0
    """min_value (exponent for log types), mu, or 0 for randint."""
    b: float = 0.0
    """max_value (exponent for log types), sigma, or upper for randint."""
    q: float | None = None
    q_text: str = ""

    @property
    def is_choice(self) -> bool:
        return self.kind == "choice"

    def sample(self, rng: np.random.Generator) -> str:
        """One draw as text; the internal draw (see draw) turned into what R receives."""
        return self.text_of(self.draw(rng))

    def draw(self, rng: np.random.Generator) -> float:
        """One draw in the internal space samplers model: a choice's index, randint's integer, a log type's
        exponent, anything else its value before quantisation."""
        if self.kind == "choice":
            return float(rng.integers(len(self.values)))
        if self.kind == "randint":
            return float(rng.integers(int(self.b)))
        if self.kind in ("normal", "qnormal", "lognormal", "qlognormal"):
            return float(rng.normal(self.a, self.b))
        return float(rng.uniform(self.a, self.b))

    def bounds(self) -> tuple[float, float]:
        """The internal space's range for a bounded distribution (a model-based sampler needs one)."""
        if self.kind == "choice":
            return 0.0, float(len(self.values) - 1)
        if self.kind == "randint":
            return -0.5, self.b - 0.5  # each integer owns a unit of the range, the ends included
        return self.a, self.b

    def text_of(self, internal: float) -> str:
        """The value R receives for an internal draw: exp() for log types, then rounding to a multiple of q."""
        if self.kind == "choice":
            return self.values[min(max(round(internal), 0), len(self.values) - 1)]
        if self.kind == "randint":
            return str(min(max(round(internal), 0), int(self.b) - 1))
        value = math.exp(internal) if self.kind in LOG_SCALE else internal
        if self.q is None:
            return repr(float(value))
        return quantised(value, self.q, self.q_text)

    def internal_of(self, text: str) -> float:
        """The internal point of a value this dimension produced (for a sampler reading a resumed study)."""
        if self.kind == "choice":
            return float(self.values.index(text))
        value = float(text)
        if self.kind in LOG_SCALE:
            return math.log(max(value, 1e-300))
        return value


def quantised(value: float, q: float, q_text: str) -> str:
    """round(value / q) * q, written with no more decimals than q has, so `0.1` steps never read 0.30000000000000004."""
    steps = round(value / q)
    if float(q).is_integer() and "." not in q_text and "e" not in q_text.lower():
        return str(int(steps * int(q)))
    decimals = len(q_text.partition(".")[2]) if "e" not in q_text.lower() else 12
    return repr(round(steps * q, decimals))


def _number(source: str, key: str, raw: Any) -> float:
    try:
        number = float(raw)
    except (TypeError, ValueError):
        number = math.nan
    if isinstance(raw, bool) or not math.isfinite(number):
        raise InputError(source, key, f"is {raw!r}, not a finite number", "give a number, e.g. 0.5")
    return number


def parse_dimension(source: str, name: str, raw: Any) -> Dimension:
    """One search_space entry; a missing, unknown or impossible parameter is an InputError naming its key."""
    key = f"search_space.{name}"
    if not isinstance(raw, Mapping) or "type" not in raw:
        raise InputError(source, key, "is not a distribution", "write it as {type: choice, values: [1, 2]}")
    kind = str(raw["type"]).lower()
    if kind not in PARAMETERS:
        raise InputError(source, f"{key}.type", f"is {raw['type']!r}", f"use one of {', '.join(PARAMETERS)}")
    wanted = PARAMETERS[kind]
    for param in raw:
        if param != "type" and param not in wanted:
            raise InputError(source, f"{key}.{param}", f"is not a parameter of {kind}", f"{kind} takes {wanted}")
    for param in wanted:
        if raw.get(param) is None:
            raise InputError(source, f"{key}.{param}", "is missing", f"{kind} takes {', '.join(wanted)}")
    if kind == "choice":
        return _choice(source, key, name, raw["values"])
    numbers = {param: _number(source, f"{key}.{param}", raw[param]) for param in wanted}
    if kind == "randint":
        upper = numbers["upper"]
        if not upper.is_integer() or upper < 1:
            raise InputError(source, f"{key}.upper", f"is {raw['upper']!r}", "give a whole number of at least 1")
        return Dimension(name, kind, b=upper)
    q = numbers.get("q")
    if q is not None and q <= 0:
        raise InputError(source, f"{key}.q", f"is {raw['q']!r}", "give a positive step, e.g. q: 1")
    if "sigma" in numbers:
        if numbers["sigma"] <= 0:
            raise InputError(source, f"{key}.sigma", f"is {raw['sigma']!r}", "give a positive standard deviation")
        return Dimension(name, kind, a=numbers["mu"], b=numbers["sigma"], q=q, q_text=str(raw.get("q") or ""))
    low, high = numbers["min_value"], numbers["max_value"]
    if low >= high:
        raise InputError(source, f"{key}.max_value", f"is not above min_value ({low} >= {high})", "swap or widen them")
    if kind in LOG_SCALE and max(abs(low), abs(high)) > 700:
        raise InputError(
            source, f"{key}.max_value", "is an exponent past 700", "loguniform bounds are exponents: ln(x)"
        )
    return Dimension(name, kind, a=low, b=high, q=q, q_text=str(raw.get("q") or ""))


def _choice(source: str, key: str, name: str, values: Any) -> Dimension:
    if not isinstance(values, list) or not values:
        raise InputError(source, f"{key}.values", "is not a non-empty list", "give values: [a, b, ...]")
    texts: list[str] = []
    for value in values:
        if value is None or not isinstance(value, str):
            raise InputError(source, f"{key}.values", f"holds {value!r}", "choice values must be scalars")
        problem = argument_problem(value)
        if problem:
            raise InputError(source, f"{key}.values", f"value {value[:40]!r} {problem}", "shorten it")
        if value in texts:
            raise InputError(source, f"{key}.values", f"lists {value!r} twice", "remove the duplicate value")
        texts.append(value)
    return Dimension(name, "choice", values=tuple(texts))


def parse_space(source: str, raw: Any) -> dict[str, Dimension]:
    """search_space as name -> Dimension, in the order written."""
    if not isinstance(raw, Mapping) or not raw:
        raise InputError(source, "search_space", "is missing or empty", "give name: {type: ..., ...} per parameter")
    return {str(name): parse_dimension(source, str(name), value) for name, value in raw.items()}


def grid_points(space: Mapping[str, Dimension]) -> list[dict[str, str]]:
    """Every combination of a choice-only space, the last key varying fastest (the grid sampler's order)."""
    points: list[dict[str, str]] = [{}]
    for name, dimension in space.items():
        points = [{**point, name: value} for point in points for value in dimension.values]
    return points


def space_size(space: Sequence[Dimension]) -> float:
    """How many distinct points a space has: finite for choices and randints only."""
    size = 1.0
    for dimension in space:
        if dimension.kind == "choice":
            size *= len(dimension.values)
        elif dimension.kind == "randint":
            size *= dimension.b
        else:
            return math.inf
    return size
