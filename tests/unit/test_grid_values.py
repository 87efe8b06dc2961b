"""rjobs.inputs.grid with values as written: the text R receives is the cell, two spellings of one argv are one
cell or refused, values no argument can carry are input errors, and grids are counted before they are built."""

from __future__ import annotations

import tracemalloc
from pathlib import Path
from typing import Any

import pytest

from rjobs.core.errors import InputError
from rjobs.core.values import MAX_ARG_STRLEN, argv_limit
from rjobs.inputs.grid import MAX_CELLS_CEILING, build_cells, cell_id
from rjobs.inputs.options import derive_run_name
from rjobs.inputs.spec import JobSpec, load_job_spec

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def spec() -> JobSpec:
    return load_job_spec(REPO / "job.yml")


def write_grid(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "my-grid.yml"
    path.write_text(text, encoding="utf-8")
    return path


# --- values as written, one cell per argv ----------------------------------------------------------------


def test_grid_values_are_the_text_as_written(spec: JobSpec, tmp_path: Path) -> None:
    path = write_grid(tmp_path, "seed: [010, 0x10, 1_000, '1:30', 1:31, yes, on, 1.5e-7, .nan, 2024-01-01, '7']\n")
    texts = ["010", "0x10", "1_000", "1:30", "1:31", "yes", "on", "1.5e-7", ".nan", "2024-01-01", "7"]
    assert [c.params["seed"] for c in build_cells(spec, grid_file=path)] == texts


@pytest.mark.parametrize(
    ("axis", "twice"),
    [("[true, 'true']", "true"), ('[16, "16"]', "16"), ("[1.0, '1.0']", "1.0"), ("[a, b, a]", "a")],
)
def test_two_spellings_of_one_argv_are_refused_as_a_duplicate(
    spec: JobSpec, tmp_path: Path, axis: str, twice: str
) -> None:
    path = write_grid(tmp_path, f"seed: {axis}\n")
    with pytest.raises(InputError) as caught:
        build_cells(spec, grid_file=path)
    assert str(caught.value) == (
        f"{path}: seed: lists {twice!r} twice (R would receive it the same way); remove the duplicate value"
    )


def test_distinct_spellings_are_distinct_cells(spec: JobSpec, tmp_path: Path) -> None:
    cells = build_cells(spec, grid_file=write_grid(tmp_path, "seed: [1, 1.0, '01', true, 'TRUE']\n"))
    assert len({c.cell_id for c in cells}) == 5


def test_explicit_cells_that_run_the_same_command_are_refused(spec: JobSpec, tmp_path: Path) -> None:
    path = write_grid(tmp_path, "- {seed: 1, model: lm}\n- {seed: '1', model: 'lm'}\n")
    with pytest.raises(InputError, match="is listed twice; remove the duplicate cell"):
        build_cells(spec, grid_file=path)
    with pytest.raises(InputError, match=r'\{"seed":2\}: runs as \{"model":"lm","seed":2\} does'):
        build_cells(spec, grid=[{"model": "lm", "seed": 2}, {"seed": 2}])  # lm is the job's own model


def test_a_key_twice_in_the_grid_file_is_refused_with_its_line(spec: JobSpec, tmp_path: Path) -> None:
    path = write_grid(tmp_path, "seed: [1]\nmodel: [lm]\nseed: [2, 3]\n")
    with pytest.raises(InputError) as caught:
        build_cells(spec, grid_file=path)
    assert str(caught.value).startswith(f"{path}: line 3: key 'seed' appears twice (first on line 1)")


@pytest.mark.parametrize(
    ("grid", "where"),
    [({"seed": ["a\x00b"]}, "seed"), ([{"seed": "x" * 200_000}], "[0].seed"), ({"features": ["\ud800"]}, "features")],
    ids=["nul", "too-long", "surrogate"],
)
def test_a_value_no_argument_can_carry_is_an_input_error(spec: JobSpec, grid: Any, where: str) -> None:
    with pytest.raises(InputError) as caught:
        build_cells(spec, grid=grid)
    assert caught.value.key == where and caught.value.exit_code == 2
    assert "data input" in caught.value.fix


def test_a_command_too_long_for_the_system_is_an_input_error(tmp_path: Path) -> None:
    uses = " ".join(["${{inputs.v}}"] * (argv_limit() // 100_000))
    job = tmp_path / "job.yml"
    job.write_text(f"command: Rscript a.R {uses} --tail=${{{{inputs.v}}}}\ninputs:\n  v: 1\n", encoding="utf-8")
    spec = load_job_spec(job)
    assert len(build_cells(spec, params=["v=" + "x" * 1000])) == 1
    with pytest.raises(InputError, match="bytes, more than this system starts") as caught:
        build_cells(spec, params=["v=" + "x" * 100_000])  # each argument fits; all of them do not
    assert caught.value.file == "--param" and caught.value.exit_code == 2
    with pytest.raises(InputError, match=r"makes argument \d+ of the command, which is 131072 bytes long") as caught:
        build_cells(spec, params=["v=" + "x" * (MAX_ARG_STRLEN - len("--tail="))])
    assert len(str(caught.value)) < 400


# --- big grids are counted, never built ------------------------------------------------------------------


def test_a_huge_param_grid_is_refused_without_building_it(spec: JobSpec) -> None:
    values = ",".join(str(n) for n in range(100_000))
    tracemalloc.start()
    try:
        with pytest.raises(InputError) as caught:
            build_cells(spec, params=[f"seed={values}", f"test_fraction={values}"])
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 100_000_000
    assert "has 10000000000 cells, more than the limit of 1000" in str(caught.value)
    assert "--max-cells 10000000000" not in caught.value.fix
    assert f"sweeps of at most {MAX_CELLS_CEILING} cells" in caught.value.fix


def test_a_grid_file_times_params_is_counted_before_it_is_built(spec: JobSpec, tmp_path: Path) -> None:
    axis = "[" + ", ".join(str(n) for n in range(1000)) + "]"
    path = write_grid(tmp_path, f"seed: {axis}\nfeatures: {axis}\n")
    with pytest.raises(InputError, match="has 1000000000 cells") as caught:
        build_cells(spec, grid_file=path, params=[f"model={','.join(str(n) for n in range(1000))}"])
    assert "--max-cells" not in caught.value.fix
    cells = build_cells(spec, grid_file=path, params=["seed=1", "features=a,b"], max_cells=2)
    assert [c.params for c in cells] == [{"seed": "1", "features": "a"}, {"seed": "1", "features": "b"}]


def test_the_max_cells_hint_never_exceeds_the_ceiling(spec: JobSpec) -> None:
    just = ",".join(str(n) for n in range(MAX_CELLS_CEILING))
    with pytest.raises(InputError) as caught:
        build_cells(spec, params=[f"seed={just}"])
    assert caught.value.fix.endswith(f"--max-cells {MAX_CELLS_CEILING}")
    with pytest.raises(InputError) as caught:
        build_cells(spec, params=[f"seed={just},x"], max_cells=10**12)
    assert f"limit of {10**12}" in str(caught.value) and "--max-cells" not in caught.value.fix


# Ids the previous release gave these cells when YAML typed their values: results folders it left still resume.
EARLIER_IDS = [
    ({"seed": 1, "model": "lm"}, "c36cf100fe"),
    ({"x": 0.1}, "c2b018c170"),
]


@pytest.mark.parametrize(("params", "earlier_id"), EARLIER_IDS)
def test_ordinary_values_keep_the_cell_ids_of_the_previous_release(params: dict[str, Any], earlier_id: str) -> None:
    as_written = {key: str(value) for key, value in params.items()}
    assert cell_id(as_written) == cell_id(params) == earlier_id


def test_a_value_yaml_used_to_retype_gets_its_own_id() -> None:
    assert cell_id({"x": "010"}) != cell_id({"x": 8})


def test_an_unchanged_job_keeps_the_run_name_of_the_previous_release(tmp_path: Path) -> None:
    job = tmp_path / "job.yml"
    job.write_text(
        'command: Rscript -e "1" --seed ${{inputs.seed}} --f ${{inputs.f}} --m ${{inputs.m}}\n'
        "inputs:\n  seed: 1\n  f: 0.2\n  m: lm\nenvironment: azureml:r-env@latest\nresources:\n  instance_count: 1\n"
    )
    spec = load_job_spec(job)
    assert derive_run_name(spec, build_cells(spec, grid={"seed": [1, 2]}), None) == "job-faac1f81"
