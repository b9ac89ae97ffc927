"""Soft histogram mapping: a fixed blend of each value and its quantile-mapped value.

``x' = (1 - alpha) x + alpha H(x)`` per class and column, with ``H`` the histogram map
``F_r^{-1}(F_s(x))`` (:mod:`clinisynth.calibration.histogram`) and ``alpha`` in ``[0, 1]``
(``0``: unchanged, ``1``: full histogram mapping). A convex blend of an increasing and a
non-decreasing map is increasing (strictly for ``alpha < 1``), so within-class ranks and
Spearman correlations are kept. Each sorted value moves a fraction ``alpha`` of the way to its
real quantile, so the KS distance to the real class does not grow; the generator's own
marginal detail is partly kept, which is gentler on small or noisy references.
"""

from __future__ import annotations

import numpy as np

from clinisynth.calibration.base import BaseCalibrator, check_fraction
from clinisynth.calibration.histogram import quantile_map
from clinisynth.calibration.reference import ClassReference


class SoftCalibrator(BaseCalibrator):
    name = "soft"

    def __init__(self, alpha: float = 0.5) -> None:
        self.alpha = alpha

    def check_params(self) -> None:
        check_fraction(self.name, "alpha", self.alpha)

    def _transform_class(self, x: np.ndarray, ref: ClassReference, k: int) -> np.ndarray:
        a = float(self.alpha)
        return (1.0 - a) * x + a * quantile_map(x, ref)
