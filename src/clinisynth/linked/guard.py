"""The patient guard: no synthetic patient, with all their rows, closer to a training patient
than training patients usually are to each other.

Each patient is one row of :func:`clinisynth.audit.linked.patient_rows` (the parent row, each
child's count, span, mean, first three and last values), its numeric columns standardised
(missing as the training mean). The threshold is the 5th percentile of the training patients'
distances to their nearest other training patient; a synthetic patient nearer than it to some
training patient is refused and drawn again, whole. Like the single-table guard, it keeps the
training patients' encodings in the model.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.neighbors import NearestNeighbors

QUANTILE = 0.05


@dataclass
class PatientGuard:
    columns: list[str]
    mean: np.ndarray
    scale: np.ndarray
    records: np.ndarray
    threshold: float

    @classmethod
    def fit(cls, rows: pd.DataFrame) -> PatientGuard | None:
        """From the training patients' rows; None when there are too few to judge."""
        columns = [c for c in rows.columns if pd.api.types.is_numeric_dtype(rows[c])
                   and rows[c].notna().any() and rows[c].nunique() > 1]
        if len(rows) < 10 or not columns:
            return None
        x = rows[columns].to_numpy(dtype=float)
        mean = np.nanmean(x, axis=0)
        scale = np.nanstd(x, axis=0)
        scale[scale == 0] = 1.0
        z = np.where(np.isnan(x), 0.0, (x - mean) / scale)
        dist, _ = NearestNeighbors(n_neighbors=2).fit(z).kneighbors(z)
        return cls(columns, mean, scale, z.astype(np.float32),
                   float(np.quantile(dist[:, 1], QUANTILE)))

    def refused(self, rows: pd.DataFrame) -> np.ndarray:
        """The synthetic patients nearer to a training patient than the threshold."""
        if rows.empty:
            return np.zeros(0, dtype=bool)
        x = rows.reindex(columns=self.columns).apply(pd.to_numeric, errors="coerce")
        z = np.where(np.isnan(x.to_numpy(dtype=float)), 0.0,
                     (x.to_numpy(dtype=float) - self.mean) / self.scale)
        dist, _ = NearestNeighbors(n_neighbors=1).fit(self.records).kneighbors(z)
        return dist[:, 0] < self.threshold
