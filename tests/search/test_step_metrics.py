"""outputs/metrics.jsonl as the orchestrator reads it while R appends to it: whole object lines with an integer
step only, a line still being written skipped, any text read without an exception."""

from __future__ import annotations

import json

from hypothesis import given
from hypothesis import strategies as st

from rjobs.core.step_metrics import parse_step_lines


def test_whole_lines_with_an_integer_step_and_numbers_only() -> None:
    text = (
        '{"step": 1, "loss": 2.5, "note": "x"}\n'
        '{"step": true, "loss": 1}\n'
        '{"step": 1.5, "loss": 1}\n'
        "not json\n"
        "[1, 2]\n"
        '{"step": 2, "loss": null, "acc": 0.5}\n'
        '{"step": 3, "loss": 1.'
    )
    assert parse_step_lines(text) == [{"step": 1.0, "loss": 2.5}, {"step": 2.0, "acc": 0.5}]


@given(st.text())
def test_any_text_parses_without_an_exception(text: str) -> None:
    for entry in parse_step_lines(text):
        assert isinstance(entry["step"], float)


@given(st.lists(st.tuples(st.integers(0, 10**6), st.floats(allow_nan=False, allow_infinity=False)), max_size=20))
def test_what_log_metric_step_writes_reads_back(rows: list[tuple[int, float]]) -> None:
    text = "".join(json.dumps({"step": step, "loss": value}) + "\n" for step, value in rows)
    assert parse_step_lines(text) == [{"step": float(step), "loss": value} for step, value in rows]
