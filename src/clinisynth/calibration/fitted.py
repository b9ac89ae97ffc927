"""Calibration frozen into fixed per-class, per-column monotone maps, learned once at fit time.

The calibrators of a chain map a *batch*: ``F_s`` in ``F_r^{-1}(F_s(x))``, and the blend weights
of ``adaptive_soft``, are computed from the batch being calibrated. Applied to a stream of
chunks, or to a handful of redrawn rows, such maps differ from batch to batch, so a sample
produced in chunks would not equal the same sample produced at once, and a row the privacy guard
refused would keep coming back (the batch's rank that maps onto a given real quantile is always
filled by some row).

:class:`FittedCalibration` removes that dependence. At fit time the chain calibrates one large
reference draw ``R_k`` of each class from the fitted mixture; because every step is monotone per
column, the chain's effect on that draw is a non-decreasing function ``g_kj`` of each column,
recorded at ``Q`` knots ``u_i = q_{p_i}(R_kj)``, ``v_i = q_{p_i}(g_kj(R_kj))`` (``q_p``: p-quantile)
on a uniform grid ``p_i``. Afterwards every batch is mapped by the same piecewise-linear
``g_kj(x) = interp(x, u, v)``, continued beyond the outer knots with slope 1 (a shift), so

* the map is monotone per class and column: within-class ranks and rank correlations are kept,
  as with the chain itself;
* ``transform`` is a pure function of ``(x, k)``: chunks, redraws and workers all agree;
* on draws from the same mixture it reproduces the chain's calibration of a large batch, up to
  the knot resolution.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from clinisynth.calibration.chain import CalibrationChain
from clinisynth.calibration.reference import Arrays, check_xy
from clinisynth.errors import ClinisynthError

#: knots per class and column of a fitted map
DEFAULT_KNOTS = 1024


class FittedCalibration:
    """Fixed monotone maps ``g_kj`` learned from a chain's calibration of a reference draw."""

    def __init__(self, classes: np.ndarray, columns: np.ndarray, n_features: int,
                 inputs: np.ndarray, outputs: np.ndarray, steps: list[str]) -> None:
        self.classes = np.asarray(classes, dtype=np.int64)
        self.columns = np.asarray(columns, dtype=np.int64)
        self.n_features = int(n_features)
        self.inputs = np.asarray(inputs, dtype=np.float64)  # K × C × Q, non-decreasing rows
        self.outputs = np.asarray(outputs, dtype=np.float64)  # K × C × Q, non-decreasing rows
        self.steps = list(steps)

    @classmethod
    def learn(cls, chain: CalibrationChain, X_ref: np.ndarray, y_ref: np.ndarray,
              n_knots: int = DEFAULT_KNOTS) -> FittedCalibration:
        """Record ``chain``'s monotone maps on the reference draw ``(X_ref, y_ref)``."""
        X_ref, y_ref = check_xy(X_ref, y_ref, "calibration", "reference")
        cal = chain.transform(X_ref, y_ref, report=False)
        reference = chain.reference_
        cols = reference.columns
        classes = reference.classes
        missing = np.setdiff1d(classes, np.unique(y_ref))
        if len(missing):
            raise ClinisynthError(f"calibration: the reference draw has no row of class code "
                                  f"{int(missing[0])}")
        levels = np.linspace(0.0, 1.0, int(n_knots))
        inputs = np.empty((len(classes), len(cols), len(levels)))
        outputs = np.empty_like(inputs)
        for i, k in enumerate(classes):
            rows = y_ref == k
            if len(cols):
                inputs[i] = np.quantile(X_ref[np.ix_(rows, cols)], levels, axis=0).T
                outputs[i] = np.quantile(cal[np.ix_(rows, cols)], levels, axis=0).T
        return cls(classes, cols, reference.n_features, inputs, outputs, chain.steps)

    def transform(self, X: np.ndarray, y: np.ndarray) -> np.ndarray:
        """A calibrated copy of ``X``: column ``j`` of class ``k``'s rows through ``g_kj``."""
        X, y = check_xy(X, y, "calibration", "synthetic")
        if X.shape[1] != self.n_features:
            raise ClinisynthError(f"calibration: X has {X.shape[1]} columns, but fit saw "
                                  f"{self.n_features}")
        out = X.copy()
        for i, k in enumerate(self.classes):
            rows = np.flatnonzero(y == k)
            if not len(rows):
                continue
            for c, j in enumerate(self.columns):
                out[rows, j] = _monotone_map(X[rows, j], self.inputs[i, c], self.outputs[i, c])
        return out

    # -- persistence ----------------------------------------------------------------------------
    def get_state(self) -> tuple[dict[str, Any], Arrays]:
        return ({"n_features": self.n_features, "steps": self.steps},
                {"classes": self.classes, "columns": self.columns, "inputs": self.inputs,
                 "outputs": self.outputs})

    @classmethod
    def from_state(cls, meta: dict[str, Any], arrays: Arrays) -> FittedCalibration:
        return cls(arrays["classes"], arrays["columns"], meta["n_features"], arrays["inputs"],
                   arrays["outputs"], list(meta["steps"]))


def _monotone_map(x: np.ndarray, u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """``interp(x, u, v)`` inside ``[u_0, u_last]``, a unit-slope shift outside it.

    Repeated knots (a flat stretch of the reference draw) are collapsed to their first output,
    so ``np.interp`` sees strictly increasing abscissae and the map stays non-decreasing.
    """
    keep = np.r_[True, np.diff(u) > 0]
    u, v = u[keep], v[keep]
    y = np.interp(x, u, v)
    below, above = x < u[0], x > u[-1]
    y[below] = v[0] + (x[below] - u[0])
    y[above] = v[-1] + (x[above] - u[-1])
    return y
