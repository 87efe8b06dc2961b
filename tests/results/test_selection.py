"""rjobs.results.selection: the best cell by metric:min|max, deterministic ties, and clear errors."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from rjobs.core.errors import InputError
from rjobs.engine.ledger import CellRecord
from rjobs.inputs.result_options import Objective, parse_objective
from rjobs.results.selection import NoEligibleCellError, select_best


def rec(cell: str, state: str = "Completed", **metrics: float) -> CellRecord:
    return CellRecord(cell=cell, params={"seed": 1}, state=state, metrics=dict(metrics))


SWEEP = [
    rec("c3", rmse=310.0, r2=0.70),
    rec("c1", rmse=250.0, r2=0.90),
    rec("c2", rmse=300.0, r2=0.80),
]

# (case, records, spec, expected cell)
SELECT_CASES = [
    ("min picks the lowest", SWEEP, "rmse:min", "c1"),
    ("max picks the highest", SWEEP, "r2:max", "c1"),
    ("max of an error metric", SWEEP, "rmse:max", "c3"),
    ("min of a score", SWEEP, "r2:min", "c3"),
    (
        "tie on min goes to the smallest cell id",
        [rec("b", rmse=1.0), rec("a", rmse=1.0), rec("c", rmse=2.0)],
        "rmse:min",
        "a",
    ),
    ("tie on max goes to the smallest cell id", [rec("z", r2=0.9), rec("y", r2=0.9), rec("x", r2=0.1)], "r2:max", "y"),
    ("failed cells are ignored however good", [rec("a", "Failed", rmse=1.0), rec("b", rmse=9.0)], "rmse:min", "b"),
    ("cancelled cells are ignored", [rec("a", "Canceled", rmse=1.0), rec("b", rmse=9.0)], "rmse:min", "b"),
    ("in-flight cells are ignored", [rec("a", "Running", rmse=1.0), rec("b", rmse=9.0)], "rmse:min", "b"),
    ("cells without the metric are ignored", [rec("a", r2=0.99), rec("b", rmse=9.0, r2=0.1)], "r2:min", "b"),
    ("a cell lacking the metric never wins", [rec("a", mae=1.0), rec("b", rmse=9.0)], "rmse:min", "b"),
    ("NaN is not comparable, so ignored", [rec("a", rmse=math.nan), rec("b", rmse=9.0)], "rmse:min", "b"),
    ("-inf is ignored too", [rec("a", rmse=-math.inf), rec("b", rmse=9.0)], "rmse:min", "b"),
    ("goal and spaces are forgiving", SWEEP, "  rmse : MIN ", "c1"),
    ("negative values rank as numbers", [rec("a", loss=-1.0), rec("b", loss=-3.0)], "loss:min", "b"),
    ("a single cell is the best", [rec("only", rmse=5.0)], "rmse:max", "only"),
]


@pytest.mark.parametrize(("case", "records", "spec", "expected"), SELECT_CASES, ids=[c[0] for c in SELECT_CASES])
def test_select_best(case: str, records: list[CellRecord], spec: str, expected: str) -> None:
    best = select_best(records, spec)
    assert best is not None
    assert best.cell == expected, case


def test_ties_do_not_depend_on_record_order() -> None:
    records = [rec(c, rmse=1.0) for c in ("c9", "c2", "c5")]
    picks = {select_best(order, "rmse:min").cell for order in (records, records[::-1], records[1:] + records[:1])}  # type: ignore[union-attr]
    assert picks == {"c2"}


# (case, records, spec, completed, lacking, words in the message)
NONE_CASES = [
    (
        "no cell completed",
        [rec("a", "Failed", rmse=1.0), rec("b", "Canceled")],
        "rmse:min",
        0,
        0,
        ["no cell completed"],
    ),
    ("metric nobody has", SWEEP, "auc:max", 3, 3, ["'auc'", "3 of 3", "r2, rmse"]),
    ("only NaN values", [rec("a", rmse=math.nan)], "rmse:min", 1, 1, ["'rmse'", "1 of 1"]),
    ("empty sweep", [], "rmse:min", 0, 0, ["no cell completed"]),
]


@pytest.mark.parametrize(
    ("case", "records", "spec", "completed", "lacking", "words"), NONE_CASES, ids=[c[0] for c in NONE_CASES]
)
def test_no_eligible_cell(
    case: str, records: list[CellRecord], spec: str, completed: int, lacking: int, words: list[str]
) -> None:
    with pytest.raises(NoEligibleCellError) as caught:
        select_best(records, spec)
    error = caught.value
    assert (error.metric, error.completed, error.lacking, error.exit_code) == (
        spec.split(":")[0],
        completed,
        lacking,
        1,
    )
    message = str(error)
    assert "\n" not in message
    for word in words:
        assert word in message, (case, message)
    assert select_best(records, spec, required=False) is None


BAD_SPECS = ["", "rmse", "rmse:", ":min", "  :max", "rmse:lowest", "rmse:min:max", "rmse min", "rmse:min!", "r:mi n"]


@pytest.mark.parametrize("spec", BAD_SPECS)
def test_bad_spec_is_an_input_error_with_the_fix(spec: str) -> None:
    with pytest.raises(InputError) as caught:
        select_best(SWEEP, spec)
    message = str(caught.value)
    assert message.startswith("--select: ")
    assert "METRIC:min or METRIC:max" in message
    assert "e.g. rmse:min" in message
    assert caught.value.exit_code == 2


def test_bad_spec_fails_before_looking_at_records() -> None:
    with pytest.raises(InputError):
        select_best([rec("a", "Failed")], "rmse")  # would otherwise be NoEligibleCellError


# (spec, metric, goal, canonical)
PARSE_CASES = [
    ("rmse:min", "rmse", "min", "rmse:min"),
    ("R2:MAX", "R2", "max", "R2:max"),
    (" val loss : min ", "val loss", "min", "val loss:min"),
    ("metric.with.dots-and_dash:max", "metric.with.dots-and_dash", "max", "metric.with.dots-and_dash:max"),
]


@pytest.mark.parametrize(("spec", "metric", "goal", "canonical"), PARSE_CASES)
def test_parse_objective(spec: str, metric: str, goal: str, canonical: str) -> None:
    objective = parse_objective(spec)
    assert (objective.metric, objective.goal, str(objective)) == (metric, goal, canonical)
    assert parse_objective(objective) is objective


def test_option_name_is_in_the_message() -> None:
    with pytest.raises(InputError, match=r"^select: 'x'"):
        parse_objective("x", option="select")


def test_select_reads_records_from_a_ledger(tmp_path: Path) -> None:
    from tests.results.conftest import build_ledger, demo_cells

    ledger, _ = build_ledger(tmp_path, "demo", demo_cells())
    best = select_best(ledger.records(), Objective("rmse", "min"))
    assert best is not None
    assert (best.cell, best.params) == ("c121", {"features": "all", "model": "ranger", "seed": 1})
