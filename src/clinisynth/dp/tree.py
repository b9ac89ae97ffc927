"""A class-conditional tree of noisy marginals (the DP generator).

The structure is a tree-augmented naive Bayes: every column depends on the class ``y`` and on at
most one other column. Measured with the Gaussian mechanism through the ledger:

1. ``(y, x_i)`` for every column ``i`` (the class-conditional 1-way marginals);
2. the tree: ``d - 1`` rounds of the exponential mechanism (Kruskal's order, as MST does),
   each picking a pair ``(i, j)`` that joins two components, scored by
   ``||C(y, x_i, x_j) - Ĉ||₁``, where ``Ĉ[y, a, b] = N̂(y, a)·N̂(y, b) / N̂(y)`` is the
   conditional-independence estimate from the noisy step-1 marginals (public): adding one row
   moves one count, so the score's sensitivity is 1;
3. ``(y, x_parent, x_child)`` for each tree edge.

Sampling follows the tree from its root: ``x_root ~ P(x | y)``, then each child
``~ P(x_c | y, x_p)`` from the noisy 3-way counts made non-negative by Norm-Sub (each row's
noisy total kept, the excess of clipping taken off every cell alike), shrunk towards
``P(x_c | y)`` by a pseudo-count equal to the noise's ``σ`` (where noise dominates, the 2-way
estimate wins).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from clinisynth.dp.accountant import exponential_epsilon, gaussian_sigma
from clinisynth.dp.consistency import norm_sub
from clinisynth.dp.ledger import PrivacyLedger
from clinisynth.dp.sensitive import Sensitive

Y = "__class__"


@dataclass
class TreeModel:
    """The fitted tree: sizes, noisy marginals, parents (see the module)."""

    sizes: list[int]
    n_classes: int
    pairs: list[np.ndarray] = field(default_factory=list)  # [n_classes, size_i]
    parents: list[int] = field(default_factory=list)  # -1: the root (or a lone column)
    triples: dict[int, np.ndarray] = field(default_factory=dict)  # child -> [K, s_p, s_c]
    sigma_tree: float = 1.0

    @property
    def class_counts(self) -> np.ndarray:
        """Noisy class sizes: the mean over columns of each pair's class totals, at least 0."""
        if not self.pairs:
            return np.ones(self.n_classes)
        return np.clip(np.mean([p.sum(axis=1) for p in self.pairs], axis=0), 0.0, None)

    def order(self) -> list[int]:
        """Columns with every parent before its children."""
        done: list[int] = []
        todo = list(range(len(self.sizes)))
        while todo:
            for i in list(todo):
                if self.parents[i] < 0 or self.parents[i] in done:
                    done.append(i)
                    todo.remove(i)
        return done

    def sample(self, y: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """Codes ``(n, d)`` for classes ``y``."""
        n = len(y)
        out = np.zeros((n, len(self.sizes)), dtype=np.int64)
        for i in self.order():
            prior = _rows(norm_sub(self.pairs[i]))  # [K, s_i]: P(x_i | y)
            p = self.parents[i]
            if p < 0:
                probs = prior[y]
            else:
                counts = norm_sub(self.triples[i])  # [K, s_p, s_i]
                mixed = counts + self.sigma_tree * prior[:, None, :]
                probs = _rows(mixed)[y, out[:, p]]
            out[:, i] = _draw(probs, rng)
        return out

    def to_state(self) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        meta = {"sizes": self.sizes, "n_classes": self.n_classes, "parents": self.parents,
                "sigma_tree": self.sigma_tree, "triples": sorted(self.triples)}
        arrays = {f"pair{i}": p for i, p in enumerate(self.pairs)}
        arrays.update({f"triple{i}": t for i, t in self.triples.items()})
        return meta, arrays

    @classmethod
    def from_state(cls, meta: dict[str, Any], arrays: dict[str, np.ndarray]) -> TreeModel:
        sizes = [int(s) for s in meta["sizes"]]
        return cls(sizes=sizes, n_classes=int(meta["n_classes"]),
                   pairs=[arrays[f"pair{i}"] for i in range(len(sizes))],
                   parents=[int(p) for p in meta["parents"]],
                   triples={int(i): arrays[f"triple{i}"] for i in meta["triples"]},
                   sigma_tree=float(meta["sigma_tree"]))


def fit_tree(codes: Sensitive, sizes: list[int], n_classes: int, ledger: PrivacyLedger,
             rho: dict[str, float], step: str) -> TreeModel:
    """Measure the marginals and choose the tree (see the module) on ``codes`` (columns
    ``0..d-1`` and :data:`Y`), spending ``rho["pairs"]``, ``rho["select"]``, ``rho["tree"]``."""
    d = len(sizes)
    model = TreeModel(sizes=list(sizes), n_classes=n_classes, parents=[-1] * d)
    if d == 0:
        return model
    sigma_pair = gaussian_sigma(rho["pairs"] / d)
    for i in range(d):
        def pair(frame: pd.DataFrame, i: int = i) -> np.ndarray:
            cells = frame[Y].to_numpy() * sizes[i] + frame[i].to_numpy()
            return np.bincount(cells, minlength=n_classes * sizes[i]).reshape(
                n_classes, sizes[i])

        model.pairs.append(ledger.gaussian_counts(codes, pair, sigma_pair, step,
                                                  f"the class × column {i} counts"))
    if d == 1:
        return model
    estimates = [np.clip(p, 0.0, None) for p in model.pairs]
    cache: dict[tuple[int, int], float] = {}

    def score_all(frame: pd.DataFrame, candidates: list[tuple[int, int]]) -> np.ndarray:
        for i, j in candidates:
            if (i, j) not in cache:
                cache[(i, j)] = _independence_error(frame, i, j, sizes, n_classes, estimates)
        return np.array([cache[c] for c in candidates])

    eps_select = exponential_epsilon(rho["select"] / (d - 1))
    component = list(range(d))
    edges: list[tuple[int, int]] = []
    for _ in range(d - 1):
        candidates = [(i, j) for i in range(d) for j in range(i + 1, d)
                      if _find(component, i) != _find(component, j)]
        pick = ledger.exponential(codes, lambda f, c=candidates: score_all(f, c), eps_select,
                                  1.0, step, "the next tree edge (independence error)")
        i, j = candidates[pick]
        component[_find(component, i)] = _find(component, j)
        edges.append((i, j))
    model.parents = _orient(d, edges)
    model.sigma_tree = gaussian_sigma(rho["tree"] / (d - 1))
    for child, parent in enumerate(model.parents):
        if parent < 0:
            continue

        def triple(frame: pd.DataFrame, c: int = child, p: int = parent) -> np.ndarray:
            cells = ((frame[Y].to_numpy() * sizes[p] + frame[p].to_numpy()) * sizes[c]
                     + frame[c].to_numpy())
            return np.bincount(cells, minlength=n_classes * sizes[p] * sizes[c]).reshape(
                n_classes, sizes[p], sizes[c])

        model.triples[child] = ledger.gaussian_counts(
            codes, triple, model.sigma_tree, step,
            f"the class × column {parent} × column {child} counts")
    return model


def _independence_error(frame: pd.DataFrame, i: int, j: int, sizes: list[int], k: int,
                        estimates: list[np.ndarray]) -> float:
    cells = (frame[Y].to_numpy() * sizes[i] + frame[i].to_numpy()) * sizes[j] + frame[j].to_numpy()
    exact = np.bincount(cells, minlength=k * sizes[i] * sizes[j]).reshape(k, sizes[i], sizes[j])
    a, b = estimates[i], estimates[j]
    total = np.maximum(a.sum(axis=1), 1e-9)[:, None, None]
    return float(np.abs(exact - a[:, :, None] * b[:, None, :] / total).sum())


def _find(component: list[int], i: int) -> int:
    while component[i] != i:
        i = component[i]
    return i


def _orient(d: int, edges: list[tuple[int, int]]) -> list[int]:
    """Parents of a tree (a forest's roots get -1), rooted at column 0."""
    neighbours: dict[int, list[int]] = {i: [] for i in range(d)}
    for i, j in edges:
        neighbours[i].append(j)
        neighbours[j].append(i)
    parents, seen = [-1] * d, set()
    for root in range(d):
        if root in seen:
            continue
        seen.add(root)
        queue = [root]
        while queue:
            node = queue.pop(0)
            for nb in neighbours[node]:
                if nb not in seen:
                    seen.add(nb)
                    parents[nb] = node
                    queue.append(nb)
    return parents


def _rows(counts: np.ndarray) -> np.ndarray:
    """Non-negative counts (noisy ones through :func:`~clinisynth.dp.consistency.norm_sub`
    first) normalised over the last axis (uniform where all are 0)."""
    c = counts
    total = c.sum(axis=-1, keepdims=True)
    uniform = np.full_like(c, 1.0 / c.shape[-1])
    return np.where(total > 0, c / np.where(total > 0, total, 1.0), uniform)


def _draw(probs: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """One category per row of ``probs`` (rows × categories)."""
    u = rng.random(len(probs))[:, None]
    return np.minimum((u > np.cumsum(probs, axis=1)).sum(axis=1), probs.shape[1] - 1)
