"""Samplers ask for a trial's parameters by the trial's index: grid walks the product of choices, random draws
from a generator seeded by (seed, index, attempt), so the same seed gives the same trials on any machine and a
resumed study continues the same sequence whatever order trials finished in."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from rjobs.search.space import Dimension, grid_points


@dataclass(frozen=True)
class Told:
    """A finished trial as a sampler sees it: its parameters and its objective (None when it failed or lacked it).
    Values are oriented so that lower is better."""

    params: Mapping[str, str]
    loss: float | None


class Sampler(Protocol):
    def ask(self, index: int, history: Sequence[Told], attempt: int = 0) -> dict[str, str] | None:
        """Parameters for trial `index` (0-based) given the finished trials, or None when the space is exhausted;
        `attempt` > 0 asks again after a draw that repeated an earlier trial."""
        ...


def trial_rng(seed: int, index: int, attempt: int) -> np.random.Generator:
    """The generator of one trial's draw: PCG64 from a fixed seed sequence, the same on every machine."""
    return np.random.default_rng([seed, index, attempt])


class GridSampler:
    """Every combination of the choices, in order; a grid stops when it is walked."""

    def __init__(self, space: Mapping[str, Dimension]) -> None:
        self.points = grid_points(space)

    def ask(self, index: int, history: Sequence[Told], attempt: int = 0) -> dict[str, str] | None:
        position = index + attempt
        return dict(self.points[position]) if position < len(self.points) else None


class RandomSampler:
    """Independent draws of every dimension; reproducible by (seed, index, attempt)."""

    def __init__(self, space: Mapping[str, Dimension], seed: int) -> None:
        self.space = space
        self.seed = seed

    def ask(self, index: int, history: Sequence[Told], attempt: int = 0) -> dict[str, str] | None:
        rng = trial_rng(self.seed, index, attempt)
        return {name: dimension.sample(rng) for name, dimension in self.space.items()}
