"""Rows as people read them: best first by the objective, cells without the metric last, metrics first and
rounded, the best marked."""

from __future__ import annotations

from rjobs.inputs.result_options import parse_objective
from rjobs.results.presentation import display_rows, sorted_rows

ROWS = [
    {"cell": "c1", "status": "Completed", "param.seed": "1", "metric.r2": "0.5", "metric.rmse": "310.123456"},
    {"cell": "c2", "status": "Failed", "param.seed": "2", "metric.r2": "", "metric.rmse": ""},
    {"cell": "c3", "status": "Completed", "param.seed": "3", "metric.r2": "0.7", "metric.rmse": "299.98765"},
]


def test_sorted_best_first_either_way_with_missing_metrics_last() -> None:
    assert [r["cell"] for r in sorted_rows(ROWS, parse_objective("rmse:min"))] == ["c3", "c1", "c2"]
    assert [r["cell"] for r in sorted_rows(ROWS, parse_objective("r2:max"))] == ["c3", "c1", "c2"]
    assert [r["cell"] for r in sorted_rows(ROWS, None)] == ["c1", "c2", "c3"]


def test_display_rows_put_the_selected_metric_first_rounded_and_mark_the_best() -> None:
    shown = display_rows(ROWS, parse_objective("rmse:min"), "c3")
    assert list(shown[0]) == ["best", "cell", "status", "rmse", "r2", "seed"]
    assert [(r["best"], r["rmse"]) for r in shown] == [("★", "300"), ("", "310.1"), ("", "-")]
