"""Gaussian-mixture sampling, one mixture per class, components chosen by BIC.

``p(x | y = k) = sum_c pi_kc N(x; mu_kc, Sigma_kc)``, fitted by EM (scikit-learn), with the number
of components ``C_k in 1..max_components`` minimising ``BIC = -2 log L + p log n``. Sampling draws
a component from ``pi_k`` then ``mu + L z``, component by component (one matrix product
per component, memory ``O(n d)``), with ``L L^T = Sigma`` (Cholesky), ``z ~ N(0, I)``.
It preserves each class's means and (within components) covariances; rows are not tied to any
training row. Given ``n_components`` (one count, or one per class code) no selection is run:
the synthesizer passes the counts BIC chose on the weight search's split to the refit on all
rows (:meth:`refit_params`), so the refit runs one EM instead of ``max_components``. A class with
more than ``max_rows_per_class`` rows is fitted on a seeded uniform
subsample of that many (EM costs ``O(n C d^2)`` per iteration for every candidate ``C``; 20,000
rows hold about 140 values per parameter of five full-covariance ``d = 56`` components).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.mixture import GaussianMixture

from clinisynth.generators.base import Arrays, BaseGenerator, cap_rows_per_class


class GMMGenerator(BaseGenerator):
    name = "gmm"

    def __init__(self, max_components: int = 5, covariance_type: str = "full",
                 reg_covar: float = 1e-3, max_rows_per_class: int | None = 20_000,
                 n_components: int | list[int] | None = None,
                 seed: int | None = None) -> None:
        super().__init__(seed=seed)
        self.max_components = max_components
        self.n_components = n_components
        self.covariance_type = covariance_type
        self.reg_covar = reg_covar
        self.max_rows_per_class = max_rows_per_class

    def _fit(self, X: np.ndarray, y: np.ndarray) -> None:
        keep = cap_rows_per_class(y, self.max_rows_per_class, self._rng)
        X, y = X[keep], y[keep]
        self.weights_: dict[int, np.ndarray] = {}
        self.means_: dict[int, np.ndarray] = {}
        self.chol_: dict[int, np.ndarray] = {}
        for k in self.classes_:
            rows = X[y == k]
            fixed = self._fixed_components(int(k), len(rows))
            best = self._select(rows) if fixed is None else self._em(rows, fixed)
            self.weights_[int(k)] = best.weights_
            self.means_[int(k)] = best.means_
            self.chol_[int(k)] = np.linalg.cholesky(_full_covariances(best, rows.shape[1]))

    def _fixed_components(self, k: int, n_rows: int) -> int | None:
        """The given component count of class ``k`` (at most one per 10 rows), or None."""
        if self.n_components is None:
            return None
        given = self.n_components
        count = int(given) if isinstance(given, int | np.integer) else int(given[k])
        if count < 1:
            raise ValueError("gmm: n_components must be at least 1")
        return max(1, min(count, n_rows // 10))

    def refit_params(self) -> dict[str, Any]:
        codes = range(int(self.classes_.max()) + 1)
        return {"n_components": [int(len(self.weights_.get(k, [0]))) for k in codes]}

    def _em(self, rows: np.ndarray, components: int) -> GaussianMixture:
        gm = GaussianMixture(n_components=components, covariance_type=self.covariance_type,
                             reg_covar=self.reg_covar, n_init=1,
                             random_state=int(self._rng.integers(2**31 - 1)))
        return gm.fit(rows)

    def _select(self, rows: np.ndarray) -> GaussianMixture:
        """The mixture with the lowest BIC among 1..max_components components."""
        limit = max(1, min(self.max_components, len(rows) // 10))
        best, best_bic = None, np.inf
        for c in range(1, limit + 1):
            gm = self._em(rows, c)
            bic = gm.bic(rows)
            if bic < best_bic:
                best, best_bic = gm, bic
        assert best is not None
        return best

    def _sample_class(self, k: int, n: int, rng: np.random.Generator) -> np.ndarray:
        weights, means, chol = self.weights_[k], self.means_[k], self.chol_[k]
        comp = rng.choice(len(weights), size=n, p=weights / weights.sum())
        z = rng.standard_normal((n, means.shape[1]))
        out = np.empty_like(z)
        for c in np.unique(comp):  # one (m, d) @ (d, d) product per component, no (n, d, d)
            rows = comp == c
            out[rows] = means[c] + z[rows] @ chol[c].T
        return out

    def _get_state(self) -> tuple[dict[str, Any], Arrays]:
        arrays: Arrays = {}
        for k in self.weights_:
            arrays[f"weights_{k}"] = self.weights_[k]
            arrays[f"means_{k}"] = self.means_[k]
            arrays[f"chol_{k}"] = self.chol_[k]
        return {}, arrays

    def _set_state(self, meta: dict[str, Any], arrays: Arrays) -> None:
        self.weights_, self.means_, self.chol_ = {}, {}, {}
        for k in self.classes_:
            k = int(k)
            self.weights_[k] = arrays[f"weights_{k}"]
            self.means_[k] = arrays[f"means_{k}"]
            self.chol_[k] = arrays[f"chol_{k}"]


def _full_covariances(gm: GaussianMixture, d: int) -> np.ndarray:
    """Component covariances as a (C, d, d) array whatever ``covariance_type`` was."""
    cov = gm.covariances_
    c = gm.n_components
    if gm.covariance_type == "full":
        return cov
    if gm.covariance_type == "tied":
        return np.repeat(cov[None], c, axis=0)
    if gm.covariance_type == "diag":
        return np.stack([np.diag(v) for v in cov])
    return np.stack([np.eye(d) * v for v in cov])  # spherical
