"""Post-hoc calibration of synthetic encoded matrices, per class, by monotone column maps.

After the generators sample and before decoding, each numeric column of each class is moved
toward the real class's distribution by a non-decreasing map, so within-class ranks and rank
correlations are kept and the decoder's rules (rounding, clipping, arg-max, missingness) still
apply. Calibrators are found by name (:func:`get_calibrator`) and composed with
:class:`CalibrationChain`::

    chain = CalibrationChain(["moment", "adaptive_soft"]).fit(X_real, y_real, numeric_columns)
    X_cal = chain.transform(X_syn, y_syn)

| name | map per class and column |
|---|---|
| ``moment`` | ``(x - m_s) / s_s * s_r + m_r`` |
| ``histogram`` | ``F_r^{-1}(F_s(x))`` |
| ``soft`` | ``(1 - alpha) x + alpha H(x)`` |
| ``adaptive_soft`` | as ``soft``, ``alpha = min(1, (KS / t) ** 2)``, ``t`` the noise-level KS |
| ``iterative_soft`` | ``soft`` steps until ``KS < tol`` per column |
"""

from clinisynth.calibration.base import BaseCalibrator
from clinisynth.calibration.chain import CalibrationChain
from clinisynth.calibration.reference import DEFAULT_QUANTILES, ClassReference, Reference
from clinisynth.calibration.registry import (
    get_calibrator,
    list_calibrators,
    make_calibrator,
    register,
)

__all__ = [
    "DEFAULT_QUANTILES",
    "BaseCalibrator",
    "CalibrationChain",
    "ClassReference",
    "Reference",
    "get_calibrator",
    "list_calibrators",
    "make_calibrator",
    "register",
]
