"""rjobs.inputs.grid and rjobs.core.naming: which cells a sweep has, and the names that make re-runs idempotent."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pytest

from rjobs.core.errors import InputError
from rjobs.core.hashing import content_hash, hash_tree
from rjobs.core.naming import check_run_name, job_name, slug
from rjobs.core.values import typed_value, value_text
from rjobs.inputs.grid import (
    CELL_ID_LENGTH,
    Cell,
    build_cells,
    canonical_params,
    cell_id,
    parse_param_args,
)
from rjobs.inputs.spec import JobSpec, Scalar, load_job_spec

REPO = Path(__file__).resolve().parents[2]
MODELS = ["lm", "ranger"]
FEATURES = [
    "flipper_length_mm",
    "flipper_length_mm+species",
    "bill_length_mm+bill_depth_mm+flipper_length_mm+species+sex",
]


@pytest.fixture(scope="module")
def spec() -> JobSpec:
    return load_job_spec(REPO / "job.yml")


def params_of(cells: list[Cell]) -> list[dict[str, Scalar]]:
    return [dict(cell.params) for cell in cells]


def write_grid(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "my-grid.yml"
    path.write_text(text, encoding="utf-8")
    return path


# --- which cells ----------------------------------------------------------------------------------


def test_repo_grid_is_the_product_in_order(spec: JobSpec) -> None:
    cells = build_cells(spec, grid_file=REPO / "grid.yml")
    expected = [{"model": m, "features": f, "seed": s} for m in MODELS for f in FEATURES for s in ("1", "2")]
    assert len(cells) == 12
    assert params_of(cells) == expected
    assert [list(cell.params) for cell in cells] == [["model", "features", "seed"]] * 12
    assert len({cell.cell_id for cell in cells}) == 12


def test_explicit_cell_list_keeps_order_and_shape(spec: JobSpec) -> None:
    grid = [{"seed": 3, "model": "ranger"}, {"seed": 1}, {"model": "lm", "test_fraction": 0.5}]
    texts = [{"seed": "3", "model": "ranger"}, {"seed": "1"}, {"model": "lm", "test_fraction": "0.5"}]
    assert params_of(build_cells(spec, grid=grid)) == texts


def test_explicit_cell_list_from_a_file(spec: JobSpec, tmp_path: Path) -> None:
    path = write_grid(tmp_path, "- {model: lm, seed: 1}\n- {model: ranger, seed: 2}\n")
    assert params_of(build_cells(spec, grid_file=path)) == [
        {"model": "lm", "seed": "1"},
        {"model": "ranger", "seed": "2"},
    ]


def test_scalar_axis_is_one_value(spec: JobSpec) -> None:
    assert params_of(build_cells(spec, grid={"model": "lm", "seed": [1, 2]})) == [
        {"model": "lm", "seed": "1"},
        {"model": "lm", "seed": "2"},
    ]


def test_no_grid_is_one_cell_of_the_job_as_written(spec: JobSpec) -> None:
    cells = build_cells(spec)
    assert params_of(cells) == [{}]


def test_param_alone(spec: JobSpec) -> None:
    assert params_of(build_cells(spec, params=["seed=1,2"])) == [{"seed": "1"}, {"seed": "2"}]


def test_params_multiply(spec: JobSpec) -> None:
    cells = build_cells(spec, params=["seed=1,2", "model=lm,ranger"])
    assert params_of(cells) == [
        {"seed": "1", "model": "lm"},
        {"seed": "1", "model": "ranger"},
        {"seed": "2", "model": "lm"},
        {"seed": "2", "model": "ranger"},
    ]


def test_param_adds_an_axis_to_a_grid_file(spec: JobSpec) -> None:
    cells = build_cells(spec, grid_file=REPO / "grid.yml", params=["test_fraction=0.2,0.3"])
    assert len(cells) == 24
    assert {c.params["test_fraction"] for c in cells} == {"0.2", "0.3"}


def test_param_overrides_an_axis_of_a_grid_file(spec: JobSpec) -> None:
    cells = build_cells(spec, grid_file=REPO / "grid.yml", params=["seed=7,8,9"])
    expected = [{"model": m, "features": f, "seed": s} for m in MODELS for f in FEATURES for s in ("7", "8", "9")]
    assert params_of(cells) == expected


def test_param_overrides_an_axis_of_a_one_seed_grid(spec: JobSpec) -> None:
    cells = build_cells(spec, grid={"model": MODELS, "seed": [1]}, params=["seed=5,6"])
    assert params_of(cells) == [
        {"model": "lm", "seed": "5"},
        {"model": "lm", "seed": "6"},
        {"model": "ranger", "seed": "5"},
        {"model": "ranger", "seed": "6"},
    ]


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("1", "1"),
        ("-3", "-3"),
        ("0.5", "0.5"),
        ("010", "010"),
        ("1e-7", "1e-7"),
        ("0x10", "0x10"),
        ("yes", "yes"),
        ("true", "true"),
        ("a b", "a b"),
        ("lm", "lm"),
        ("'1'", "1"),
        ("' padded '", " padded "),
        ('"tab\\there"', "tab\there"),
        ("", ""),
        ("null", "null"),
        ("[1", "[1"),
        ("{a: 1}", "{a: 1}"),
        ("2024-01-01", "2024-01-01"),
        ("'open", "'open"),
        ("'a' b", "'a' b"),
    ],
)
def test_param_values_are_the_text_as_written(text: str, value: str) -> None:
    (parsed,) = parse_param_args([f"x={text}"])["x"]
    assert parsed == value
    assert type(parsed) is str


def test_param_splits_on_commas_and_strips_the_key() -> None:
    assert parse_param_args([" seed = 1, 2", "model=lm"]) == {"seed": ["1", "2"], "model": ["lm"]}


# --- cell ids -------------------------------------------------------------------------------------


def test_cell_id_is_pinned() -> None:
    assert cell_id({"seed": "1"}) == "c" + hashlib.sha256(b'{"seed":1}').hexdigest()[:9] == "cfbe47f6d8"
    assert cell_id({"seed": "01"}) == "c" + hashlib.sha256(b'{"seed":"01"}').hexdigest()[:9]


@pytest.mark.parametrize(
    "params",
    [{"seed": 1}, {"model": "lm", "seed": 2, "features": "a+b"}, {"x": "é 你好"}, {"b": True, "f": 0.25}, {}],
)
def test_cell_id_shape_and_order_independence(params: dict[str, Scalar]) -> None:
    identifier = cell_id(params)
    assert len(identifier) == CELL_ID_LENGTH == 10
    assert identifier[0].isalpha()
    assert identifier == cell_id(dict(reversed(list(params.items()))))
    assert identifier == Cell(params=params).cell_id
    assert json.loads(canonical_params(params)) == {k: typed_value(value_text(v)) for k, v in params.items()}


def test_cell_id_is_the_text_r_receives() -> None:
    """A typed value (the Prefect form's JSON) and its text are one cell; texts that differ are two."""
    assert cell_id({"seed": 1}) == cell_id({"seed": "1"}) != cell_id({"seed": 1.0}) == cell_id({"seed": "1.0"})
    assert cell_id({"flag": True}) == cell_id({"flag": "true"}) != cell_id({"flag": "TRUE"})


# --- bad grids ------------------------------------------------------------------------------------

INPUT_LIST = "inputs: penguins, model, features, test_fraction, seed"

BAD_GRID_FILES = [
    pytest.param("{}\n", None, "give key: [values]", id="empty-mapping"),
    pytest.param("", None, "give key: [values]", id="empty-file"),
    pytest.param("[]\n", None, "at least one cell", id="empty-list"),
    pytest.param("seed: []\n", "seed", "at least one value", id="empty-axis"),
    pytest.param("seed: {a: 1}\n", "seed", "must be scalars", id="nested-mapping"),
    pytest.param("seed: [[1, 2], [3]]\n", "seed", "must be scalars", id="list-of-lists"),
    pytest.param("seed: [1, null]\n", "seed", "must be scalars", id="null-value"),
    pytest.param("seed:\n", "seed", "must be scalars", id="null-axis"),
    pytest.param("- seed: 1\n- 3\n", "[1]", "key: value pairs", id="cell-not-mapping"),
    pytest.param("- seed: [1]\n", "[0].seed", "must be scalars", id="cell-with-list"),
    pytest.param("just text\n", None, "key: [values]", id="scalar-grid"),
    pytest.param("seed: [1\n", "line 2", "fix the YAML syntax", id="invalid-yaml"),
    pytest.param("alpha: [0.1]\nseed: [1]\n", "alpha", "add alpha under inputs", id="not-an-input"),
    pytest.param("- {seed: 1, model: lm}\n- {model: lm, seed: 1}\n", '{"model":"lm","seed":1}', "remove", id="dup"),
]


@pytest.mark.parametrize(("text", "key", "fix"), BAD_GRID_FILES)
def test_bad_grid_file(spec: JobSpec, tmp_path: Path, text: str, key: str | None, fix: str) -> None:
    path = write_grid(tmp_path, text)
    with pytest.raises(InputError) as caught:
        build_cells(spec, grid_file=path)
    error = caught.value
    assert str(path) in str(error)
    assert error.key == key
    if key is not None:
        assert key in str(error)
    assert fix in error.fix
    assert error.fix in str(error)


def test_missing_grid_file(spec: JobSpec, tmp_path: Path) -> None:
    with pytest.raises(InputError, match="file not found; pass --grid"):
        build_cells(spec, grid_file=tmp_path / "nope.yml")


def test_key_that_is_no_input_lists_the_inputs(spec: JobSpec) -> None:
    with pytest.raises(InputError) as caught:
        build_cells(spec, grid={"alpha": [1]})
    assert caught.value.file == "grid"
    assert f"is not an input of job.yml ({INPUT_LIST})" in str(caught.value)


BAD_PARAMS: list[Any] = [
    pytest.param(["seed"], "seed", "--param seed=1,2,3", id="no-equals"),
    pytest.param(["=1,2"], "=1,2", "--param seed=1,2,3", id="no-key"),
    pytest.param(["alpha=1"], "alpha", "add alpha under inputs", id="not-an-input"),
    pytest.param(["seed=1,1"], "seed", "remove the duplicate", id="duplicate"),
]


@pytest.mark.parametrize(("params", "key", "fix"), BAD_PARAMS)
def test_bad_param(spec: JobSpec, params: list[str], key: str, fix: str) -> None:
    with pytest.raises(InputError) as caught:
        build_cells(spec, params=params)
    assert caught.value.file == "--param"
    assert str(caught.value).startswith("--param: ")
    assert caught.value.key == key
    assert fix in caught.value.fix


@pytest.mark.parametrize(("max_cells", "ok"), [(12, True), (11, False), (1, False)])
def test_max_cells(spec: JobSpec, max_cells: int, ok: bool) -> None:
    grid_file = REPO / "grid.yml"
    if ok:
        assert len(build_cells(spec, grid_file=grid_file, max_cells=max_cells)) == 12
        return
    with pytest.raises(InputError) as caught:
        build_cells(spec, grid_file=grid_file, max_cells=max_cells)
    assert str(grid_file) in str(caught.value)
    assert f"has 12 cells, more than the limit of {max_cells}" in str(caught.value)
    assert "--max-cells 12" in caught.value.fix


# --- names (rjobs.core.naming) -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("attempt", "name"),
    [(0, "sweep-cfbe47f6d8"), (1, "sweep-cfbe47f6d8"), (2, "sweep-cfbe47f6d8-r2"), (10, "sweep-cfbe47f6d8-r10")],
)
def test_job_name(attempt: int, name: str) -> None:
    assert job_name("sweep", cell_id({"seed": 1}), attempt) == name


