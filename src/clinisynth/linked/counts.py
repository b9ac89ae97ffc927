"""Children per patient: the drawn counts mapped onto the training patients' protected counts.

The hybrid draws each child's count ``c.n`` together with the patient's other columns, but its
calibration only moves a marginal part of the way, so the drawn counts drift from the real ones
by the model's noise on top of the training sample's. This step keeps the drawn order and
replaces the values by quantiles of the training counts: with ``r_i`` the rank of the ``i``-th
of ``m`` drawn counts (ties broken at random),

    n_i = F^{-1}((r_i + 1/2) / m),

``F`` the empirical CDF of the training patients' counts clipped to their protected ends
(:func:`clinisynth.protected_ends.protected_counts`: no count fewer than ``k`` patients reach is
written). For ``m`` equal to the number of training patients the synthetic counts are exactly
the protected training counts; rank correlations with the other columns are kept. The model
stores the histogram of those clipped counts, nothing per patient.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from clinisynth.protected_ends import protected_counts


@dataclass
class CountMarginal:
    """The protected training counts of one child as a histogram: ``values`` held by
    ``freq`` training patients each."""

    values: np.ndarray
    freq: np.ndarray

    @classmethod
    def fit(cls, counts: np.ndarray, k: int) -> CountMarginal:
        values, freq = np.unique(protected_counts(np.asarray(counts, dtype=float), k),
                                 return_counts=True)
        return cls(values.astype(int), freq.astype(int))

    def apply(self, drawn: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """The drawn counts with their order kept and their values the training quantiles."""
        drawn = np.nan_to_num(np.asarray(drawn, dtype=float), nan=0.0)
        m = len(drawn)
        if m == 0:
            return np.zeros(0, dtype=int)
        shuffled = rng.permutation(m)  # ties in random order
        ranks = np.empty(m, dtype=int)
        ranks[shuffled[np.argsort(drawn[shuffled], kind="stable")]] = np.arange(m)
        cdf = np.cumsum(self.freq) / self.freq.sum()
        at = np.searchsorted(cdf, (ranks + 0.5) / m, side="left")
        return self.values[np.minimum(at, len(self.values) - 1)]

    def to_dict(self) -> dict[str, Any]:
        return {"values": self.values.tolist(), "freq": self.freq.tolist()}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> CountMarginal:
        return cls(np.asarray(data["values"], dtype=int), np.asarray(data["freq"], dtype=int))
