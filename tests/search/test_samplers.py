"""Samplers: grid walks every combination once, random is reproducible by seed (and by trial index, whatever the
history), and the TPE sampler beats random on a smooth objective over a fixed set of seeds."""

from __future__ import annotations

import statistics

from rjobs.search.samplers import GridSampler, RandomSampler, Sampler, Told
from rjobs.search.space import parse_space
from rjobs.search.tpe import TPESampler

PLANE = parse_space(
    "s.yml",
    {
        "x": {"type": "uniform", "min_value": "-5", "max_value": "5"},
        "y": {"type": "uniform", "min_value": "-5", "max_value": "5"},
    },
)
SEEDS = range(20)
BUDGET = 20


def quadratic(params: dict[str, str]) -> float:
    return (float(params["x"]) - 1.3) ** 2 + (float(params["y"]) + 0.7) ** 2


def best_of(sampler: Sampler, budget: int = BUDGET) -> float:
    history: list[Told] = []
    for index in range(budget):
        params = sampler.ask(index, history)
        assert params is not None
        history.append(Told(params, quadratic(params)))
    return min(t.loss for t in history if t.loss is not None)


def test_grid_walks_every_combination_once_then_stops() -> None:
    space = parse_space(
        "s.yml", {"a": {"type": "choice", "values": ["1", "2"]}, "b": {"type": "choice", "values": ["x", "y", "z"]}}
    )
    sampler = GridSampler(space)
    points = [sampler.ask(i, []) for i in range(7)]
    assert points[6] is None
    assert len({tuple(sorted(p.items())) for p in points[:6] if p}) == 6


def test_random_is_the_same_for_the_same_seed_and_differs_for_another() -> None:
    first = [RandomSampler(PLANE, 7).ask(i, []) for i in range(10)]
    again = [RandomSampler(PLANE, 7).ask(i, []) for i in range(10)]
    other = [RandomSampler(PLANE, 8).ask(i, []) for i in range(10)]
    assert first == again
    assert all(a != b for a, b in zip(first, other, strict=True))


def test_random_trial_depends_on_its_index_not_on_the_history() -> None:
    sampler = RandomSampler(PLANE, 3)
    told = [Told(sampler.ask(i, []) or {}, float(i)) for i in range(4)]
    assert sampler.ask(4, told) == sampler.ask(4, [])


def test_tpe_is_deterministic_for_a_seed_and_history() -> None:
    history = [Told(RandomSampler(PLANE, 1).ask(i, []) or {}, float(i)) for i in range(8)]
    assert TPESampler(PLANE, 5).ask(8, history) == TPESampler(PLANE, 5).ask(8, history)


def test_tpe_ignores_failed_trials() -> None:
    ok = [Told(RandomSampler(PLANE, 1).ask(i, []) or {}, float(i)) for i in range(8)]
    failed = [Told({"x": "0", "y": "0"}, None) for _ in range(5)]
    assert TPESampler(PLANE, 5).ask(8, ok + failed) == TPESampler(PLANE, 5).ask(8, ok)


def test_tpe_beats_random_on_a_quadratic_over_fixed_seeds() -> None:
    """Best of 20 trials, 20 seeds: TPE's mean best is lower and it wins on most seeds (a sign test: 15 or more
    wins of 20 has probability 2% if the two were equally good)."""
    tpe = [best_of(TPESampler(PLANE, seed)) for seed in SEEDS]
    rand = [best_of(RandomSampler(PLANE, seed)) for seed in SEEDS]
    wins = sum(t < r for t, r in zip(tpe, rand, strict=True))
    print(
        f"best of {BUDGET}: TPE mean {statistics.fmean(tpe):.3f}, random mean {statistics.fmean(rand):.3f}, "
        f"TPE wins {wins}/{len(SEEDS)}"
    )
    assert statistics.fmean(tpe) < statistics.fmean(rand)
    assert wins >= 15


def test_tpe_handles_choices_and_integers() -> None:
    space = parse_space(
        "s.yml",
        {
            "kind": {"type": "choice", "values": ["a", "b", "c"]},
            "n": {"type": "randint", "upper": "10"},
            "lr": {"type": "qloguniform", "min_value": "-5", "max_value": "0", "q": "0.001"},
        },
    )

    def loss(p: dict[str, str]) -> float:
        return (p["kind"] != "b") * 5 + abs(int(p["n"]) - 7) + abs(float(p["lr"]) - 0.1)

    history: list[Told] = []
    for index in range(30):
        params = TPESampler(space, 0).ask(index, history)
        assert params is not None
        assert params["kind"] in ("a", "b", "c") and 0 <= int(params["n"]) <= 9
        history.append(Told(params, loss(params)))
    late = [t.params["kind"] for t in history[15:]]
    assert late.count("b") > len(late) / 2
