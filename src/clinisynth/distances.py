"""One distance for privacy: the standardised mixed-type encoding, shared by guard and audit.

Each record (all columns, target included) becomes a vector: a numeric column contributes
``(x - mean) / std`` (train statistics; a missing cell contributes 0 plus a 0/1 missing flag), a
categorical column contributes its one-hot vector scaled by ``1/sqrt(2)``, so that two records
differing in one category are at distance 1, the same as a one-standard-deviation gap in one
numeric column. Distances are Euclidean in that space. What the guard refuses is exactly what the
privacy audit would flag, because both call :class:`RecordEncoder` and :func:`nearest_distances`.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.neighbors import NearestNeighbors

from clinisynth.encoding import category_codes
from clinisynth.schema import TableSchema
from clinisynth.threads import blas_limits, current_threads

_CAT_SCALE = 1.0 / np.sqrt(2.0)


class RecordEncoder:
    """Fit on a reference table (the training rows); encode any table with the same columns."""

    def __init__(self, schema: TableSchema) -> None:
        self.schema = schema

    def fit(self, df: pd.DataFrame) -> RecordEncoder:
        self.stats_: dict[str, tuple[float, float]] = {}
        self.gappy_: list[str] = []
        for col in self.schema.columns:
            series = df[col.name]
            if col.is_numeric:
                vals = pd.to_numeric(series, errors="coerce").astype(float)
                std = float(vals.std(ddof=0)) if vals.notna().sum() > 1 else 0.0
                self.stats_[col.name] = (float(vals.mean()), std if std > 0 else 1.0)
                if col.missing_rate > 0 or vals.isna().any():
                    self.gappy_.append(col.name)
        return self

    def transform(self, df: pd.DataFrame) -> np.ndarray:
        parts = []
        for col in self.schema.columns:
            series = df[col.name]
            if col.is_numeric:
                mean, std = self.stats_[col.name]
                vals = pd.to_numeric(series, errors="coerce").astype(float).to_numpy()
                z = (vals - mean) / std
                parts.append(np.nan_to_num(z, nan=0.0)[:, None])
                if col.name in self.gappy_:
                    parts.append(np.isnan(vals).astype(float)[:, None])
            else:
                width = len(col.categories or [])
                onehot = np.zeros((len(df), width + 1))  # last slot: missing or unseen
                codes = category_codes(series, col.categories or [])
                onehot[np.arange(len(df)), np.where(codes < 0, width, codes)] = _CAT_SCALE
                parts.append(onehot)
        return np.hstack(parts)

    def fit_transform(self, df: pd.DataFrame) -> np.ndarray:
        return self.fit(df).transform(df)


def nearest_distances(query: np.ndarray, reference: np.ndarray, k: int = 1,
                      exclude_self: bool = False) -> np.ndarray:
    """Euclidean distance from each query row to its ``k``-th nearest reference row.

    With ``exclude_self`` (query is reference), a row's own zero distance is skipped: this gives
    the leave-one-out nearest-neighbour distance of the reference to itself.
    """
    n_neighbors = k + 1 if exclude_self else k
    with blas_limits(current_threads()):  # one thread unless n_jobs says otherwise
        nn = NearestNeighbors(n_neighbors=min(n_neighbors, len(reference)),
                              n_jobs=current_threads()).fit(reference)
        dist, _ = nn.kneighbors(query)
    return dist[:, -1]
