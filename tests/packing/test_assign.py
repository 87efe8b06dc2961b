"""Assigning items to packed jobs: longest first onto the least-loaded job, sizes from earlier durations."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rjobs.packing.assign import assign, estimate_sizes, makespan


@pytest.mark.parametrize(
    ("sizes", "jobs", "expected"),
    [
        ({"a": 1, "b": 1, "c": 1, "d": 1}, 2, [["a", "c"], ["b", "d"]]),  # all alike: round robin by id
        ({"a": 8, "b": 4, "c": 4, "d": 1}, 2, [["a", "d"], ["b", "c"]]),  # ties go to the first job
        ({"a": 5, "b": 3, "c": 3, "d": 3}, 3, [["a"], ["b", "d"], ["c"]]),
        ({"a": 1, "b": 2}, 5, [["b"], ["a"]]),  # never an empty job
    ],
)
def test_longest_first_onto_the_least_loaded_job(sizes: dict[str, float], jobs: int, expected: list[list[str]]) -> None:
    assert assign(list(sizes), jobs, sizes) == expected


def test_sizes_come_from_earlier_durations_else_their_median_else_equal() -> None:
    assert estimate_sizes(["a", "b", "c"], {"a": 10.0, "b": 2.0, "c": None}) == {"a": 10.0, "b": 2.0, "c": 6.0}
    assert estimate_sizes(["a", "b"], {}) == {"a": 1.0, "b": 1.0}


@given(
    st.dictionaries(st.text("abcdef0123", min_size=1, max_size=6), st.floats(0.01, 100), min_size=1, max_size=60),
    st.integers(1, 12),
)
def test_every_item_once_and_loads_within_one_item(sizes: dict[str, float], jobs: int) -> None:
    packs = assign(list(sizes), jobs, sizes)
    assert sorted(item for pack in packs for item in pack) == sorted(sizes)
    assert len(packs) == min(jobs, len(sizes)) and all(packs)
    loads = [sum(sizes[i] for i in pack) for pack in packs]
    assert max(loads) - min(loads) <= max(sizes.values()) + 1e-9  # LPT: no job ends a whole item after another
    assert assign(list(reversed(sizes)), jobs, sizes) == packs  # the order items arrive in changes nothing
    assert makespan(packs, sizes, 1) == pytest.approx(max(loads))
