"""bench/run_all.py writes only its own sections of bench/RESULTS.md (the hand-written summary and the upload results
around them stay), and calls the fan-out goal met only when both ratios are within it."""

from __future__ import annotations

import pytest

from bench.run_all import FULL_SECTION, SECTION, goal_text, replace_section

RESULTS = f"""# Benchmark results

## Upload throughput (issue 4)

upload table

## Issue 8 in short

hand-written summary

{SECTION}

old quick numbers

{FULL_SECTION}

old full numbers
"""


def test_quick_run_replaces_its_section_and_keeps_the_others() -> None:
    text = replace_section(RESULTS, SECTION, f"{SECTION}\n\nnew quick numbers\n")
    text = replace_section(text, FULL_SECTION, None)
    assert "new quick numbers" in text and "old quick numbers" not in text
    assert text.index("hand-written summary") < text.index(SECTION) < text.index("old full numbers")
    assert "upload table" in text


def test_full_run_replaces_the_last_section_only() -> None:
    text = replace_section(RESULTS, FULL_SECTION, f"{FULL_SECTION}\n\nnew full numbers\n")
    assert "new full numbers" in text and "old full numbers" not in text
    assert "old quick numbers" in text and "hand-written summary" in text


def test_a_missing_section_is_appended() -> None:
    text = replace_section("# Benchmark results\n", SECTION, f"{SECTION}\n\nnumbers\n")
    assert text.endswith("numbers\n") and text.startswith("# Benchmark results")


@pytest.mark.parametrize(
    ("ratio", "per_r_cpu_second", "met"),
    [(1.05, 1.08, True), (1.06, 1.17, False), (1.12, 1.02, False), (1.10, 1.10, True)],
)
def test_fan_out_goal_needs_both_ratios(ratio: float, per_r_cpu_second: float, met: bool) -> None:
    fan = {"ratios": {"lean": ratio}, "ratios_equal_r": {"lean": per_r_cpu_second}}
    text = goal_text(fan, "lean")
    assert text.startswith(f"{ratio:.2f} ({per_r_cpu_second:.2f} at equal R speed)")
    assert text.endswith("**met**" if met else "**not met**")
