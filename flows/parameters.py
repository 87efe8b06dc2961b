"""The train flow's parameters, one per SweepOptions field, generated from the model so the CLI and the Prefect run
form stay one definition. Top-level parameters because Prefect merges a run's parameters with its deployment's
key by key: a run that changes one field keeps the deployment's other values."""

from __future__ import annotations

import inspect
import types
import typing
from typing import Annotated, Any

from pydantic import ValidationError, WithJsonSchema
from pydantic.fields import FieldInfo

from rjobs.inputs.option_groups import grouped_fields
from rjobs.inputs.options import SweepOptions, option_error

PLAIN_TYPES = {str: "string", int: "integer", float: "number"}


def _form_annotation(annotation: Any) -> Any:
    """`str | None` shows in the form as a plain text field, not a str/None toggle; None (or empty) still means
    "the default" when the flow builds its options."""
    args = typing.get_args(annotation)
    if typing.get_origin(annotation) in (typing.Union, types.UnionType) and type(None) in args:
        rest = [a for a in args if a is not type(None)]
        if len(rest) == 1 and rest[0] in PLAIN_TYPES:
            return Annotated[annotation, WithJsonSchema({"type": PLAIN_TYPES[rest[0]]})]
    return annotation


def _default(name: str, field: FieldInfo) -> Any:
    """The form's default: the model's, except a computed one (the CPU count) which stays None, decided where the
    flow runs, and a list factory which is an empty list."""
    if field.default_factory is None:
        return field.default
    return [] if typing.get_origin(field.annotation) is list else None


def _parameter(name: str, field: FieldInfo) -> inspect.Parameter:
    """A keyword-only parameter: Prefect binds a deployment's stored values by name."""
    annotation = field.annotation
    if field.default_factory is not None and typing.get_origin(annotation) is not list:
        annotation = annotation | None
    return inspect.Parameter(
        name, inspect.Parameter.KEYWORD_ONLY, default=_default(name, field), annotation=_form_annotation(annotation)
    )


def flow_signature() -> inspect.Signature:
    """Every option as a top-level parameter, grouped and ordered as `--help` shows them."""
    fields = SweepOptions.model_fields
    return inspect.Signature([_parameter(name, fields[name]) for _, name in grouped_fields()])


def flow_docstring(summary: str) -> str:
    """The flow's docstring with an Args section, which Prefect reads for the form's descriptions: each starts with
    its group, so the form reads as the groups of `--help`."""
    fields = SweepOptions.model_fields
    lines = [summary.strip(), "", "Args:"]
    for group, name in grouped_fields():
        description = fields[name].description or ""
        if name == "max_concurrent":
            description += " (default: this machine's CPU count)"
        lines.append(f"    {name}: {group} - {description}")
    return "\n".join(lines) + "\n"


def options_from_parameters(parameters: dict[str, Any]) -> SweepOptions:
    """Values left empty (None, or "" from a form's cleared text field) take the model's default."""
    given = {k: v for k, v in parameters.items() if v is not None and v != ""}
    try:
        return SweepOptions(**given)
    except ValidationError as exc:
        raise option_error(exc) from None


def flow_parameters(options: SweepOptions) -> dict[str, Any]:
    """The flow's keyword arguments for these options (the CLI's call of the flow)."""
    return options.model_dump()
