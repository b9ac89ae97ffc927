"""SMOTE (imbalanced-learn) used as a sampler of new rows per class.

For class ``k``: ``x_new = x_i + lam (x_nn - x_i)``, ``lam ~ U(0, 1)``, ``x_nn`` one of the
``k_neighbors`` nearest same-class neighbours of a training row ``x_i``. Where the table has
categorical columns, SMOTENC is used on a matrix whose one-hot blocks are collapsed to codes; a new
row takes the most frequent category among its neighbours. Rows lie on segments between close
real rows of the same class, so they preserve local structure but sit near real patients.
"""

from __future__ import annotations

import numpy as np
from imblearn.over_sampling import SMOTE, SMOTENC

from clinisynth.encoding import ONEHOT
from clinisynth.generators.base import BaseGenerator, TrainingRowsMixin


class SMOTEGenerator(TrainingRowsMixin, BaseGenerator):
    name = "smote"

    def __init__(self, k_neighbors: int = 5, seed: int | None = None) -> None:
        super().__init__(seed=seed)
        self.k_neighbors = k_neighbors

    def _fit(self, X: np.ndarray, y: np.ndarray) -> None:
        if self.k_neighbors < 1:
            raise ValueError("smote: k_neighbors must be at least 1")
        self._store_rows(X, y)

    def _sample(self, counts: dict[int, int], rng: np.random.Generator) -> np.ndarray:
        X, y = self.X_, self.y_
        present = np.bincount(y, minlength=int(y.max()) + 1)
        k = max(1, min(self.k_neighbors, int(present[self.classes_].min()) - 1))
        strategy = {int(c): int(present[c]) + counts.get(int(c), 0) for c in self.classes_}
        seed = int(rng.integers(2**31 - 1))
        onehots = [b for b in self.blocks_ if b.kind == ONEHOT]
        if onehots:
            Xc, cat_idx = _collapse(X, onehots)
            sampler = SMOTENC(categorical_features=cat_idx, sampling_strategy=strategy,
                              k_neighbors=k, random_state=seed)
            Xr, yr = sampler.fit_resample(Xc, y)
            new = _expand(Xr[len(X):], onehots, X.shape[1])
        else:
            sampler = SMOTE(sampling_strategy=strategy, k_neighbors=k, random_state=seed)
            Xr, yr = sampler.fit_resample(X, y)
            new = Xr[len(X):]
        order = np.argsort(yr[len(X):], kind="stable")  # group by class, ascending
        return new[order]


def _collapse(X: np.ndarray, onehots: list) -> tuple[np.ndarray, list[int]]:
    """Replace each one-hot block by one integer code column (appended at the end)."""
    keep = np.ones(X.shape[1], dtype=bool)
    codes = []
    for b in onehots:
        keep[b.start:b.stop] = False
        codes.append(np.argmax(X[:, b.start:b.stop], axis=1))
    Xc = np.column_stack([X[:, keep], *codes]) if codes else X[:, keep]
    n_num = int(keep.sum())
    return Xc, list(range(n_num, n_num + len(codes)))


def _expand(Xc: np.ndarray, onehots: list, width: int) -> np.ndarray:
    """Inverse of :func:`_collapse`."""
    keep = np.ones(width, dtype=bool)
    for b in onehots:
        keep[b.start:b.stop] = False
    n_num = int(keep.sum())
    out = np.zeros((len(Xc), width))
    out[:, keep] = Xc[:, :n_num]
    for i, b in enumerate(onehots):
        code = np.rint(Xc[:, n_num + i]).astype(int)
        out[np.arange(len(Xc)), b.start + code] = 1.0
    return out
