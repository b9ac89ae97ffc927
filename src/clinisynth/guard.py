"""The privacy guard: refuse synthetic rows that single out a real patient.

Closeness is measured relative to the real data itself, in the audit's own distance
(:mod:`clinisynth.distances`). Let ``d_j`` be training row ``j``'s leave-one-out distance to its
nearest other training row, and ``tau`` the ``percentile``-th percentile of the ``d_j``. A synthetic
row ``s`` with nearest training row ``j`` at distance ``d(s, j)`` is refused when

    (d(s, j) < tau  or  d(s, j) == 0)   and   m_j < min_shared

where ``m_j`` is how many training rows share ``j``'s exact record. So a row is refused when it is
closer to a patient than real patients typically are to each other *and* that patient is
distinguishable; a synthetic row equal to a common pattern (many real patients share it, as in
tables of a few discrete columns) reveals nobody and is kept, so the guard does not thin out
common patterns. The synthesizer redraws refused rows and counts them.

The default ``percentile`` of 25 was chosen with ``benchmarks/ablation.py`` (four tables, 3 seeds):
against 5, the default hybrid's privacy loss fell from 0.145 to 0.034 on the liver table and from
0.068 to 0.015 on breast cancer, while mean KS moved by at most 0.002.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from sklearn.neighbors import NearestNeighbors
from threadpoolctl import threadpool_limits

from clinisynth.distances import RecordEncoder, nearest_distances
from clinisynth.errors import ClinisynthError
from clinisynth.schema import TableSchema


@dataclass
class GuardReport:
    """What the guard did in one ``sample`` call (summed over its chunks).

    Refused rows are never returned: they are redrawn from the mixture for up to ``max_rounds``
    rounds, then from the generators that do not resample real rows (``fallback``); if any row
    is still refused after that, ``sample`` raises instead of returning it.
    """

    threshold: float
    refused: int = 0  # rows refused over all rounds (each redraw counted again if refused again)
    rounds: int = 0  # most redraw rounds any chunk used
    fallback: int = 0  # refused rows redrawn from the non-resampling generators
    remaining: int = 0  # refused rows left (always 0 in a returned sample)
    by_rule: dict[str, int] = field(default_factory=dict)  # refusals per guard rule

    def add(self, other: GuardReport) -> None:
        """Fold another chunk's report into this one."""
        self.refused += other.refused
        self.rounds = max(self.rounds, other.rounds)
        self.fallback += other.fallback
        self.remaining += other.remaining
        for rule, count in other.by_rule.items():
            self.by_rule[rule] = self.by_rule.get(rule, 0) + count

    def count(self, rules: np.ndarray) -> None:
        """Count one round's refusals by rule (``rules``: the rule name of each refused row)."""
        names, counts = np.unique(rules, return_counts=True)
        self.refused += int(counts.sum())
        for rule, c in zip(names, counts, strict=True):
            self.by_rule[str(rule)] = self.by_rule.get(str(rule), 0) + int(c)

    def to_dict(self) -> dict[str, Any]:
        return {**vars(self), "by_rule": dict(self.by_rule)}


class PrivacyGuard:
    """Fit on the training table; ``refused(frame)`` marks synthetic rows too close to a patient."""

    def __init__(self, percentile: float = 25.0, min_shared: int = 3, max_rounds: int = 10) -> None:
        if not 0 <= percentile <= 100:
            raise ClinisynthError("privacy guard: percentile must be between 0 and 100")
        if min_shared < 1 or max_rounds < 0:
            raise ClinisynthError("privacy guard: min_shared >= 1 and max_rounds >= 0 needed")
        self.percentile = percentile
        self.min_shared = min_shared
        self.max_rounds = max_rounds

    def get_params(self) -> dict[str, Any]:
        return {"percentile": self.percentile, "min_shared": self.min_shared,
                "max_rounds": self.max_rounds}

    def fit(self, train: pd.DataFrame, schema: TableSchema) -> PrivacyGuard:
        self.encoder_ = RecordEncoder(schema).fit(train)
        records = self.encoder_.transform(train)
        loo = nearest_distances(records, records, exclude_self=True)
        self.threshold_ = float(np.percentile(loo, self.percentile))
        self._set_records(records)
        return self

    def _set_records(self, records: np.ndarray) -> None:
        self.records_ = records
        _, inverse, counts = np.unique(records, axis=0, return_inverse=True, return_counts=True)
        self.multiplicity_ = counts[inverse.ravel()]
        self._nn = NearestNeighbors(n_neighbors=1).fit(records)

    def check(self, synthetic: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        """``(refused, rule)``: a mask of refused rows and, per refused row, the rule's name."""
        refused = self.refused(synthetic)
        return refused, np.full(int(refused.sum()), "distance", dtype=object)

    def refused(self, synthetic: pd.DataFrame) -> np.ndarray:
        """Boolean mask of the synthetic rows the guard refuses."""
        with threadpool_limits(1):
            dist, idx = self._nn.kneighbors(self.encoder_.transform(synthetic))
        dist, idx = dist[:, 0], idx[:, 0]
        close = (dist < self.threshold_) | (dist <= 1e-12)
        return close & (self.multiplicity_[idx] < self.min_shared)

    # -- persistence (the training records are needed at sampling time) --------------------------
    def get_state(self) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        meta = {"params": self.get_params(), "threshold": self.threshold_,
                "stats": self.encoder_.stats_, "gappy": self.encoder_.gappy_}
        return meta, {"records": self.records_}

    @classmethod
    def from_state(cls, schema: TableSchema, meta: dict[str, Any],
                   arrays: dict[str, np.ndarray]) -> PrivacyGuard:
        guard = cls(**meta["params"])
        guard.encoder_ = RecordEncoder(schema)
        guard.encoder_.stats_ = {k: tuple(v) for k, v in meta["stats"].items()}
        guard.encoder_.gappy_ = list(meta["gappy"])
        guard.threshold_ = float(meta["threshold"])
        guard._set_records(arrays["records"])
        return guard
