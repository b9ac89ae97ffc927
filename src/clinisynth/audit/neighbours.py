"""Mixed-type nearest neighbours for the attacks (anonymeter's Gower-like distance).

Each column contributes at most 1 to an L1 (Manhattan) distance:

* numeric: ``|a - b| / range``, the range taken over train, holdout and synthetic together
  (so any two values differ by at most 1); a missing cell is imputed at the column's lower end
  and flagged by a 0/1 indicator, so missing against present costs 1 (plus the imputed gap);
* categorical: one-hot scaled by ½, so two different categories are at distance 1 and equal
  ones at 0 (missing is a category of its own).

Neighbour search uses scikit-learn's :class:`~sklearn.neighbors.NearestNeighbors` with the
Manhattan metric. The reference (synthetic) rows are shuffled by a seed before the search, so
ties (many identical rows in discrete tables) are broken at random, not by row order.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from sklearn.neighbors import NearestNeighbors

#: rows above which the queries run on every core (joblib threads inside scikit-learn)
PARALLEL_ROWS = 20_000


def gower_matrix(columns: Sequence[np.ndarray], numeric: Sequence[bool],
                 n_codes: Sequence[int]) -> np.ndarray:
    """Encode stacked columns (all frames concatenated) for the Manhattan distance above.

    ``columns[j]`` holds column ``j`` as floats (numeric values, or integer category codes
    ``0..n_codes[j]-1``; NaN = missing). Returns the encoded matrix, one row per input row.
    """
    parts = []
    for values, is_num, k in zip(columns, numeric, n_codes, strict=True):
        missing = np.isnan(values)
        if is_num:
            finite = values[~missing]
            lo, hi = (float(finite.min()), float(finite.max())) if len(finite) else (0.0, 1.0)
            span = hi - lo if hi > lo else 1.0
            parts.append(np.where(missing, 0.0, (values - lo) / span)[:, None])
            if missing.any():
                parts.append(missing.astype(float)[:, None])
        else:
            codes = np.where(missing, k, values).astype(np.int64)
            onehot = np.zeros((len(values), k + 1))
            onehot[np.arange(len(values)), codes] = 0.5
            parts.append(onehot[:, onehot.any(axis=0)])
    if not parts:
        return np.zeros((len(columns[0]) if columns else 0, 1))
    return np.hstack(parts)


def nearest_indices(query: np.ndarray, reference: np.ndarray, k: int,
                    rng: np.random.Generator) -> np.ndarray:
    """Indices (into ``reference``) of each query row's ``k`` nearest rows, ties at random."""
    k = max(1, min(int(k), len(reference)))
    order = rng.permutation(len(reference))
    jobs = -1 if len(query) * len(reference) > PARALLEL_ROWS ** 2 else None
    nn = NearestNeighbors(n_neighbors=k, metric="manhattan", n_jobs=jobs)
    nn.fit(reference[order])
    idx = nn.kneighbors(query, return_distance=False)
    return order[idx]
