"""The generator contract: class-conditional fit on an encoded matrix, sample per class.

Every generator works in the encoder's matrix space (see :mod:`clinisynth.encoding`) and is
class-conditional: it learns ``p(x | y = k)`` for each class code ``k`` (per class, or one model
conditioned on ``k``). The base class owns validation, seeding, the per-class sampling loop and
persistence; a concrete generator implements ``_fit`` and ``_sample_class`` (or ``_sample``)
and, to be savable, ``_get_state`` / ``_set_state`` with JSON values and numpy arrays only.
"""

from __future__ import annotations

import inspect
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

import numpy as np

from clinisynth.encoding import Block
from clinisynth.errors import ClinisynthError, NotFittedError

Arrays = dict[str, np.ndarray]


class BaseGenerator(ABC):
    """Base class of the class-conditional generators. Parameters are set in ``__init__`` only."""

    name: ClassVar[str]
    #: the fewest training rows a class needs for this generator
    min_class_rows: ClassVar[int] = 2
    #: whether sampled rows are built from stored training rows (noise, interpolation, SMOTE);
    #: the privacy guard's last-resort redraws use only generators where this is False
    resamples_rows: ClassVar[bool] = False

    def __init__(self, seed: int | None = None) -> None:
        self.seed = seed

    # -- parameters (scikit-learn style) ---------------------------------------------------------
    def get_params(self) -> dict[str, Any]:

        names = [p for p in inspect.signature(type(self).__init__).parameters if p != "self"]
        return {p: getattr(self, p) for p in names}

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_params().items())
        return f"{type(self).__name__}({args})"

    # -- lifecycle ------------------------------------------------------------------------------
    def fit(self, X: np.ndarray, y: np.ndarray, blocks: Sequence[Block] = ()) -> BaseGenerator:
        """Learn ``p(x | y)`` from the encoded matrix ``X`` (n × d) and class codes ``y``."""
        X = np.asarray(X, dtype=np.float64)
        y = np.asarray(y, dtype=np.int64)
        if X.ndim != 2 or len(X) != len(y):
            raise ClinisynthError(f"{self.name}: X must be 2-D with one row per label")
        if not np.isfinite(X).all():
            raise ClinisynthError(f"{self.name}: X has missing or infinite values")
        classes, counts = np.unique(y, return_counts=True)
        small = classes[counts < self.min_class_rows]
        if len(small):
            raise ClinisynthError(
                f"{self.name}: class code {int(small[0])} has fewer than "
                f"{self.min_class_rows} training rows"
            )
        self.classes_ = classes
        self.n_features_ = X.shape[1]
        self.blocks_ = list(blocks)
        self._rng = np.random.default_rng(self.seed)
        self._fit(X, y)
        return self

    def sample(self, counts: Mapping[int, int], rng: np.random.Generator | None = None
               ) -> tuple[np.ndarray, np.ndarray]:
        """Draw ``counts[k]`` rows of class ``k``; return ``(X, y)`` grouped by class.

        Randomness comes from ``rng`` when given (sampling is then a pure function of the fitted
        generator and ``rng``, so chunks can be drawn anywhere); otherwise from the generator's
        own stream, seeded in ``fit``.
        """
        if not hasattr(self, "classes_"):
            raise NotFittedError(f"{self.name} generator is not fitted; call fit first")
        counts = {int(k): int(n) for k, n in counts.items() if int(n) > 0}
        for k in counts:
            if k not in self.classes_:
                raise ClinisynthError(f"{self.name}: class code {k} was not seen in fit")
        order = sorted(counts)
        y = np.repeat(np.array(order, dtype=np.int64), [counts[k] for k in order])
        if not len(y):
            return np.empty((0, self.n_features_)), y
        X = self._sample({k: counts[k] for k in order}, self._rng if rng is None else rng)
        return np.asarray(X, dtype=np.float64), y

    def _sample(self, counts: dict[int, int], rng: np.random.Generator) -> np.ndarray:
        """Rows for every class in ``counts`` (ascending class order), stacked."""
        return np.vstack([self._sample_class(k, n, rng) for k, n in counts.items()])

    @abstractmethod
    def _fit(self, X: np.ndarray, y: np.ndarray) -> None: ...

    def _sample_class(self, k: int, n: int, rng: np.random.Generator) -> np.ndarray:
        raise NotImplementedError

    def refit_params(self) -> dict[str, Any]:
        """Constructor parameters a refit on more rows of the same table may reuse: choices this
        fit's own model selection made (the synthesizer refits on all rows after the weight
        search fitted on a split). None by default."""
        return {}

    # -- persistence ----------------------------------------------------------------------------
    def get_state(self) -> tuple[dict[str, Any], Arrays]:
        """JSON-able state and named arrays; together they rebuild the fitted generator."""
        if not hasattr(self, "classes_"):
            raise NotFittedError(f"{self.name} generator is not fitted; nothing to save")
        meta, arrays = self._get_state()
        meta = {"params": self.get_params(), "rng": self._rng.bit_generator.state,
                "n_features": self.n_features_, "blocks": [vars(b) for b in self.blocks_],
                "own": meta}
        return meta, {"classes": self.classes_, **arrays}

    @classmethod
    def from_state(cls, meta: dict[str, Any], arrays: Arrays) -> BaseGenerator:
        gen = cls(**meta["params"])
        gen.classes_ = np.asarray(arrays["classes"], dtype=np.int64)
        gen.n_features_ = int(meta["n_features"])
        gen.blocks_ = [Block(**b) for b in meta["blocks"]]
        gen._rng = np.random.default_rng()
        gen._rng.bit_generator.state = meta["rng"]
        gen._set_state(meta["own"], {k: v for k, v in arrays.items() if k != "classes"})
        return gen

    def _get_state(self) -> tuple[dict[str, Any], Arrays]:
        return {}, {}

    def _set_state(self, meta: dict[str, Any], arrays: Arrays) -> None:
        return None


def cap_rows_per_class(y: np.ndarray, cap: int | None, rng: np.random.Generator) -> np.ndarray:
    """Row indices keeping every row of a class with at most ``cap`` rows and a seeded uniform
    subsample of ``cap`` rows of a larger class (ascending; no draw when nothing is capped)."""
    if cap is None or np.bincount(y).max() <= cap:
        return np.arange(len(y))
    keep = []
    for k in np.unique(y):
        rows = np.flatnonzero(y == k)
        keep.append(rows if len(rows) <= cap else rng.choice(rows, int(cap), replace=False))
    return np.sort(np.concatenate(keep))


class TrainingRowsMixin:
    """For generators that resample real rows: keeps the training matrix per class.

    A saved model of such a generator contains training rows; share the synthetic data,
    never the model directory.
    """

    resamples_rows: ClassVar[bool] = True

    def _store_rows(self, X: np.ndarray, y: np.ndarray) -> None:
        self.X_ = X
        self.y_ = y

    def _rows(self, k: int) -> np.ndarray:
        return self.X_[self.y_ == k]

    def _get_state(self) -> tuple[dict[str, Any], Arrays]:
        return {}, {"X": self.X_, "y": self.y_}

    def _set_state(self, meta: dict[str, Any], arrays: Arrays) -> None:
        self.X_, self.y_ = arrays["X"], arrays["y"]
