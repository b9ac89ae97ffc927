"""The real data a calibrator aims at: per class and column, a bounded quantile table and moments.

For class ``k`` and calibrated column ``j`` the reference keeps

* ``Q`` quantiles ``q_kj(p_i)`` on the uniform grid ``p_i = i / (Q - 1)`` (``np.quantile``'s
  default linear interpolation between order statistics), so the real quantile function is
  ``F_r^{-1}(p) = interp(p, p_i, q_kj(p_i))``: piecewise linear, spanning the class's observed
  ``[min, max]`` and strictly increasing where the real values are distinct;
* the mean and standard deviation (``ddof=0``) and the class size ``n_k``.

Its CDF ``F_r`` is the inverse of that piecewise-linear quantile function (with a jump where real
values tie). The reference never holds rows: only per-column marginal summaries of fixed size
(``Q`` values per class and column, whatever the table's length). For a class with fewer than
``Q`` rows the grid still pins down that class's sorted values column by column (its marginals),
but not which values shared a row, so no patient's row can be rebuilt from it.

``ks`` is the one-sample Kolmogorov-Smirnov distance of a batch to ``F_r``, vectorised:
``D = max_i max(i/m - F_r(x_(i)), F_r(x_(i)-) - (i-1)/m)`` over the sorted batch.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from clinisynth.errors import ClinisynthError

Arrays = dict[str, np.ndarray]
DEFAULT_QUANTILES = 512


@dataclass(frozen=True)
class ClassReference:
    """One class's reference: ``quantiles`` (C × Q, rows non-decreasing), moments, size ``n``."""

    quantiles: np.ndarray
    mean: np.ndarray
    std: np.ndarray
    n: int

    @property
    def levels(self) -> np.ndarray:
        return np.linspace(0.0, 1.0, self.quantiles.shape[1])

    def subset(self, keep: np.ndarray) -> ClassReference:
        """The reference of the columns selected by ``keep`` (a mask or index array)."""
        return ClassReference(self.quantiles[keep], self.mean[keep], self.std[keep], self.n)

    def _knots(self, lo: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``q_j[lo]`` and ``q_j[lo + 1]`` for an index array ``lo`` (m × C)."""
        flat = self.quantiles.ravel()
        at = lo + np.arange(self.quantiles.shape[0]) * self.quantiles.shape[1]
        return flat[at], flat[at + 1]

    def ppf(self, p: np.ndarray) -> np.ndarray:
        """The real quantile function, column by column: ``p`` (m × C) in [0, 1] -> values.

        Equal to ``np.interp(p[:, j], levels, q_j)`` per column, vectorised over columns
        through the uniform grid (knot ``floor(p (Q - 1))``).
        """
        last = self.quantiles.shape[1] - 1
        pos = np.clip(p, 0.0, 1.0) * last
        lo = np.minimum(pos.astype(np.intp), last - 1)
        q0, q1 = self._knots(lo)
        return q0 + (pos - lo) * (q1 - q0)

    def cdf(self, x: np.ndarray, side: str = "right") -> np.ndarray:
        """``F_r(x)`` (``side="right"``) or its left limit ``F_r(x-)`` (``"left"``), x: m × C."""
        n_q = self.quantiles.shape[1]
        i = np.empty(x.shape, dtype=np.intp)
        for j, q in enumerate(self.quantiles):
            i[:, j] = np.searchsorted(q, x[:, j], side=side)
        # "right": q[i-1] <= x < q[i]; "left": q[i-1] < x <= q[i]; so q[i] > q[i-1] inside
        lo = np.clip(i - 1, 0, n_q - 2)
        q0, q1 = self._knots(lo)
        with np.errstate(divide="ignore", invalid="ignore"):
            p = (lo + (x - q0) / (q1 - q0)) / (n_q - 1)
        return np.where(i >= n_q, 1.0, np.where(i <= 0, 0.0, p))

    def ks(self, x: np.ndarray) -> np.ndarray:
        """Kolmogorov-Smirnov distance of each column of ``x`` (m × C) to ``F_r``: shape (C,)."""
        m = len(x)
        if m == 0:
            return np.zeros(x.shape[1])
        xs = np.sort(x, axis=0)
        i = np.arange(1, m + 1, dtype=np.float64)[:, None]
        above = (i / m - self.cdf(xs, "right")).max(axis=0)
        below = (self.cdf(xs, "left") - (i - 1) / m).max(axis=0)
        return np.maximum(above, below)


class Reference:
    """Per-class references of the calibrated columns of a real encoded matrix.

    Built with :meth:`from_data`; one instance can be shared by every step of a chain.
    """

    def __init__(self, classes: np.ndarray, columns: np.ndarray, n_features: int,
                 quantiles: np.ndarray, mean: np.ndarray, std: np.ndarray,
                 counts: np.ndarray) -> None:
        self.classes = np.asarray(classes, dtype=np.int64)
        self.columns = np.asarray(columns, dtype=np.int64)
        self.n_features = int(n_features)
        self.quantiles = np.asarray(quantiles, dtype=np.float64)  # K × C × Q
        self.mean = np.asarray(mean, dtype=np.float64)  # K × C
        self.std = np.asarray(std, dtype=np.float64)  # K × C
        self.counts = np.asarray(counts, dtype=np.int64)  # K

    @classmethod
    def from_data(cls, X: np.ndarray, y: np.ndarray, columns: Sequence[int],
                  n_quantiles: int = DEFAULT_QUANTILES, who: str = "calibration") -> Reference:
        """Summarise the real matrix ``X`` (n × d) with class codes ``y`` on ``columns``."""
        if isinstance(n_quantiles, bool) or not isinstance(n_quantiles, int | np.integer) \
                or n_quantiles < 2:
            raise ClinisynthError(
                f"{who}: n_quantiles must be an integer >= 2, got {n_quantiles!r}")
        X, y = check_xy(X, y, who, "real")
        cols = check_columns(columns, X.shape[1], who)
        if not np.isfinite(X[:, cols]).all():
            raise ClinisynthError(f"{who}: the real matrix has missing or infinite values "
                                  "in the calibrated columns")
        if not len(y):
            raise ClinisynthError(f"{who}: the real matrix has no rows")
        classes = np.unique(y)
        levels = np.linspace(0.0, 1.0, int(n_quantiles))
        quantiles = np.empty((len(classes), len(cols), len(levels)))
        mean = np.empty((len(classes), len(cols)))
        std = np.empty((len(classes), len(cols)))
        counts = np.empty(len(classes), dtype=np.int64)
        for i, k in enumerate(classes):
            part = X[np.ix_(y == k, cols)]
            counts[i] = len(part)
            if len(cols):
                quantiles[i] = np.quantile(part, levels, axis=0).T
                mean[i] = part.mean(axis=0)
                std[i] = part.std(axis=0)
        return cls(classes, cols, X.shape[1], quantiles, mean, std, counts)

    def index(self, k: int) -> int:
        pos = np.flatnonzero(self.classes == k)
        if not len(pos):
            raise KeyError(k)
        return int(pos[0])

    def for_class(self, k: int) -> ClassReference:
        i = self.index(k)
        return ClassReference(self.quantiles[i], self.mean[i], self.std[i], int(self.counts[i]))

    # -- persistence ----------------------------------------------------------------------------
    def get_state(self) -> tuple[dict[str, Any], Arrays]:
        return ({"n_features": self.n_features},
                {"classes": self.classes, "columns": self.columns, "quantiles": self.quantiles,
                 "mean": self.mean, "std": self.std, "counts": self.counts})

    @classmethod
    def from_state(cls, meta: dict[str, Any], arrays: Arrays) -> Reference:
        return cls(arrays["classes"], arrays["columns"], meta["n_features"], arrays["quantiles"],
                   arrays["mean"], arrays["std"], arrays["counts"])


def check_xy(X: np.ndarray, y: np.ndarray, who: str, what: str) -> tuple[np.ndarray, np.ndarray]:
    """``X`` as a float 2-D array and ``y`` as integer class codes, one per row."""
    try:
        X = np.asarray(X, dtype=np.float64)
        y_arr = np.asarray(y)
    except (TypeError, ValueError):
        raise ClinisynthError(f"{who}: the {what} matrix must be numeric") from None
    if X.ndim != 2 or y_arr.ndim != 1 or len(X) != len(y_arr):
        raise ClinisynthError(f"{who}: the {what} X must be 2-D with one class code per row")
    integral = np.issubdtype(y_arr.dtype, np.integer) or (
        np.issubdtype(y_arr.dtype, np.floating) and bool(np.all(y_arr == np.round(y_arr))))
    if len(y_arr) and not integral:
        raise ClinisynthError(f"{who}: the {what} class codes must be integers")
    return X, y_arr.astype(np.int64)


def check_columns(columns: Sequence[int], n_features: int, who: str) -> np.ndarray:
    """Distinct integer column indices inside ``[0, n_features)``."""
    cols = np.asarray(list(columns))
    if cols.size == 0:
        return np.zeros(0, dtype=np.int64)
    if cols.ndim != 1 or not np.issubdtype(cols.dtype, np.integer):
        raise ClinisynthError(f"{who}: columns must be a list of integer column indices, "
                              f"got {list(columns)!r}")
    bad = cols[(cols < 0) | (cols >= n_features)]
    if len(bad):
        raise ClinisynthError(f"{who}: column index {int(bad[0])} is out of range for a matrix "
                              f"with {n_features} columns")
    if len(np.unique(cols)) != len(cols):
        raise ClinisynthError(f"{who}: columns lists an index more than once")
    return cols.astype(np.int64)
