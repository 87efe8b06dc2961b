"""Every Azure ML distribution: samples within their bounds, with the spread the distribution has (fixed seed,
statistical tolerances several standard errors wide), written as R receives them; bad parameters name their key."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from rjobs.core.errors import InputError
from rjobs.search.space import parse_dimension, quantised

N = 4000


def draws(raw: dict[str, object]) -> list[str]:
    dimension = parse_dimension("s.yml", "p", {k: str(v) if not isinstance(v, list) else v for k, v in raw.items()})
    rng = np.random.default_rng(20261201)
    return [dimension.sample(rng) for _ in range(N)]


def numbers(raw: dict[str, object]) -> np.ndarray:
    return np.array([float(text) for text in draws(raw)])


def test_choice_takes_each_value_as_written_about_equally_often() -> None:
    texts = draws({"type": "choice", "values": ["010", "a b", "1e3"]})
    counts = {value: texts.count(value) for value in ("010", "a b", "1e3")}
    assert set(texts) == set(counts)
    assert all(abs(n / N - 1 / 3) < 0.03 for n in counts.values()), counts


def test_randint_is_uniform_over_zero_to_upper_minus_one() -> None:
    values = numbers({"type": "randint", "upper": 5})
    assert set(values) == {0, 1, 2, 3, 4}
    assert abs(values.mean() - 2.0) < 0.1
    assert all(str(int(v)) == t for v, t in zip(values[:50], draws({"type": "randint", "upper": 5})[:50], strict=True))


def test_uniform_fills_its_range_evenly() -> None:
    values = numbers({"type": "uniform", "min_value": -2, "max_value": 6})
    assert values.min() >= -2 and values.max() <= 6
    assert abs(values.mean() - 2.0) < 0.15
    assert abs(values.std() - 8 / math.sqrt(12)) < 0.1


def test_quniform_is_on_the_q_grid_and_written_without_float_noise() -> None:
    texts = draws({"type": "quniform", "min_value": 0, "max_value": 1, "q": 0.1})
    values = np.array([float(t) for t in texts])
    assert values.min() >= 0 and values.max() <= 1
    assert all(len(t.partition(".")[2]) <= 1 for t in texts), sorted(set(texts))
    assert set(np.round(values * 10)) == set(range(11))
    assert abs(values.mean() - 0.5) < 0.03


def test_loguniform_bounds_are_exponents_and_its_log_is_uniform() -> None:
    values = numbers({"type": "loguniform", "min_value": -6, "max_value": 0})
    assert values.min() >= math.exp(-6) and values.max() <= 1.0
    logs = np.log(values)
    assert abs(logs.mean() + 3) < 0.15
    assert abs(logs.std() - 6 / math.sqrt(12)) < 0.1


def test_qloguniform_rounds_exp_of_the_draw_to_q() -> None:
    values = numbers({"type": "qloguniform", "min_value": 0, "max_value": 4.6, "q": 1})
    assert values.min() >= 1 and values.max() <= 100
    assert np.all(values == np.round(values))
    assert abs(np.median(values) - math.exp(2.3)) < 1.5


@pytest.mark.parametrize("kind", ["normal", "qnormal"])
def test_normal_has_its_mean_and_standard_deviation(kind: str) -> None:
    raw: dict[str, object] = {"type": kind, "mu": 10, "sigma": 2}
    if kind == "qnormal":
        raw["q"] = 0.5
    values = numbers(raw)
    assert abs(values.mean() - 10) < 0.15
    assert abs(values.std() - 2) < 0.15
    if kind == "qnormal":
        assert np.all(values * 2 == np.round(values * 2))


@pytest.mark.parametrize("kind", ["lognormal", "qlognormal"])
def test_lognormal_is_exp_of_a_normal(kind: str) -> None:
    raw: dict[str, object] = {"type": kind, "mu": 1, "sigma": 0.5}
    if kind == "qlognormal":
        raw["q"] = 0.01
    values = numbers(raw)
    assert values.min() >= 0
    logs = np.log(np.maximum(values, 1e-9))
    assert abs(logs.mean() - 1) < 0.05
    assert abs(logs.std() - 0.5) < 0.05


def test_the_same_seed_gives_the_same_texts() -> None:
    raw = {"type": "loguniform", "min_value": -3, "max_value": 3}
    assert draws(raw) == draws(raw)


@pytest.mark.parametrize(
    ("raw", "key"),
    [
        ({"type": "gaussian", "mu": "0"}, "search_space.p.type"),
        ({"type": "uniform", "min_value": "1"}, "search_space.p.max_value"),
        ({"type": "uniform", "min_value": "2", "max_value": "1"}, "search_space.p.max_value"),
        ({"type": "uniform", "min_value": "a", "max_value": "1"}, "search_space.p.min_value"),
        ({"type": "uniform", "min_value": "0", "max_value": "1", "q": "1"}, "search_space.p.q"),
        ({"type": "quniform", "min_value": "0", "max_value": "1", "q": "0"}, "search_space.p.q"),
        ({"type": "normal", "mu": "0", "sigma": "-1"}, "search_space.p.sigma"),
        ({"type": "randint", "upper": "2.5"}, "search_space.p.upper"),
        ({"type": "choice", "values": []}, "search_space.p.values"),
        ({"type": "choice", "values": ["a", "a"]}, "search_space.p.values"),
        ({"type": "loguniform", "min_value": "0", "max_value": "900"}, "search_space.p.max_value"),
        ([1, 2], "search_space.p"),
    ],
)
def test_bad_distributions_name_their_key(raw: object, key: str) -> None:
    with pytest.raises(InputError) as caught:
        parse_dimension("s.yml", "p", raw)
    assert caught.value.key == key
    assert "\n" not in str(caught.value)


@given(st.floats(-1e6, 1e6, allow_nan=False), st.sampled_from(["0.1", "0.25", "1", "5", "0.001", "2.5"]))
def test_quantised_values_are_multiples_of_q_spelled_shortly(value: float, q_text: str) -> None:
    text = quantised(value, float(q_text), q_text)
    steps = float(text) / float(q_text)
    assert abs(steps - round(steps)) < 1e-6
    assert abs(float(text) - value) <= float(q_text) / 2 + 1e-6 * max(1.0, abs(value))
    assert len(text.partition(".")[2]) <= max(1, len(q_text.partition(".")[2]))
