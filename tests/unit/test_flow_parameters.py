"""The train flow's parameters are SweepOptions' fields, top-level, in the groups and order of --help; the form
shows plain text fields for optional strings; a form's empty values take the model's defaults."""

from __future__ import annotations

import inspect

import pytest

from flows.cli import build_parser
from flows.parameters import flow_docstring, flow_parameters, flow_signature, options_from_parameters
from rjobs.core.errors import InputError
from rjobs.inputs.option_groups import GROUPS, grouped_fields
from rjobs.inputs.options import SweepOptions


def test_every_option_is_in_exactly_one_group() -> None:
    names = [name for _, name in grouped_fields()]
    assert sorted(names) == sorted(SweepOptions.model_fields) and len(names) == len(set(names))


def test_the_flow_takes_every_option_as_a_keyword_in_group_order() -> None:
    parameters = flow_signature().parameters
    assert list(parameters) == [name for _, name in grouped_fields()]
    assert {p.kind for p in parameters.values()} == {inspect.Parameter.KEYWORD_ONLY}


def test_the_form_schema_has_plain_fields_descriptions_with_groups_and_no_machine_default() -> None:
    from prefect.utilities.callables import generate_parameter_schema, parameter_docstrings

    schema = generate_parameter_schema(flow_signature(), parameter_docstrings(flow_docstring("Train.")))
    properties = schema.model_dump()["properties"]
    assert properties["grid"]["type"] == "string" and "anyOf" not in properties["grid"]
    assert properties["max_concurrent"]["default"] is None, "the deploying machine's CPU count must not be stored"
    assert properties["select"]["description"].startswith("What to do with results - ")
    assert [p["position"] for p in properties.values()] == list(range(len(properties)))


@pytest.mark.parametrize("empty", [None, ""])
def test_empty_form_values_take_the_defaults(empty: object) -> None:
    options = options_from_parameters({"job": "job.yml", "grid": empty, "max_concurrent": None, "retries": 3})
    assert (options.grid, options.retries, options.max_concurrent) == (None, 3, SweepOptions().max_concurrent)


def test_the_cli_options_survive_the_flow_parameters_unchanged() -> None:
    options = SweepOptions(job="a.yml", param=["seed=1,2"], max_concurrent=3, select="rmse:min", no_mlflow=True)
    assert options_from_parameters(flow_parameters(options)) == options


def test_a_bad_form_value_is_an_input_error_naming_the_flag() -> None:
    with pytest.raises(InputError, match="--retries"):
        options_from_parameters({"retries": -1})


def test_help_groups_the_flags_as_the_form_and_shows_every_default() -> None:
    text = build_parser("python -m flows.train", "").format_help()
    positions = [text.index(f"\n{group}:\n") for group in GROUPS]
    assert positions == sorted(positions)
    assert "(default: 1)" in text and "(default: CPU count, here" in text and "(default: off)" in text
