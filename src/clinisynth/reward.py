"""The weight search's reward: fidelity, utility and privacy on held-out validation rows.

For a weight vector ``w`` over the generators, the synthetic set is mixed from per-generator
pools (rows sampled once, per class, by generators fitted on the search split), calibrated and
decoded exactly as ``sample`` would, and scored against validation rows the generators never saw:

    R(w) = a * fidelity + b * utility - c * privacy_penalty
    fidelity = ((1 - mean KS) + pair-trend similarity) / 2           (0 to 1, higher is better)
    utility  = macro-F1 on validation of a logistic regression trained on the synthetic rows
    privacy_penalty = max(0, dcr_share - 0.5 - margin) / (0.5 - margin)

where ``dcr_share`` is the share of synthetic rows closer to the search split than to the
validation rows (0.5 means no memorisation). KS, pair trend and DCR share are the audit's own
functions, so the search optimises what the audit reports.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import f1_score

from clinisynth.audit.fidelity import ks_mean, pair_trend
from clinisynth.audit.privacy import DcrShare
from clinisynth.encoding import TableEncoder
from clinisynth.errors import ClinisynthError
from clinisynth.schema import TableSchema
from clinisynth.values import apportion

Decode = Callable[[np.ndarray, np.ndarray], pd.DataFrame]


@dataclass
class RewardWeights:
    """Weights of the reward's components and the DCR-share margin tolerated before a penalty."""

    fidelity: float = 1.0
    utility: float = 1.0
    privacy: float = 1.0
    privacy_margin: float = 0.05

    def __post_init__(self) -> None:
        for name in ("fidelity", "utility", "privacy"):
            value = getattr(self, name)
            if not (isinstance(value, int | float) and np.isfinite(value) and value >= 0):
                raise ClinisynthError(f"reward: {name} must be a non-negative number, got "
                                      f"{value!r}")
        margin = self.privacy_margin
        if not (isinstance(margin, int | float) and 0 <= margin < 0.5):
            raise ClinisynthError(f"reward: privacy_margin must be in [0, 0.5), got {margin!r}")

    def combine(self, fidelity: float, utility: float, dcr_share: float) -> float:
        excess = max(0.0, dcr_share - 0.5 - self.privacy_margin) / (0.5 - self.privacy_margin)
        return self.fidelity * fidelity + self.utility * utility - self.privacy * excess


class PoolReward:
    """``reward(w) -> (R, parts)`` for weight vectors over the pools' generators."""

    def __init__(self, pools: dict[str, tuple[np.ndarray, np.ndarray]], counts: np.ndarray,
                 decode: Decode, encoder: TableEncoder, schema: TableSchema,
                 search_rows: pd.DataFrame, validation: pd.DataFrame,
                 weights: RewardWeights, seed: int) -> None:
        self._dcr = DcrShare(search_rows, validation, schema, seed=seed)
        self.names = list(pools)
        self.pools = pools
        self.counts = counts
        self.decode = decode
        self.encoder = encoder
        self.schema = schema
        self.search_rows = search_rows
        self.validation = validation
        self.weights = weights
        self.seed = seed
        self._rng = np.random.default_rng(seed)
        self._X_val, self._y_val = encoder.transform(validation, self._rng)

    def mix(self, w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Rows for weights ``w``: class ``k``'s count split by ``w``, drawn without replacement."""
        Xs, ys = [], []
        for k, n_k in enumerate(self.counts):
            split = apportion(int(n_k), w)
            for name, m in zip(self.names, split, strict=True):
                if m:
                    X, y = self.pools[name]
                    rows = np.flatnonzero(y == k)
                    pick = self._rng.choice(rows, size=m, replace=False)
                    Xs.append(X[pick])
                    ys.append(y[pick])
        return np.vstack(Xs), np.concatenate(ys)

    def __call__(self, w: np.ndarray) -> tuple[float, dict[str, float]]:
        X, y = self.mix(np.asarray(w, dtype=float))
        frame = self.decode(X, y)
        ks = float(ks_mean(self.validation, frame, self.schema))
        trend = float(pair_trend(self.validation, frame, self.schema))
        if not np.isfinite(trend):
            trend = 1.0 - ks  # no numeric pairs: let KS speak for fidelity
        fidelity = 0.5 * (1.0 - ks) + 0.5 * trend
        utility = self._utility(frame)
        share = float(self._dcr(frame))
        reward = self.weights.combine(fidelity, utility, share)
        return reward, {"ks": ks, "pair_trend": trend, "fidelity": fidelity,
                        "utility_f1": utility, "dcr_share": share}

    def _utility(self, frame: pd.DataFrame) -> float:
        X, y = self.encoder.transform(frame, self._rng)
        if len(np.unique(y)) < 2:
            return 0.0
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            model = LogisticRegression(max_iter=300).fit(X, y)
        return float(f1_score(self._y_val, model.predict(self._X_val), average="macro"))
