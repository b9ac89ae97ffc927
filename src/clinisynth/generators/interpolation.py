"""Within-class interpolation (mixup inside one class).

``x_new = lam * x_i + (1 - lam) * x_j`` with ``x_i, x_j`` two distinct training rows of the same
class and ``lam ~ Beta(alpha, alpha)``. Rows stay inside the class's convex hull; the class mean is
preserved and the variance shrinks by ``E[lam^2 + (1 - lam)^2] = 1/2 + 1/(2(2 alpha + 1))``.
"""

from __future__ import annotations

import numpy as np

from clinisynth.generators.base import BaseGenerator, TrainingRowsMixin


class InterpolationGenerator(TrainingRowsMixin, BaseGenerator):
    name = "interpolation"

    def __init__(self, alpha: float = 1.0, seed: int | None = None) -> None:
        super().__init__(seed=seed)
        self.alpha = alpha

    def _fit(self, X: np.ndarray, y: np.ndarray) -> None:
        if not self.alpha > 0:
            raise ValueError("interpolation: alpha must be positive")
        self._store_rows(X, y)

    def _sample_class(self, k: int, n: int, rng: np.random.Generator) -> np.ndarray:
        rows = self._rows(k)
        i = rng.integers(0, len(rows), size=n)
        j = (i + rng.integers(1, len(rows), size=n)) % len(rows)  # j != i
        lam = rng.beta(self.alpha, self.alpha, size=(n, 1))
        return lam * rows[i] + (1.0 - lam) * rows[j]
