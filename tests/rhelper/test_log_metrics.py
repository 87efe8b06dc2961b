"""The R helper's log_metrics/log_params under real R: what it writes is exactly what the orchestrator reads."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rjobs.engine.ledger import read_metrics
from tests.rhelper.support import REPO, run_r

pytestmark = pytest.mark.r

# (R value, what read_metrics gives: a float, or None for "left out")
VALUES = [
    pytest.param("312.5", 312.5, id="plain"),
    pytest.param("0.1 + 0.2", 0.1 + 0.2, id="needs-17-digits"),
    pytest.param("1/3", 1 / 3, id="third"),
    pytest.param("pi", math.pi, id="pi"),
    pytest.param("100L", 100.0, id="integer"),
    pytest.param("-0.000123456789012345", -0.000123456789012345, id="small-negative"),
    pytest.param("5e-324", 5e-324, id="smallest-subnormal"),
    pytest.param(".Machine$double.xmin", 2.2250738585072014e-308, id="smallest-normal"),
    pytest.param(".Machine$double.xmax", 1.7976931348623157e308, id="largest"),
    pytest.param("123456789012345678", 123456789012345678.0, id="beyond-15-digits"),
    pytest.param("NA", None, id="NA"),
    pytest.param("NA_real_", None, id="NA_real_"),
    pytest.param("NA_integer_", None, id="NA_integer_"),
    pytest.param("NaN", None, id="NaN"),
    pytest.param("Inf", None, id="Inf"),
    pytest.param("-Inf", None, id="-Inf"),
]


@pytest.mark.parametrize(("r_value", "expected"), VALUES)
def test_a_metric_reads_back_exactly_and_a_missing_one_alone_is_left_out(
    tmp_path: Path, r_value: str, expected: float | None
) -> None:
    result = run_r(tmp_path, f"log_metrics(value = {r_value}, other = 2)\n")
    assert result.returncode == 0, result.stderr
    raw = json.loads((tmp_path / "outputs" / "metrics.json").read_text(encoding="utf-8"))
    assert "NA" not in raw.values() and "value" in raw
    metrics, reason = read_metrics(tmp_path / "outputs")
    assert reason == ""
    assert metrics == ({"other": 2.0} if expected is None else {"value": expected, "other": 2.0})


@settings(max_examples=4, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(st.lists(st.floats(allow_nan=False, allow_infinity=False), min_size=1, max_size=200))
def test_any_finite_double_round_trips_bit_for_bit(
    tmp_path_factory: pytest.TempPathFactory, numbers: list[float]
) -> None:
    folder = tmp_path_factory.mktemp("doubles")
    hexes = ", ".join(f'"{number.hex()}"' for number in numbers)
    code = f"x <- as.numeric(c({hexes}))\nlog_metrics(stats::setNames(as.list(x), sprintf('m%03d', seq_along(x))))\n"
    result = run_r(folder, code)
    assert result.returncode == 0, result.stderr
    metrics, _ = read_metrics(folder / "outputs")
    assert [metrics[f"m{i:03d}"] for i in range(1, len(numbers) + 1)] == numbers


# Written as a user writes them: UTF-8 in the script (R turns \u escapes in names into <U+...> in a C locale).
NAMES = ["ρ²", "naïve_rmse", "精度", 'with "quotes"', "back\\slash", "new\nline", "tab\there", "bell\x07"]


@pytest.mark.parametrize("lang", ["C.UTF-8", "C"])
def test_non_ascii_and_escaped_names_survive_in_any_locale(tmp_path: Path, lang: str) -> None:
    named = ", ".join(f"{json.dumps(name, ensure_ascii=False)} = {i}" for i, name in enumerate(NAMES))
    result = run_r(tmp_path, f"log_metrics(c({named}))\n", lang=lang)
    assert result.returncode == 0, result.stderr
    metrics, reason = read_metrics(tmp_path / "outputs")
    assert reason == "" and metrics == {name: float(i) for i, name in enumerate(NAMES)}


def test_calls_accumulate_later_values_win_and_the_output_folder_follows_the_option(tmp_path: Path) -> None:
    code = """
options(rjobs.outputs = "out/deep")
log_metrics(rmse = 1, mae = 2)
source(HELPER)  # sourced again by a second file of the script: nothing logged is lost
log_metrics(list(rmse = 0.5), c(r2 = 0.9))
log_params(model = "lm", trees = 500L, rate = 0.1, scaled = TRUE, kind = factor("b"), note = NA)
saveRDS(1, output_path("models", "m.rds"))
cat(output_path(), "\n")
"""
    result = run_r(tmp_path, code)
    assert result.returncode == 0, result.stderr
    outputs = tmp_path / "out" / "deep"
    assert result.stdout.strip() == "out/deep"
    assert read_metrics(outputs) == ({"rmse": 0.5, "mae": 2.0, "r2": 0.9}, "")
    params = json.loads((outputs / "params.json").read_text(encoding="utf-8"))
    assert params == {"model": "lm", "trees": 500, "rate": 0.1, "scaled": True, "kind": "b", "note": None}
    assert (outputs / "models" / "m.rds").is_file()
    assert sorted(p.name for p in outputs.iterdir()) == ["metrics.json", "models", "params.json"]


BAD_CALLS = [
    ('log_metrics(model = "lm")', "'model' must be one number"),
    ("log_metrics(rmse = c(1, 2))", "'rmse' must be one value, got 2"),
    ("log_metrics(1.5)", "every value needs a name"),
    ("log_metrics(ok = TRUE)", "'ok' must be one number"),
    ("log_metrics(c(a = 1, 2))", "every value needs a name"),
    ("log_params(p = list(1, 2))", "'p' must be one value, got 2"),
    ("log_params(f = function() 1)", "'f' must be one number, string or logical"),
]


@pytest.mark.parametrize(("call", "message"), BAD_CALLS)
def test_a_wrong_call_stops_the_script_with_a_sentence_and_writes_nothing(
    tmp_path: Path, call: str, message: str
) -> None:
    result = run_r(tmp_path, call + "\n")
    assert result.returncode != 0
    assert message in result.stderr
    assert not (tmp_path / "outputs" / "metrics.json").exists()


def test_the_demo_code_folder_carries_the_helper_unchanged() -> None:
    assert (REPO / "r_src" / "rjobs.R").read_bytes() == (REPO / "rjobs" / "rhelper" / "R" / "rjobs.R").read_bytes()


def test_installed_as_an_r_package_it_writes_the_same_file(tmp_path: Path) -> None:
    library = tmp_path / "library"
    library.mkdir()
    install = run_r(
        tmp_path / "install",
        f'install.packages("{(REPO / "rjobs" / "rhelper").as_posix()}", lib = "{library.as_posix()}",'
        " repos = NULL, type = 'source', quiet = TRUE)\n",
        prelude="",
    )
    assert install.returncode == 0, install.stderr
    code = "log_metrics(rmse = 0.1 + 0.2, gone = NA, 'é' = 1e-300)\n"
    packaged = run_r(tmp_path / "packaged", code, prelude=f'library(rjobs, lib.loc = "{library.as_posix()}")\n')
    sourced = run_r(tmp_path / "sourced", code)
    assert packaged.returncode == 0 and sourced.returncode == 0, packaged.stderr + sourced.stderr
    written = [(tmp_path / name / "outputs" / "metrics.json").read_bytes() for name in ("packaged", "sourced")]
    assert written[0] == written[1]
    assert read_metrics(tmp_path / "packaged" / "outputs") == ({"rmse": 0.1 + 0.2, "é": 1e-300}, "")
