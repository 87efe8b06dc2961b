"""rjobs.core.values and the path of a value from YAML or --param to R's argv: the text as written, always, and one
cell per argv. Properties over generated scalars (Hypothesis), tables for the spellings YAML 1.1 would rewrite."""

from __future__ import annotations

import string
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from rjobs.core.errors import InputError
from rjobs.core.values import MAX_ARG_STRLEN, argument_problem, number_of, typed_value, value_text
from rjobs.inputs.command import render_argv
from rjobs.inputs.grid import Cell, build_cells, cell_id, parse_param_args
from rjobs.inputs.spec import InputSpec, JobSpec
from rjobs.inputs.yaml_source import parse_yaml

PROPERTY = settings(max_examples=200, deadline=None, database=None)
SPEC = JobSpec(
    source=Path("/nowhere/job.yml"),
    command="Rscript a.R --a ${{inputs.a}} --b=${{inputs.b}}",
    code=None,
    inputs={"a": InputSpec("a", "literal", "x"), "b": InputSpec("b", "literal", "y")},
)
YAML_11_SPELLINGS = [
    "010",
    "0x10",
    "0o7",
    "1_000",
    "1:30",
    "yes",
    "no",
    "on",
    "off",
    "Y",
    "1.5e-7",
    ".nan",
    ".inf",
    "-.inf",
    "0.10",
    "+1",
    "1e3",
    "2024-01-01",
    "2024-01-01 10:00:00",
    "~1",
    "1,000",
    "0b101",
]


def argv_of(params: dict[str, Any]) -> list[str]:
    """R's argv for a cell, bound as the sweep binds it and rendered as the local backend renders it."""
    inputs = {name: SPEC.inputs[name].with_value(value) for name, value in Cell(params).params.items()}
    texts = {name: value_text(spec_input.value) for name, spec_input in {**SPEC.inputs, **inputs}.items()}
    return render_argv(SPEC, texts)


# --- value -> text, and the typed readings that are for display only ----------------------------------------


@pytest.mark.parametrize(
    ("value", "text"),
    [(None, ""), (True, "true"), (False, "false"), (1, "1"), (0.25, "0.25"), ("010", "010"), ("", "")],
)
def test_value_text(value: Any, text: str) -> None:
    assert value_text(value) == text


@pytest.mark.parametrize(
    ("text", "typed"),
    [
        ("16", 16),
        ("-3", -3),
        ("0.5", 0.5),
        ("1e-07", 1e-07),
        ("010", "010"),
        ("-0", "-0"),
        ("1e-7", "1e-7"),
        ("0.10", "0.10"),
        ("true", "true"),
        ("0x10", "0x10"),
        ("1_000", "1_000"),
        ("nan", "nan"),
        ("9" * 30, "9" * 30),
    ],
)
def test_typed_value_never_shows_another_spelling(text: str, typed: object) -> None:
    assert typed_value(text) == typed and type(typed_value(text)) is type(typed)
    assert value_text(typed_value(text)) == text


@pytest.mark.parametrize(
    ("value", "number"),
    [
        ("010", 10.0),
        ("1e-7", 1e-7),
        (".5", 0.5),
        (3, 3.0),
        (True, None),
        ("0x10", None),
        ("1_000", None),
        ("nan", None),
        (".nan", None),
        ("inf", None),
        ("١٢", None),
        ("", None),
        (float("nan"), None),
    ],
)
def test_number_of_is_decimal_and_finite(value: Any, number: float | None) -> None:
    assert number_of(value) == number


def test_argument_problem() -> None:
    assert argument_problem("ok") is None
    assert argument_problem("x" * (MAX_ARG_STRLEN - 1)) is None
    assert "NUL" in str(argument_problem("a\x00b"))
    assert f"is {MAX_ARG_STRLEN} bytes long" in str(argument_problem("x" * MAX_ARG_STRLEN))
    assert "is 131073 bytes long" in str(argument_problem("é" * 65536 + "x"))
    assert "surrogate" in str(argument_problem("\ud800"))


# --- the spellings YAML 1.1 rewrites reach R as written ----------------------------------------------------


@pytest.mark.parametrize("written", YAML_11_SPELLINGS)
def test_grid_spellings_reach_r_as_written(written: str) -> None:
    (cell,) = build_cells(SPEC, grid=parse_yaml(f"a:\n  - {written}\n", "grid.yml"))
    assert cell.params == {"a": written}
    assert argv_of(cell.params) == ["Rscript", "a.R", "--a", written, "--b=y"]


