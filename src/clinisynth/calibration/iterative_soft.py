"""Iterative soft mapping: soft steps per column until its KS distance is below ``tol``.

Per class ``k`` and column ``j``: while ``KS_kj >= tol`` and fewer than ``max_iter`` steps were
taken, ``x <- (1 - alpha) x + alpha H(x)`` with ``H`` the histogram map; a column stops as soon as
it is within ``tol`` of the real class, the others keep stepping. Every step is monotone and
leaves the ranks unchanged, so ``H`` (a function of the ranks only) is the same at every step and
``t`` steps equal one soft step with ``alpha_t = 1 - (1 - alpha) ** t``: each column gets the
smallest blend on that geometric ladder that brings it within ``tol``. Ranks and within-class
Spearman correlations are kept; the KS distance never grows. ``n_iter_`` records the steps the
last ``transform`` took per class (the most any column needed) and ``converged_`` whether every
column of the class got below ``tol``.
"""

from __future__ import annotations

import numpy as np

from clinisynth.calibration.base import BaseCalibrator, check_fraction, check_positive
from clinisynth.calibration.histogram import quantile_map
from clinisynth.calibration.reference import ClassReference


class IterativeSoftCalibrator(BaseCalibrator):
    name = "iterative_soft"

    def __init__(self, alpha: float = 0.5, tol: float = 0.05, max_iter: int = 10) -> None:
        self.alpha = alpha
        self.tol = tol
        self.max_iter = max_iter

    def check_params(self) -> None:
        check_fraction(self.name, "alpha", self.alpha)
        check_positive(self.name, "tol", self.tol)
        check_positive(self.name, "max_iter", self.max_iter, integer=True)

    def _reset_diagnostics(self) -> None:
        self.n_iter_: dict[int, int] = {}
        self.converged_: dict[int, bool] = {}

    def _transform_class(self, x: np.ndarray, ref: ClassReference, k: int) -> np.ndarray:
        a, tol = float(self.alpha), float(self.tol)
        x = x.copy()
        target = quantile_map(x, ref)
        active = ref.ks(x) >= tol
        steps = 0
        while active.any() and steps < self.max_iter:
            x[:, active] = (1.0 - a) * x[:, active] + a * target[:, active]
            steps += 1
            active[active] = ref.subset(active).ks(x[:, active]) >= tol
        self.n_iter_[k] = steps
        self.converged_[k] = not active.any()
        return x
