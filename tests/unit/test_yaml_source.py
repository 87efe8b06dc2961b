"""rjobs.inputs.yaml_source: every scalar as written, no key twice, no alias bombs, and errors that name the line."""

from __future__ import annotations

import time
import tracemalloc
from pathlib import Path

import pytest

from rjobs.core.errors import InputError
from rjobs.inputs.yaml_source import MAX_DEPTH, parse_yaml, read_yaml_file

# (YAML 1.1 spelling, what SafeLoader makes of it, what we keep: the text as written)
SPELLINGS = [
    ("010", 8, "010"),
    ("0x10", 16, "0x10"),
    ("0o17", "0o17", "0o17"),
    ("1_000", 1000, "1_000"),
    ("1:30", 90, "1:30"),
    ("yes", True, "yes"),
    ("on", True, "on"),
    ("off", False, "off"),
    ("True", True, "True"),
    ("1.5e-7", 1.5e-07, "1.5e-7"),
    ("1.5e-07", 1.5e-07, "1.5e-07"),
    ("1e3", "1e3", "1e3"),
    (".nan", "nan", ".nan"),
    ("-.inf", "-inf", "-.inf"),
    ("0.10", 0.1, "0.10"),
    ("+1", 1, "+1"),
    ("2024-01-01", "2024-01-01", "2024-01-01"),
    ("'010'", "010", "010"),
    ('"true"', "true", "true"),
    ('"a\\tb"', "a\tb", "a\tb"),
    ("lm", "lm", "lm"),
]


@pytest.mark.parametrize(("written", "typed", "kept"), SPELLINGS, ids=[s[0] for s in SPELLINGS])
def test_a_scalar_is_its_source_text(written: str, typed: object, kept: str) -> None:
    import yaml

    assert str(yaml.safe_load(f"v: {written}")["v"]) == str(typed)  # what YAML 1.1 typing would have made of it
    assert parse_yaml(f"v: {written}\nl: [{written}]\n", "x.yml") == {"v": kept, "l": [kept]}


@pytest.mark.parametrize("null", ["", "~", "null", "Null"])
def test_null_stays_none(null: str) -> None:
    assert parse_yaml(f"v: {null}\n", "x.yml") == {"v": None}
    assert parse_yaml(f"v: '{null}'\n", "x.yml") == {"v": null}


def test_a_multi_line_plain_scalar_is_folded_as_yaml_folds_it() -> None:
    assert parse_yaml("command: Rscript a.R\n  --seed 1\n", "x.yml") == {"command": "Rscript a.R --seed 1"}


DUPLICATES = [
    ("command: a\ninputs: {}\ncommand: b\n", 3, "command", 1),
    ("a: [1]\na: [2, 3]\n", 2, "a", 1),
    ("inputs:\n  seed: 1\n  seed: 2\n", 3, "seed", 2),
    ("- {seed: 1, seed: 2}\n", 1, "seed", 1),
    ("1: a\n'1': b\n", 2, "1", 1),
]


@pytest.mark.parametrize(("text", "line", "key", "first"), DUPLICATES)
def test_a_key_given_twice_is_refused_naming_file_line_and_key(text: str, line: int, key: str, first: int) -> None:
    with pytest.raises(InputError) as caught:
        parse_yaml(text, "my.yml")
    message = str(caught.value)
    assert message.startswith(f"my.yml: line {line}: key {key!r} appears twice (first on line {first})")
    assert "\n" not in message and caught.value.exit_code == 2


BILLION_LAUGHS = "a: &a ['lol','lol','lol','lol','lol','lol','lol','lol','lol']\n" + "".join(
    f"{chr(98 + i)}: &{chr(98 + i)} [{','.join(['*' + chr(97 + i)] * 9)}]\n" for i in range(8)
)


def test_an_alias_bomb_is_refused_in_bounded_time_and_memory() -> None:
    tracemalloc.start()
    started = time.monotonic()
    try:
        with pytest.raises(InputError) as caught:
            parse_yaml(BILLION_LAUGHS, "job.yml")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert time.monotonic() - started < 5
    assert peak < 5_000_000
    assert str(caught.value).startswith("job.yml: line 2: uses the alias *a; write the value out in full")


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("base: &b {a: 1}\nother: *b\n", r"uses the alias \*b"),
        ("<<: {a: 1}\nb: 2\n", "merge key"),
        ("? [a, b]\n: 1\n", "key that is a list"),
        ("v: " + "[" * (MAX_DEPTH + 1) + "]" * (MAX_DEPTH + 1) + "\n", f"deeper than {MAX_DEPTH}"),
        ("v: " + "[" * 5000 + "]" * 5000 + "\n", f"deeper than {MAX_DEPTH}"),
    ],
    ids=["alias", "merge-key", "complex-key", "deep", "very-deep"],
)
def test_what_safe_load_takes_but_we_refuse(text: str, problem: str) -> None:
    with pytest.raises(InputError, match=problem):
        parse_yaml(text, "x.yml")


@pytest.mark.parametrize(
    ("text", "line"),
    [("a: [1\n", 2), ("a: 1\n b: 2\n", 2), ("a: 'x\n", 2), ("a: 1\n---\nb: 2\n", 2), ("a: b: c\n", 1)],
)
def test_syntax_errors_name_the_line(text: str, line: int) -> None:
    with pytest.raises(InputError) as caught:
        parse_yaml(text, "x.yml")
    assert caught.value.key == f"line {line}"
    assert "is not valid YAML" in str(caught.value) and "fix the YAML syntax" in str(caught.value)


def test_file_problems_are_input_errors(tmp_path: Path) -> None:
    latin = tmp_path / "latin.yml"
    latin.write_bytes(b"a: 1\nb: caf\xe9\n")
    with pytest.raises(InputError, match=r"line 2: is not UTF-8 text"):
        read_yaml_file(latin, "fix it")
    with pytest.raises(InputError, match="is not a regular file; fix it"):
        read_yaml_file(tmp_path, "fix it")
    with pytest.raises(InputError, match="file not found; fix it"):
        read_yaml_file(tmp_path / "absent.yml", "fix it")
