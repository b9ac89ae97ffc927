"""Adaptive soft mapping: each column is blended toward its quantile map as far as it is off.

``x' = (1 - a_kj) x + a_kj H(x)`` per class ``k`` and column ``j`` (``H`` the histogram map), with

    a_kj = min(1, (KS_kj / t_k) ** power)

where ``KS_kj`` is the column's Kolmogorov-Smirnov distance to the real class before the step and
``t_k`` is ``ks_target`` or, by default, the distance sampling noise alone reaches: the asymptotic
5% critical value of the two-sample KS test between the ``m_k`` batch rows and the ``n_k`` real
rows, ``t_k = sqrt(-ln(0.025) / 2) * sqrt(1/m_k + 1/n_k)`` (about ``1.358 * sqrt(...)``).

Why this choice: a gap below ``t_k`` is indistinguishable from the sampling noise between two
samples of these sizes; mapping it away fully would only copy the training sample's noise (its
exact quantiles) into the synthetic data. So such columns move little, and the ``power = 2``
default makes that fade-out flat near zero (a column at half the noise level moves 25%, at a
quarter 6%), while a column whose gap is significant (``KS >= t_k``) is fully quantile-mapped.
The weight is continuous in ``KS``, so a slightly different batch gets a slightly different
correction. Each map is a convex blend of increasing maps, hence monotone: within-class ranks and
Spearman correlations are kept, and the KS distance does not grow. ``alpha_`` holds the weights
used by the last ``transform`` (per class, one per calibrated column).
"""

from __future__ import annotations

import math

import numpy as np

from clinisynth.calibration.base import BaseCalibrator, check_positive
from clinisynth.calibration.histogram import quantile_map
from clinisynth.calibration.reference import ClassReference

KS_CRITICAL_05 = math.sqrt(-math.log(0.025) / 2.0)  # two-sample KS, 5% level, asymptotic


def noise_ks(m: int, n: int) -> float:
    """The 5% critical KS distance between samples of sizes ``m`` and ``n``."""
    return KS_CRITICAL_05 * math.sqrt(1.0 / m + 1.0 / n)


class AdaptiveSoftCalibrator(BaseCalibrator):
    name = "adaptive_soft"

    def __init__(self, ks_target: float | None = None, power: float = 2.0) -> None:
        self.ks_target = ks_target
        self.power = power

    def check_params(self) -> None:
        if self.ks_target is not None:
            check_positive(self.name, "ks_target", self.ks_target)
        check_positive(self.name, "power", self.power)

    def _reset_diagnostics(self) -> None:
        self.alpha_: dict[int, np.ndarray] = {}

    def _transform_class(self, x: np.ndarray, ref: ClassReference, k: int) -> np.ndarray:
        target = noise_ks(len(x), ref.n) if self.ks_target is None else float(self.ks_target)
        alpha = np.minimum(1.0, (ref.ks(x) / target) ** float(self.power))
        self.alpha_[k] = alpha
        return (1.0 - alpha) * x + alpha * quantile_map(x, ref)
