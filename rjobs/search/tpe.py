"""Bayesian sampling as a Tree-structured Parzen Estimator (Bergstra et al. 2011), small enough to read: the told
trials are split into the best quarter and the rest, each side gets a Parzen density per dimension, and of candidates
drawn from the good density the one with the largest good/bad density ratio is asked. Failed trials are told as
failed and left out of both densities. Deterministic for a given (seed, index, attempt) and history."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np

from rjobs.search.samplers import Told, trial_rng
from rjobs.search.space import Dimension

N_STARTUP = 5
"""Random trials before the model is trusted (Optuna uses 10 for budgets in the hundreds; sweeps here are ~20)."""
N_CANDIDATES = 24
GAMMA = 0.25
FLOOR = 1e-12
_erf = np.frompyfunc(math.erf, 1, 1)


def _cdf(z: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + _erf(z / math.sqrt(2.0)).astype(float))


class Parzen:
    """A mixture of normals truncated to [low, high], one per observation plus a wide prior at the centre."""

    def __init__(self, points: Sequence[float], low: float, high: float) -> None:
        span = high - low
        mus = np.array([*points, (low + high) / 2.0], dtype=float)
        order = np.argsort(mus)
        sorted_mus = mus[order]
        padded = np.concatenate([[low], sorted_mus, [high]])
        gaps = np.maximum(padded[1:-1] - padded[:-2], padded[2:] - padded[1:-1])
        sigmas = np.empty_like(mus)
        sigmas[order] = np.clip(gaps, span / min(100.0, 1.0 + len(mus)), span)
        sigmas[-1] = span  # the prior stays wide
        self.mus, self.sigmas, self.low, self.high = mus, sigmas, low, high
        self.mass = _cdf((high - mus) / sigmas) - _cdf((low - mus) / sigmas)

    def sample(self, rng: np.random.Generator, size: int) -> np.ndarray:
        picks = rng.integers(len(self.mus), size=size)
        draws = rng.normal(self.mus[picks], self.sigmas[picks])
        for _ in range(100):  # redraw what fell outside, component kept: a truncated normal by rejection
            outside = (draws < self.low) | (draws > self.high)
            if not outside.any():
                break
            draws[outside] = rng.normal(self.mus[picks[outside]], self.sigmas[picks[outside]])
        return np.clip(draws, self.low, self.high)

    def log_pdf(self, xs: np.ndarray) -> np.ndarray:
        z = (xs[:, None] - self.mus[None, :]) / self.sigmas[None, :]
        density = np.exp(-0.5 * z**2) / (self.sigmas * math.sqrt(2 * math.pi) * np.maximum(self.mass, FLOOR))
        return np.log(np.maximum(density.mean(axis=1), FLOOR))


class Categorical:
    """Counts of each choice with one prior observation spread evenly over the choices."""

    def __init__(self, indices: Sequence[int], size: int) -> None:
        counts = np.bincount(np.asarray(indices, dtype=int), minlength=size).astype(float) + 1.0 / size
        self.p = counts / counts.sum()

    def sample(self, rng: np.random.Generator, size: int) -> np.ndarray:
        return rng.choice(len(self.p), size=size, p=self.p).astype(float)

    def log_pdf(self, xs: np.ndarray) -> np.ndarray:
        return np.log(self.p[xs.astype(int)])


def _estimator(dimension: Dimension, points: Sequence[float]) -> Parzen | Categorical:
    if dimension.is_choice:
        return Categorical([int(p) for p in points], len(dimension.values))
    return Parzen(points, *dimension.bounds())


class TPESampler:
    """Random for the first N_STARTUP told trials, then the candidate with the best good-to-bad density ratio."""

    def __init__(
        self, space: Mapping[str, Dimension], seed: int, n_startup: int = N_STARTUP, n_candidates: int = N_CANDIDATES
    ) -> None:
        self.space = space
        self.seed = seed
        self.n_startup = n_startup
        self.n_candidates = n_candidates

    def ask(self, index: int, history: Sequence[Told], attempt: int = 0) -> dict[str, str] | None:
        rng = trial_rng(self.seed, index, attempt)
        told = sorted((t for t in history if t.loss is not None), key=lambda t: t.loss)  # type: ignore[arg-type, return-value]
        if len(told) < self.n_startup:
            return {name: dimension.sample(rng) for name, dimension in self.space.items()}
        n_good = max(1, math.ceil(GAMMA * len(told)))
        good, bad = told[:n_good], told[n_good:]
        score = np.zeros(self.n_candidates)
        columns: dict[str, np.ndarray] = {}
        for name, dimension in self.space.items():
            good_model = _estimator(dimension, [dimension.internal_of(t.params[name]) for t in good])
            bad_model = _estimator(dimension, [dimension.internal_of(t.params[name]) for t in bad])
            columns[name] = good_model.sample(rng, self.n_candidates)
            score += good_model.log_pdf(columns[name]) - bad_model.log_pdf(columns[name])
        best = int(np.argmax(score))
        return {name: dimension.text_of(float(columns[name][best])) for name, dimension in self.space.items()}
