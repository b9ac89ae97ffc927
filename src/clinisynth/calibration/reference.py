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

With ``smoothing`` (value protection, the pipeline's default) the quantiles are those of the
class's values with the rare ones kernel-smoothed (:func:`smoothed_quantiles`): a value at least
``k`` rows of the column hold stays as it is, a value fewer hold is spread by a kernel
(Silverman's bandwidth, capped at the distance to its ``k``-th nearest value). Why: a fresh draw
through the raw piecewise-linear ``F_r^{-1}`` puts synthetic values between each pair of
neighbouring real values, so where values are sparse (the tails, lab values recorded to a
decimal) a synthetic value sits beside one patient's value more often than beside an unseen
patient's, which is what univariate singling out ("the only patient near v") feeds on
(``benchmarks/singling_out_population.py``); the smoothed reference holds no such value.

``ks`` is the one-sample Kolmogorov-Smirnov distance of a batch to ``F_r``, vectorised:
``D = max_i max(i/m - F_r(x_(i)), F_r(x_(i)-) - (i-1)/m)`` over the sorted batch.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.ndimage import gaussian_filter1d

from clinisynth.errors import ClinisynthError

Arrays = dict[str, np.ndarray]
DEFAULT_QUANTILES = 512
#: bins of the kernel estimate of a column's rare values (per class)
_BINS = 4096
#: bandwidth levels of the kernel estimate (log-spaced up to the widest kernel)
_GROUPS = 12


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
                  n_quantiles: int = DEFAULT_QUANTILES, who: str = "calibration",
                  smoothing: float = 0.0, k: int = 5,
                  unsmoothed: Sequence[int] = ()) -> Reference:
        """Summarise the real matrix ``X`` (n × d) with class codes ``y`` on ``columns``; with
        ``smoothing`` > 0 each class's values that fewer than ``k`` rows of the column hold
        (all classes together) are kernel-smoothed (:func:`smoothed_quantiles`), except in the
        columns of ``unsmoothed`` (scores a step maps back through real values itself)."""
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
        skip = {int(c) for c in unsmoothed}
        smoothed = [j for j, c in enumerate(cols) if int(c) not in skip] if smoothing > 0 else []
        common = {j: common_values(X[:, cols[j]], k) for j in smoothed}
        for i, code in enumerate(classes):
            part = X[np.ix_(y == code, cols)]
            counts[i] = len(part)
            if len(cols):
                quantiles[i] = np.quantile(part, levels, axis=0).T
                for j in smoothed:
                    smooth = smoothed_quantiles(part[:, j], levels, smoothing, k, common[j])
                    if smooth is not None:
                        quantiles[i, j] = smooth
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


def common_values(x: np.ndarray, k: int) -> np.ndarray:
    """The values at least ``k`` rows of ``x`` hold."""
    values, held = np.unique(x, return_counts=True)
    return values[held >= k]


def bandwidth(x: np.ndarray) -> float:
    """Silverman's rule, ``0.9 · min(sd, IQR / 1.34) · n^(-1/5)`` (sd where the IQR is 0)."""
    sd = float(x.std())
    iqr = float(np.subtract(*np.percentile(x, [75, 25]))) / 1.34
    spread = min(sd, iqr) if iqr > 0 else sd
    return 0.9 * spread * len(x) ** -0.2


def neighbour_spans(x: np.ndarray, values: np.ndarray, k: int) -> np.ndarray:
    """For each of ``values`` (values of ``x``), the distance to its ``k``-th nearest other
    value of ``x`` (rows counted with their multiplicity; the widest gap where ``x`` has ``k``
    rows or fewer)."""
    xs = np.sort(x)
    n = len(xs)
    if n <= k:
        return np.full(len(values), float(xs[-1] - xs[0]))
    at = np.searchsorted(xs, values)
    window = at[:, None] + np.arange(-k, k + 1)[None, :]
    near = np.abs(xs[np.clip(window, 0, n - 1)] - values[:, None])
    near[(window < 0) | (window >= n)] = np.inf
    return np.sort(near, axis=1)[:, k]  # the self row is one of the k + 1 nearest


def smoothed_quantiles(x: np.ndarray, levels: np.ndarray, factor: float, k: int = 5,
                       common: np.ndarray | None = None, knn: bool = False
                       ) -> np.ndarray | None:
    """Quantiles at ``levels`` of ``x`` with its rare values smoothed, or None (kept raw).

    ``F(t) = (1/n) [Σ_{a common} n_a·1(a ≤ t) + Σ_{v rare} n_v·K_{h_v}(t; v)]``: each common
    value ``a`` (one of ``common``, the values at least ``k`` rows of the whole column hold; by
    default those at least ``k`` rows of ``x`` hold) stays a point mass, each other value ``v``
    is spread by a Gaussian kernel ``K_{h_v}`` reflected at ``min(x)`` and ``max(x)`` (so the
    support stays the observed range and the mass is kept), of bandwidth
    ``h_v = min(factor · bandwidth(x), span_k(v))``: Silverman's, but never wider than the
    distance to the ``k``-th nearest value (:func:`neighbour_spans`), so a value inside a
    cluster (site-numbered identifiers, a lab's heaped values) stays in it instead of filling
    the gaps between clusters. With ``knn``, ``h_v = factor · span_k(v)`` (a balloon kNN
    estimate): each kernel reaches ``k`` patients, also where the values are sparser than
    Silverman's bandwidth (a tail of follow-up times), so the kernels overlap there and the
    density has no peak at one patient's value. Computed on a ``_BINS``-bin grid, the rare
    values grouped by bandwidth (a binned kernel estimate per group). None for ``factor`` 0 or
    no rare value.
    """
    distinct, held = np.unique(x, return_counts=True)
    rare = held < k if common is None else ~np.isin(distinct, common)
    if factor <= 0 or not rare.any() or len(distinct) < 2:
        return None
    lo, hi = float(distinct[0]), float(distinct[-1])
    width = (hi - lo) / _BINS
    spans = neighbour_spans(x, distinct[rare], k)
    if knn:
        spans = factor * spans
        top = max(float(spans.max()), width / 4)
    else:
        top = factor * bandwidth(x)  # > 0: x has two distinct values
        spans = np.minimum(spans, top)
    # bandwidths to the nearest of _GROUPS log-spaced levels (a binned estimate per level)
    levels_h = np.geomspace(max(width / 4, top / 1e4), top, _GROUPS)
    group = np.abs(np.log(np.maximum(spans, levels_h[0]))[:, None]
                   - np.log(levels_h)[None, :]).argmin(axis=1)
    mass = np.zeros(_BINS)
    for g in np.unique(group):
        pick = group == g
        counts, edges = np.histogram(distinct[rare][pick], bins=_BINS, range=(lo, hi),
                                     weights=held[rare][pick].astype(np.float64))
        mass += gaussian_filter1d(counts, levels_h[g] / width, mode="reflect")
    edges = np.linspace(lo, hi, _BINS + 1)
    spread = np.concatenate(([0.0], np.cumsum(mass)))  # smoothed rare mass up to each edge
    atoms, weight = distinct[~rare], held[~rare].astype(np.float64)
    below = np.concatenate(([0.0], np.cumsum(weight)))  # atom mass before the i-th atom
    at_atoms = np.interp(atoms, edges, spread)
    # knots: each edge, and each atom twice (the CDF's left limit there, and its value)
    at = np.concatenate((edges, atoms, atoms))
    cdf = np.concatenate((spread + below[np.searchsorted(atoms, edges, "right")],
                          at_atoms + below[:-1], at_atoms + below[1:]))
    order = np.lexsort((cdf, at))
    out = np.interp(levels, np.maximum.accumulate(cdf[order]) / len(x), at[order])
    return np.where(levels >= 1.0, hi, np.where(levels <= 0.0, lo, out))


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
