"""Frozen calibration maps: monotone, batch-independent, close to the chain on a large batch."""

from __future__ import annotations

import numpy as np
from scipy.stats import spearmanr

from clinisynth.calibration import CalibrationChain
from clinisynth.calibration.fitted import FittedCalibration


def _data(seed: int, n: int, shift: float) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, size=n)
    X = np.column_stack([rng.gamma(2.0, 1.0, size=n) + y, rng.normal(shift, 2.0, size=n),
                         rng.integers(0, 2, size=n)])
    return X, y


def test_fitted_maps_are_batch_independent_monotone_and_match_the_chain():
    real_X, real_y = _data(0, 400, 0.0)
    chain = CalibrationChain(["moment", "adaptive_soft"]).fit(real_X, real_y, [0, 1])
    ref_X, ref_y = _data(1, 40_000, 1.5)
    fitted = FittedCalibration.learn(chain, ref_X, ref_y)
    X, y = _data(2, 3_000, 1.5)
    out = fitted.transform(X, y)
    # a row's calibrated value does not depend on the batch it comes in
    parts = np.vstack([fitted.transform(X[:7], y[:7]), fitted.transform(X[7:], y[7:])])
    np.testing.assert_array_equal(out, parts)
    # untouched column; monotone per class and column (ranks kept)
    np.testing.assert_array_equal(out[:, 2], X[:, 2])
    for k in (0, 1):
        for j in (0, 1):
            rho = spearmanr(X[y == k, j], out[y == k, j]).statistic
            assert rho > 0.999999
    # on a large batch from the same distribution it does what the chain does, up to knots
    direct = chain.transform(X, y, report=False)
    assert np.abs(np.sort(out[:, 1]) - np.sort(direct[:, 1])).mean() < 0.05
    # values outside the reference draw's range are shifted, not clamped onto one value
    far = fitted.transform(np.array([[100.0, 100.0, 0.0], [101.0, 101.0, 0.0]]),
                           np.array([0, 0]))
    assert far[1, 0] - far[0, 0] == 1.0


def test_fitted_maps_round_trip_through_state():
    real_X, real_y = _data(0, 300, 0.0)
    chain = CalibrationChain(["histogram"]).fit(real_X, real_y, [0, 1])
    fitted = FittedCalibration.learn(chain, *_data(1, 5_000, 1.0))
    meta, arrays = fitted.get_state()
    again = FittedCalibration.from_state(meta, arrays)
    X, y = _data(3, 500, 1.0)
    np.testing.assert_array_equal(fitted.transform(X, y), again.transform(X, y))