@pytest.mark.parametrize("written", [s for s in YAML_11_SPELLINGS if "," not in s])
def test_param_spellings_reach_r_as_written(written: str) -> None:
    assert parse_param_args([f"a={written}"]) == {"a": [written]}
    (cell,) = build_cells(SPEC, params=[f"a={written}"])
    assert argv_of(cell.params)[3] == written


# --- properties ----------------------------------------------------------------------------------------------

PLAIN = st.one_of(
    st.sampled_from(YAML_11_SPELLINGS),
    st.from_regex(r"[0-9A-Za-z+.\-][0-9A-Za-z+._:\-]{0,14}", fullmatch=True),
    st.integers(-(10**12), 10**12).map(lambda n: f"{n:0{abs(n) % 5}d}"),
    st.floats(allow_nan=False, allow_infinity=False).map(lambda f: f"{f:.3e}"),
)
PRINTABLE = st.text(
    st.characters(exclude_categories=("Cs", "Cc", "Zl", "Zp"), exclude_characters="\ufeff"), max_size=20
)


def plain(text: str) -> str:
    """`text` when YAML reads it as one plain scalar of exactly that text, else the example is discarded."""
    try:
        node = yaml.compose(f"- {text}\n", Loader=yaml.SafeLoader)
    except yaml.YAMLError:
        node = None
    item = node.value[0] if node is not None and len(node.value) == 1 else None
    assume(isinstance(item, yaml.ScalarNode) and item.style is None)
    assume(item.value == text and item.tag != "tag:yaml.org,2002:null")
    return text


SCALARS = st.one_of(
    PLAIN.map(lambda text: (text, text)),
    PRINTABLE.map(lambda text: (yaml.safe_dump(text, default_style='"').strip(), text)),
    PRINTABLE.map(lambda text: (yaml.safe_dump(text, default_style="'", width=10**6).strip(), text)),
)


@PROPERTY
@given(SCALARS)
def test_property_a_grid_scalar_reaches_r_as_its_source_text(scalar: tuple[str, str]) -> None:
    source, text = scalar
    if source == text:
        plain(source)
    (cell,) = build_cells(SPEC, grid=parse_yaml(f"a:\n  - {source}\n", "grid.yml"))
    assert argv_of(cell.params) == ["Rscript", "a.R", "--a", text, "--b=y"]


@PROPERTY
@given(PLAIN)
def test_property_a_param_value_reaches_r_as_written(text: str) -> None:
    assume("," not in text and text.strip() == text and text[:1] not in "'\"")
    (cell,) = build_cells(SPEC, params=[f"a={text}"])
    assert argv_of(cell.params)[3] == text


VALUES = st.one_of(
    st.booleans(),
    st.integers(-20, 20),
    st.sampled_from([0.5, 1.0, 1e-07, 2.0]),
    st.sampled_from(["1", "1.0", "true", "TRUE", "010", "10", "0.5", "1e-07", "1e-7", "", " 1"]),
    st.text(string.printable, max_size=3),
)


def pair_of_cells(keys: set[str]) -> st.SearchStrategy[tuple[dict[str, Any], dict[str, Any]]]:
    """Two cells over the same keys (a key left out takes the job's default, which build_cells checks apart)."""
    cell = st.fixed_dictionaries(dict.fromkeys(sorted(keys), VALUES))
    return st.tuples(cell, cell)


@PROPERTY
@given(st.sets(st.sampled_from("ab")).flatmap(pair_of_cells))
def test_property_cell_ids_are_equal_exactly_when_argv_are(pair: tuple[dict[str, Any], dict[str, Any]]) -> None:
    first, second = pair
    assert (cell_id(first) == cell_id(second)) == (argv_of(first) == argv_of(second))


@PROPERTY
@given(SCALARS, SCALARS)
def test_property_two_spellings_are_one_cell_or_refused(one: tuple[str, str], two: tuple[str, str]) -> None:
    for source, text in (one, two):
        if source == text:
            plain(source)
    grid = parse_yaml(f"a:\n  - {one[0]}\n  - {two[0]}\n", "grid.yml")
    if one[1] == two[1]:
        with pytest.raises(InputError, match="twice"):
            build_cells(SPEC, grid=grid)
        return
    cells = build_cells(SPEC, grid=grid)
    assert len({c.cell_id for c in cells}) == 2 and argv_of(cells[0].params) != argv_of(cells[1].params)
