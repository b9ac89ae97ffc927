"""Histogram (quantile) mapping: each column's class distribution replaced by the real class's.

``x' = F_r^{-1}(F_s(x))`` per class and column, where ``F_s(x) = (rank(x) - 0.5) / m`` is the
batch's empirical CDF at mid-ranks (tied values share their average rank, so equal inputs get
equal outputs) and ``F_r^{-1}`` the real class's interpolated quantile function (see
:mod:`clinisynth.calibration.reference`). Both are non-decreasing, so the map is monotone:
within-class ranks and Spearman correlations are kept (strictly increasing where the real values
are distinct). For continuous data the calibrated marginal matches the real class's up to
``O(1/m + 1/n_k)`` in KS distance; the joint dependence (the copula) stays the generator's.
"""

from __future__ import annotations

import numpy as np
from scipy.stats import rankdata

from clinisynth.calibration.base import BaseCalibrator
from clinisynth.calibration.reference import ClassReference


def quantile_map(x: np.ndarray, ref: ClassReference) -> np.ndarray:
    """``H(x) = F_r^{-1}((rank(x) - 0.5) / m)``, column by column (x: m × C)."""
    p = (rankdata(x, axis=0) - 0.5) / len(x)
    return ref.ppf(p)


class HistogramCalibrator(BaseCalibrator):
    name = "histogram"

    def __init__(self) -> None:
        pass

    def _transform_class(self, x: np.ndarray, ref: ClassReference, k: int) -> np.ndarray:
        return quantile_map(x, ref)
