"""Command-line options generated from SweepOptions, so the CLI and the Prefect form never drift."""

from __future__ import annotations

import argparse
import typing
from typing import Any

from rjobs.options import SweepOptions

UI_ONLY = frozenset({"grid_values"})


def build_parser(prog: str, description: str) -> argparse.ArgumentParser:
    """One flag per SweepOptions field: --max-concurrent for max_concurrent, and so on."""
    parser = argparse.ArgumentParser(prog=prog, description=description)
    for name, field in SweepOptions.model_fields.items():
        if name in UI_ONLY:
            continue
        flag = "--" + name.replace("_", "-")
        help_text = field.description or ""
        default = None if field.default_factory else field.default
        if field.annotation is bool:
            parser.add_argument(flag, dest=name, action="store_true", help=help_text)
        elif name == "param":
            parser.add_argument(flag, dest=name, action="append", default=[], metavar="KEY=V1,V2", help=help_text)
        elif typing.get_origin(field.annotation) is typing.Literal:
            parser.add_argument(
                flag,
                dest=name,
                choices=typing.get_args(field.annotation),
                default=default,
                help=f"{help_text} (default: {default})",
            )
        else:
            shown = f" (default: {default})" if default is not None else ""
            parser.add_argument(
                flag, dest=name, default=argparse.SUPPRESS, metavar=name.upper(), help=help_text + shown
            )
    return parser


def options_from_args(namespace: argparse.Namespace) -> SweepOptions:
    """Only the flags the user gave override the model's defaults."""
    given: dict[str, Any] = {k: v for k, v in vars(namespace).items() if v is not None}
    return SweepOptions(**given)
