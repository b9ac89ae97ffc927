"""Predictive mean matching: a numeric gap takes the observed value of a row whose predicted
value is close to its own, so the filled column keeps its relation to the others and its
marginal.

For a column ``c`` with gaps, a ridge regression ``ĉ = Xβ + β₀`` of its observed cells on the
other columns' values and the class indicators (not on the missing indicators) is fitted once,
on the training rows (at most :data:`FIT_ROWS`, evenly spaced), by chained equations: gaps start
at their class mean and, for :data:`FIT_ROUNDS` rounds, each column's regression is refitted and
its gaps set to their prediction. Filling a batch: within a class, the batch's rows where ``c``
is observed are ranked by ``ĉ``; a gap takes the value of one of the :data:`DONORS` rows nearest
in that ranking to its own ``ĉ``, drawn at random; :data:`FILL_ROUNDS` passes over the columns
(the second sees the first's fills). Kept: only values observed in the batch appear (the class
marginal of the observed cells), and a gap in one of two correlated labs takes a value that
agrees with the other (van Buuren, *Flexible Imputation of Missing Data*, 2nd ed., §3.4). The
model stores the coefficients only: donors come from the batch being encoded, never from the
saved model.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.linear_model import Ridge

#: chained-equation rounds that fit the regressions; fill passes over a batch
FIT_ROUNDS, FILL_ROUNDS = 3, 2
#: rows nearest in predicted value among which a gap's donor is drawn (the usual choice, 5)
DONORS = 5
#: most rows the regressions are fitted on (evenly spaced; a few dozen weights need no more)
FIT_ROWS = 20_000


class MatchedFill:
    """Per numeric column with gaps (its index in the encoded matrix): the regression weights
    over ``[X, class indicators]`` (0 on the columns it does not read) and the intercept."""

    def __init__(self, weights: dict[int, tuple[np.ndarray, float]], n_classes: int) -> None:
        self.weights = weights
        self.n_classes = n_classes

    @classmethod
    def fit(cls, X: np.ndarray, gaps: dict[int, np.ndarray], left_out: dict[int, list[int]],
            y: np.ndarray, n_classes: int) -> MatchedFill:
        """Chained ridge regressions (module doc) on ``X`` whose gaps (``gaps[i]``, rows where
        column ``i`` is missing) hold their class mean; ``left_out[i]``: the columns column
        ``i``'s regression does not read (itself and the missing indicators)."""
        if len(X) > FIT_ROWS:
            rows = np.linspace(0, len(X) - 1, FIT_ROWS).astype(np.int64)
            X, y, gaps = X[rows], y[rows], {i: holes[rows] for i, holes in gaps.items()}
        X = X.copy()
        weights: dict[int, tuple[np.ndarray, float]] = {}
        for _ in range(FIT_ROUNDS):
            for i, holes in gaps.items():
                design = _design(X, y, n_classes)
                design[:, left_out[i]] = 0.0
                model = Ridge(alpha=1.0).fit(design[~holes], X[~holes, i])
                weights[i] = (model.coef_.copy(), float(model.intercept_))
                X[holes, i] = model.predict(design[holes])
        return cls(weights, n_classes)

    def fill(self, X: np.ndarray, gaps: dict[int, np.ndarray], y: np.ndarray,
             rng: np.random.Generator) -> np.ndarray:
        """``X`` (gaps already holding a first fill) with each gap re-drawn by matching."""
        X = X.copy()
        for _ in range(FILL_ROUNDS):
            for i, holes in gaps.items():
                if i not in self.weights or not holes.any() or holes.all():
                    continue
                coef, intercept = self.weights[i]
                width = X.shape[1]  # [X, class indicators] @ coef without building the design
                predicted = X @ coef[:width] + coef[width:][y] + intercept
                X[holes, i] = _matched(X[:, i], predicted, holes, y, rng)
        return X

    def to_dict(self) -> dict[str, Any]:
        return {"n_classes": self.n_classes,
                "weights": {str(i): {"coef": w.tolist(), "intercept": b}
                            for i, (w, b) in self.weights.items()}}

    @classmethod
    def from_dict(cls, state: dict[str, Any]) -> MatchedFill:
        weights = {int(i): (np.asarray(w["coef"], dtype=float), float(w["intercept"]))
                   for i, w in state["weights"].items()}
        return cls(weights, int(state["n_classes"]))


def _design(X: np.ndarray, y: np.ndarray, n_classes: int) -> np.ndarray:
    return np.column_stack([X, np.eye(n_classes)[y]])


def _matched(values: np.ndarray, predicted: np.ndarray, holes: np.ndarray, y: np.ndarray,
             rng: np.random.Generator) -> np.ndarray:
    """A donor's value for each hole: within the hole's class (all rows if the class has no
    observed cell), one of the :data:`DONORS` observed rows nearest in predicted value."""
    out = np.empty(int(holes.sum()))
    hole_rows = np.flatnonzero(holes)
    for k in np.unique(y[hole_rows]):
        mine = y[hole_rows] == k
        donors = np.flatnonzero(~holes & (y == k))
        if donors.size == 0:
            donors = np.flatnonzero(~holes)
        donors = donors[np.argsort(predicted[donors], kind="stable")]
        at = np.searchsorted(predicted[donors], predicted[hole_rows[mine]])
        pick = at - DONORS // 2 + rng.integers(0, DONORS, size=at.size)
        out[mine] = values[donors[np.clip(pick, 0, donors.size - 1)]]
    return out