@pytest.mark.parametrize(
    ("name", "ok"),
    [
        ("r-penguins-1a2b3c4d", True),
        ("a", True),
        ("A_b-9", True),
        ("a" * 80, True),
        ("a" * 81, False),
        ("1abc", False),
        ("-abc", False),
        ("", False),
        ("has space", False),
        ("dot.name", False),
        ("é", False),
    ],
)
def test_check_run_name(name: str, ok: bool) -> None:
    if ok:
        assert check_run_name(name) == name
    else:
        with pytest.raises(InputError, match="is not a valid run name"):
            check_run_name(name)


@pytest.mark.parametrize(
    ("text", "expected"),
    [("r-penguins", "r-penguins"), ("My Experiment!", "My-Experiment"), ("2024 run", "r2024-run"), ("***", "sweep")],
)
def test_slug(text: str, expected: str) -> None:
    assert slug(text) == expected
    assert check_run_name(slug(text)) == expected


def test_content_hash_is_stable_and_unambiguous() -> None:
    assert content_hash(["a", "b"]) == content_hash(["a", "b"])
    assert len(content_hash(["a", "b"])) == 8
    assert content_hash(["a", "b"]) != content_hash(["b", "a"])
    assert content_hash(["ab", ""]) != content_hash(["a", "b"])


def test_hash_tree_follows_content_and_names(tmp_path: Path) -> None:
    def tree(root: Path, files: dict[str, str]) -> str:
        for name, text in files.items():
            (root / name).parent.mkdir(parents=True, exist_ok=True)
            (root / name).write_text(text, encoding="utf-8")
        return hash_tree(root)

    base = tree(tmp_path / "a", {"train.R": "x", "lib/u.R": "y"})
    assert tree(tmp_path / "b", {"lib/u.R": "y", "train.R": "x"}) == base
    assert tree(tmp_path / "c", {"train.R": "x", "lib/v.R": "y"}) != base
    assert tree(tmp_path / "d", {"train.R": "x", "lib/u.R": "z"}) != base
    assert hash_tree(tmp_path / "a" / "train.R") == hashlib.sha256(b"x").hexdigest()
