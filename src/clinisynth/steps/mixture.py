"""The mixture step: the class-conditional generators and their weights; the pipeline's source.

Fit: every generator with a positive weight (given, or chosen by the weight search before this
step, :mod:`clinisynth.steps.search`) learns ``p(x | y = k)`` on the encoded training rows; each
is seeded from the fit's random generator in turn. When a hard filter (the privacy guard) may
need replacements and every weighted generator builds rows from real patients, the Gaussian
mixture is fitted too, with weight 0, for the last-resort redraws.

Draw: class ``k``'s ``n_k`` rows are split among the generators by weight exactly (largest
remainder, :func:`~clinisynth.values.apportion`). Redraw: each replacement picks its generator
at random by weight (multinomial), so a handful of refused rows is not always redrawn from the
same generator; a fallback redraw uses only the generators that do not resample real rows.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any, ClassVar

import numpy as np

from clinisynth.errors import ClinisynthError
from clinisynth.generators import BaseGenerator, get_generator
from clinisynth.persistence import split_arrays
from clinisynth.schema import TableSchema
from clinisynth.steps.base import Arrays, Batch, FitContext, Step
from clinisynth.values import apportion
from clinisynth.weights import Generators, WeightSpec, resolve_weights, weights_range

#: fitted with weight 0 when every weighted generator resamples real rows, so a hard filter
#: always has a generator that does not to redraw refused rows from
FALLBACK_GENERATOR = "gmm"
#: what the weight search leaves in ``FitContext.choices`` for this step
CHOICE = "weights"


class MixtureStep(Step):
    """Generators mixed by weight.

    Parameters
    ----------
    weights : "learned", "uniform", a generator name, or ``{name: weight}``
        ``"learned"`` takes the weights the weight-search step chose.
    generators : the generators ``"uniform"`` ranges over and given weights may name (see
        :func:`~clinisynth.weights.weights_range`).
    generator_params : ``{name: {param: value}}`` constructor arguments per generator.
    fallback : fit :data:`FALLBACK_GENERATOR` (weight 0) when every weighted generator
        resamples real rows.
    """

    name: ClassVar[str] = "mixture"
    reads: ClassVar[str] = ("every training row, encoded: each generator's model of the rows "
                            "of each class (generators that resample rows store them)")
    is_source: ClassVar[bool] = True

    def __init__(self, weights: WeightSpec = "uniform", generators: Generators = None,
                 generator_params: Mapping[str, Mapping[str, Any]] | None = None,
                 fallback: bool = False) -> None:
        self.weights = weights
        self.generators = generators
        self.generator_params = generator_params
        self.fallback = fallback

    # -- fit ----------------------------------------------------------------------------------
    def fit(self, batch: Batch, ctx: FitContext) -> MixtureStep:
        X, y = batch.matrix(self.name)
        reuse: Mapping[str, Mapping[str, Any]] = {}
        if isinstance(self.weights, str) and self.weights == "learned":
            if CHOICE not in ctx.choices:
                raise ClinisynthError("weights 'learned' need the weight-search step before the "
                                      "mixture")
            weights, reuse = ctx.choices[CHOICE]["weights"], ctx.choices[CHOICE]["reuse"]
        else:
            weights = resolve_weights(self.weights, weights_range(self.weights, self.generators))
        classes = ctx.schema.classes
        self._check_class_sizes(y, classes, list(weights))
        names = list(weights)
        if self.fallback and all(get_generator(nm).resamples_rows for nm in names):
            names.append(FALLBACK_GENERATOR)  # weight 0: only redraws rows a filter refused
        self.weights_ = dict(weights)
        self.class_counts_ = np.bincount(y, minlength=len(classes))
        self.generators_: dict[str, BaseGenerator] = {}
        self.fit_seconds_: dict[str, float] = {}
        for i, name in enumerate(names):
            ctx.report(f"fitting {name}", i, len(names))
            params = {**reuse.get(name, {}), **(self.generator_params or {}).get(name, {})}
            self.generators_[name] = self._fit_one(name, params, X, y, batch, ctx)
        self.model_schema_ = ctx.schema
        return self

    def _fit_one(self, name: str, params: Mapping[str, Any], X: np.ndarray, y: np.ndarray,
                 batch: Batch, ctx: FitContext) -> BaseGenerator:
        seed = int(ctx.rng.integers(2**31 - 1))
        try:
            gen = get_generator(name)(**{**params, "seed": seed})
        except TypeError as exc:
            raise ClinisynthError(f"generator_params for '{name}': {exc}") from None
        start = time.perf_counter()
        try:
            gen.fit(X, y, batch.blocks or ())
        except ValueError as exc:
            if isinstance(exc, ClinisynthError):
                raise
            raise ClinisynthError(f"{name}: {exc}") from None
        self.fit_seconds_[name] = time.perf_counter() - start
        return gen

    @staticmethod
    def _check_class_sizes(y: np.ndarray, classes: list[Any], names: list[str]) -> None:
        need = max(get_generator(n).min_class_rows for n in names)
        counts = np.bincount(y, minlength=len(classes))
        small = [k for k in np.argsort(-counts, kind="stable") if counts[k] < need]
        if small:
            raise ClinisynthError(f"target class {classes[small[0]]!r} has {int(counts[small[0]])}"
                                  f" row(s); each class needs at least {need}")

    # -- sampling -----------------------------------------------------------------------------
    def draw(self, counts: np.ndarray, rng: np.random.Generator,
             shares: Mapping[str, float] | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Rows from each generator, grouped by generator: class ``k``'s ``counts[k]`` split by
        weight exactly, or, given ``shares``, each row's generator picked at random by them."""
        self._check_fitted()
        if shares is None:
            names = list(self.generators_)
            p = np.array([self.weights_.get(nm, 0.0) for nm in names])
            split = lambda c: apportion(c, p / p.sum())  # noqa: E731
        else:
            names = list(shares)
            p = np.array([shares[nm] for nm in names])
            split = lambda c: rng.multinomial(c, p / p.sum())  # noqa: E731
        per_gen = np.array([split(int(c)) for c in counts])  # (classes, generators)
        Xs, ys = [], []
        for j, name in enumerate(names):
            want = {k: int(per_gen[k, j]) for k in range(len(counts)) if per_gen[k, j] > 0}
            if want:
                X, y = self.generators_[name].sample(want, rng)
                Xs.append(X)
                ys.append(y)
        return np.vstack(Xs), np.concatenate(ys)

    def redraw(self, y: np.ndarray, rng: np.random.Generator, fallback: bool) -> np.ndarray:
        """Fresh rows of classes ``y``, in that order; ``fallback``: only from the generators
        that do not resample real rows."""
        shares = self._fallback_shares() if fallback else {
            name: self.weights_[name] for name in self.generators_ if name in self.weights_}
        Xn, yn = self.draw(np.bincount(y, minlength=len(self.class_counts_)), rng, shares)
        out = np.empty((len(y), Xn.shape[1]))
        for k in np.unique(y):
            out[y == k] = Xn[yn == k]
        return out

    def _fallback_shares(self) -> dict[str, float]:
        """Weights of the generators that do not resample real rows (uniform if all are 0)."""
        names = [nm for nm, gen in self.generators_.items() if not gen.resamples_rows]
        if not names:
            raise ClinisynthError("privacy guard: no generator that does not resample patients "
                                  "is fitted; cannot replace refused rows")
        shares = {nm: self.weights_.get(nm, 0.0) for nm in names}
        total = sum(shares.values())
        return {nm: (w / total if total > 0 else 1.0 / len(names)) for nm, w in shares.items()}

    # -- reporting and persistence ------------------------------------------------------------
    def report(self) -> dict[str, Any]:
        return {"weights": self.weights_, "fit_seconds": self.fit_seconds_}

    def get_state(self) -> tuple[dict[str, Any], Arrays]:
        self._check_fitted()
        arrays: Arrays = {"class_counts": self.class_counts_}
        generators = {}
        for name, gen in self.generators_.items():
            generators[name], garrays = gen.get_state()
            arrays.update({f"{name}.{k}": v for k, v in garrays.items()})
        meta = {"params": {"weights": self.weights if isinstance(self.weights, str)
                           else dict(self.weights), "fallback": self.fallback},
                "schema": self.model_schema_.to_dict(), "weights": self.weights_,
                "generators": generators, "fit_seconds": self.fit_seconds_}
        return meta, arrays

    @classmethod
    def from_state(cls, meta: dict[str, Any], arrays: Arrays) -> MixtureStep:
        step = cls(**meta["params"])
        step.model_schema_ = TableSchema.from_dict(meta["schema"])
        step.weights_ = {k: float(v) for k, v in meta["weights"].items()}
        step.class_counts_ = arrays["class_counts"]
        step.fit_seconds_ = {k: float(v) for k, v in meta["fit_seconds"].items()}
        step.generators_ = {}
        for name, gmeta in meta["generators"].items():
            step.generators_[name] = get_generator(name).from_state(
                gmeta, split_arrays(arrays, name))
        return step
