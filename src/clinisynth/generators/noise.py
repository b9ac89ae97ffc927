"""Gaussian noise injection: a real row of the class plus per-feature Gaussian noise.

``x_new = x_i + scale * sigma_k * eps``, ``eps ~ N(0, I)``, ``x_i`` a uniformly drawn training row
of class ``k`` and ``sigma_k`` the within-class standard deviation of each feature. The class mean
is preserved and the covariance grows to ``Sigma_k + scale^2 diag(sigma_k^2)``.
"""

from __future__ import annotations

import numpy as np

from clinisynth.generators.base import BaseGenerator, TrainingRowsMixin


class NoiseGenerator(TrainingRowsMixin, BaseGenerator):
    name = "noise"

    def __init__(self, scale: float = 0.5, seed: int | None = None) -> None:
        super().__init__(seed=seed)
        self.scale = scale

    def _fit(self, X: np.ndarray, y: np.ndarray) -> None:
        if not self.scale > 0:
            raise ValueError("noise: scale must be positive")
        self._store_rows(X, y)

    def _sample_class(self, k: int, n: int, rng: np.random.Generator) -> np.ndarray:
        rows = self._rows(k)
        sigma = rows.std(axis=0)
        base = rows[rng.integers(0, len(rows), size=n)]
        return base + self.scale * sigma * rng.standard_normal((n, rows.shape[1]))
