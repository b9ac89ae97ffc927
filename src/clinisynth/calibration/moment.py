"""Moment matching: each column's class mean and standard deviation set to the real class's.

``x' = (x - m_s) / s_s * s_r + m_r`` per class ``k`` and column ``j``, with ``m_s, s_s`` the mean
and standard deviation (``ddof=0``) of the batch being transformed and ``m_r, s_r`` the real
class's. The map is affine with slope ``s_r / s_s > 0``, so it is strictly increasing: ranks,
Spearman correlations and (an affine map preserving them too) Pearson correlations within the
class are unchanged, and so is the shape of the marginal (skewness, kurtosis); only location and
scale move. A batch column with no spread (``s_s`` ~ 0) is moved to ``m_r``. It does not change
the shape, so it need not lower the KS distance when the shapes differ; chain it with a quantile
step (``["moment", "adaptive_soft"]``) for that.
"""

from __future__ import annotations

import numpy as np

from clinisynth.calibration.base import BaseCalibrator
from clinisynth.calibration.reference import ClassReference


class MomentCalibrator(BaseCalibrator):
    name = "moment"

    def __init__(self) -> None:
        pass

    def _transform_class(self, x: np.ndarray, ref: ClassReference, k: int) -> np.ndarray:
        m_s = x.mean(axis=0)
        s_s = x.std(axis=0)
        spread = s_s > 1e-12 * np.maximum(1.0, np.abs(m_s))  # rounding noise is no spread
        scale = np.divide(ref.std, s_s, out=np.zeros_like(s_s), where=spread)
        return (x - m_s) * scale + ref.mean
