"""SMOTE / SMOTENC (imbalanced-learn's rules) used as a sampler of new rows per class.

For class ``k``: ``x_new = x_i + lam (x_j - x_i)``, ``lam ~ U(0, 1)``, ``x_i`` a uniformly drawn
training row of the class and ``x_j`` one of its ``k_neighbors`` nearest same-class neighbours,
uniformly drawn. Where the table has categorical columns the rules are SMOTENC's
(imbalanced-learn 0.12+): neighbours are searched on the numeric columns plus each one-hot block
scaled by ``median_std / sqrt(2)`` (``median_std``: the median standard deviation of the class's
numeric columns), and a new row's category in each block is the most frequent category among
``x_i``'s ``k`` neighbours (ties broken at random). Rows lie on segments between close real rows
of the same class, so they preserve local structure but sit near real patients.

Unlike calling ``SMOTENC.fit_resample`` at every ``sample`` (which refits the neighbour search
on the whole matrix each time), the neighbour lists and each row's SMOTENC category are computed
once in ``fit``; sampling then only draws ``(i, j, lam)`` from the given ``rng``. Two documented
differences from imbalanced-learn: ``k`` is capped per class at ``n_k - 1`` (not at the smallest
class's size), and a class with more than ``max_rows_per_class`` rows keeps a seeded uniform
subsample of that many rows as its base and neighbour rows (the neighbour search is quadratic in
the rows; 20,000 rows already give neighbours far closer than the class's spread).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.neighbors import NearestNeighbors

from clinisynth.encoding import ONEHOT
from clinisynth.generators.base import (
    Arrays,
    BaseGenerator,
    TrainingRowsMixin,
    cap_rows_per_class,
)
from clinisynth.threads import current_threads


class SMOTEGenerator(TrainingRowsMixin, BaseGenerator):
    name = "smote"

    def __init__(self, k_neighbors: int = 5, max_rows_per_class: int = 20_000,
                 seed: int | None = None) -> None:
        super().__init__(seed=seed)
        self.k_neighbors = k_neighbors
        self.max_rows_per_class = max_rows_per_class

    def _fit(self, X: np.ndarray, y: np.ndarray) -> None:
        if self.k_neighbors < 1:
            raise ValueError("smote: k_neighbors must be at least 1")
        if self.max_rows_per_class < 2:
            raise ValueError("smote: max_rows_per_class must be at least 2")
        keep = cap_rows_per_class(y, self.max_rows_per_class, self._rng)
        self._store_rows(X[keep], y[keep])
        onehots = self._onehots()
        neighbors, modes = [], []
        for k in self.classes_:
            rows = np.flatnonzero(self.y_ == k)
            Xk = self.X_[rows]
            n_nb = max(1, min(self.k_neighbors, len(rows) - 1))
            space = _search_space(Xk, onehots)
            nn = NearestNeighbors(n_neighbors=n_nb + 1, n_jobs=current_threads()).fit(space)
            local = nn.kneighbors(space, return_distance=False)[:, 1:]  # self first, as imblearn
            neighbors.append(rows[local])
            modes.append(self._modes(Xk, local, onehots))
        width = max(nb.shape[1] for nb in neighbors)
        self.neighbors_ = np.full((len(self.y_), width), -1, dtype=np.int64)
        self.modes_ = np.zeros((len(self.y_), len(onehots)), dtype=np.int64)
        for k, nb, md in zip(self.classes_, neighbors, modes, strict=True):
            rows = np.flatnonzero(self.y_ == k)
            self.neighbors_[rows, :nb.shape[1]] = nb
            self.modes_[rows] = md

    def _onehots(self) -> list:
        return [b for b in self.blocks_ if b.kind == ONEHOT]

    def _modes(self, Xk: np.ndarray, local: np.ndarray, onehots: list) -> np.ndarray:
        """Per row and one-hot block, SMOTENC's category: the most frequent among the row's
        neighbours, ties broken at random (seeded)."""
        out = np.zeros((len(Xk), len(onehots)), dtype=np.int64)
        for b, block in enumerate(onehots):
            counts = Xk[:, block.start:block.stop][local].sum(axis=1)  # (n_k, width)
            is_max = np.isclose(counts, counts.max(axis=1, keepdims=True))
            noise = self._rng.random(counts.shape)
            out[:, b] = np.argmax(np.where(is_max, noise, -1.0), axis=1)
        return out

    def _sample_class(self, k: int, n: int, rng: np.random.Generator) -> np.ndarray:
        rows = np.flatnonzero(self.y_ == k)
        n_nb = int((self.neighbors_[rows[0]] >= 0).sum())
        i = rows[rng.integers(0, len(rows), size=n)]
        j = self.neighbors_[i, rng.integers(0, n_nb, size=n)]
        lam = rng.random((n, 1))
        X = self.X_[i] + lam * (self.X_[j] - self.X_[i])
        for b, block in enumerate(self._onehots()):
            X[:, block.start:block.stop] = 0.0
            X[np.arange(n), block.start + self.modes_[i, b]] = 1.0
        return X

    # -- persistence ----------------------------------------------------------------------------
    def _get_state(self) -> tuple[dict[str, Any], Arrays]:
        meta, arrays = super()._get_state()
        return meta, {**arrays, "neighbors": self.neighbors_, "modes": self.modes_}

    def _set_state(self, meta: dict[str, Any], arrays: Arrays) -> None:
        super()._set_state(meta, arrays)
        self.neighbors_, self.modes_ = arrays["neighbors"], arrays["modes"]


def _search_space(Xk: np.ndarray, onehots: list) -> np.ndarray:
    """SMOTENC's neighbour space: one-hot blocks scaled by ``median_std / sqrt(2)``."""
    if not onehots:
        return Xk
    cat = np.zeros(Xk.shape[1], dtype=bool)
    for block in onehots:
        cat[block.start:block.stop] = True
    median_std = float(np.median(Xk[:, ~cat].std(axis=0))) if (~cat).any() else 1.0
    space = Xk.copy()
    space[:, cat] *= median_std / np.sqrt(2.0)
    return space
