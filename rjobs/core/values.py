"""The ONE way a parameter value becomes text: R's argv, Azure tags, summary.csv, plots and MLflow params agree.

Values read from YAML or `--param` already are the text the user wrote; typed values (the Prefect form's JSON,
metrics) become text here. Readings of a text as a number are for display only (Azure's typed inputs, plot axes)."""

from __future__ import annotations

import math
import os
import re
from typing import Any

MAX_ARG_STRLEN = 131072
"""Linux's limit on one argument string, its closing NUL included: execve fails with E2BIG past it."""
DECIMAL = re.compile(r"[-+]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][-+]?[0-9]+)?")
INT64 = 2**63


def value_text(value: Any) -> str:
    """What R receives for a value: text as it is, booleans as R's optparse reads them (true/false), numbers as
    Python prints them, None as empty. Every other place that shows a value uses this too."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def number_of(value: Any) -> float | None:
    """The finite number a value spells in decimal (`10` for "010", 1e-07 for "1e-7"), else None: for ordering
    and placing values on a numeric axis, never for what R receives."""
    if isinstance(value, bool):
        return None
    if not isinstance(value, int | float) and not (isinstance(value, str) and DECIMAL.fullmatch(value)):
        return None
    number = float(value)
    return number if math.isfinite(number) else None


def typed_value(text: str) -> str | int | float:
    """The number a text spells when it spells it as Python would print it ("16", "0.5"), else the text itself:
    a typed reading (e.g. Azure's studio inputs) must never show another spelling than the one R received."""
    if text.lstrip("-").isdecimal() and text.isascii() and str(int(text)) == text and -INT64 <= int(text) < INT64:
        return int(text)
    number = number_of(text)
    if number is not None and repr(number) == text:
        return number
    return text


def argument_problem(text: str) -> str | None:
    """Why a text cannot be one program argument (a NUL byte, not encodable, too long for the kernel), or None."""
    if "\x00" in text:
        return "contains a NUL byte, which no program argument can carry"
    try:
        size = len(text.encode("utf-8", "surrogateescape"))
    except UnicodeEncodeError:
        return "contains a lone surrogate, which is not text a program can receive"
    if size >= MAX_ARG_STRLEN:
        return f"is {size} bytes long, more than one program argument may be ({MAX_ARG_STRLEN - 1} bytes)"
    return None


def argv_limit() -> int:
    """Bytes this system lets a new program's arguments and environment take together (SC_ARG_MAX)."""
    try:
        limit = os.sysconf("SC_ARG_MAX")
    except (ValueError, OSError):
        limit = -1
    return limit if limit > 0 else 2 * MAX_ARG_STRLEN
