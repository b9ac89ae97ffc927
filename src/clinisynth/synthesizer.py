"""HybridSynthesizer: the fit/sample lifecycle around the class-conditional generators.

Data path: DataFrame -> schema (inferred or given, validated) -> encoder (one numeric matrix,
class codes) -> every generator with a positive weight fits -> sampling splits each class's rows
among generators by weight (largest-remainder apportionment, so proportions are exact) ->
``_refine`` (the seam where calibration and the privacy guard act on the matrix) -> rows shuffled
-> decoded to a DataFrame with the input's columns, order and dtypes.

Every random choice flows from ``seed``: one ``numpy.random.Generator`` seeds the generators and
drives encoding, sampling order and shuffling; its state is saved with the model, so a loaded
model continues exactly where the saved one would have.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from clinisynth import __version__
from clinisynth.encoding import TableEncoder
from clinisynth.errors import ClinisynthError, NotFittedError
from clinisynth.generators import BaseGenerator, get_generator, list_generators
from clinisynth.guard import GuardReport, PrivacyGuard
from clinisynth.mixture import WeightSpec, apportion, resolve_weights
from clinisynth.persistence import read_model, split_arrays, write_model
from clinisynth.schema import TableSchema, infer_schema

StepCallback = Callable[[str, int, int], None]


class HybridSynthesizer:
    """Mix of class-conditional generators, sampled by weight, per class.

    Parameters
    ----------
    weights : "uniform", a generator name, or a mapping ``{name: weight}``
        How rows are split among generators. Generators with weight 0 are not fitted.
    generator_params : mapping ``{name: {param: value}}``, optional
        Extra constructor arguments per generator (e.g. ``{"cvae": {"epochs": 100}}``).
    seed : int, optional
        The one seed every random choice flows from.
    privacy_guard : bool or mapping
        Refuse and redraw rows too close to a distinguishable training row (see
        :mod:`clinisynth.guard`); a mapping gives the guard's parameters. On by default.
    low_cardinality : int
        Numeric columns with at most this many distinct values are inferred as categorical.
    """

    def __init__(self, weights: WeightSpec = "uniform",
                 generator_params: Mapping[str, Mapping[str, Any]] | None = None,
                 privacy_guard: bool | Mapping[str, Any] = True,
                 seed: int | None = None, low_cardinality: int = 5) -> None:
        self.weights = weights
        self.generator_params = generator_params
        self.privacy_guard = privacy_guard
        self.seed = seed
        self.low_cardinality = low_cardinality

    # -- fit ----------------------------------------------------------------------------------
    def fit(self, data: pd.DataFrame, target: str | None = None, *,
            schema: TableSchema | None = None,
            on_step: StepCallback | None = None) -> HybridSynthesizer:
        """Learn the table. ``target`` names the class column (or comes from ``schema``)."""
        if schema is None:
            if target is None:
                raise ClinisynthError("fit needs a target column (or a schema naming one)")
            schema = infer_schema(data, target, self.low_cardinality)
        elif target is not None and target != schema.target:
            raise ClinisynthError(f"target '{target}' differs from the schema's '{schema.target}'")
        schema.validate(data)
        weights = resolve_weights(self.weights)
        params = dict(self.generator_params or {})
        for name in params:
            if name not in list_generators():
                raise ClinisynthError(f"generator_params: unknown generator '{name}'")
        self._check_class_sizes(data[schema.target], weights)

        self.schema_ = schema
        self.weights_ = weights
        self._rng = np.random.default_rng(self.seed)
        self.encoder_ = TableEncoder(schema).fit(data)
        X, y = self.encoder_.transform(data, self._rng)
        self.class_counts_ = np.bincount(y, minlength=len(schema.classes))
        self.generators_: dict[str, BaseGenerator] = {}
        self.fit_seconds_: dict[str, float] = {}
        for i, name in enumerate(weights):
            if on_step:
                on_step(name, i, len(weights))
            cls = get_generator(name)
            gen_seed = int(self._rng.integers(2**31 - 1))
            try:
                gen = cls(**{**params.get(name, {}), "seed": gen_seed})
            except TypeError as exc:
                raise ClinisynthError(f"generator_params for '{name}': {exc}") from None
            start = time.perf_counter()
            try:
                gen.fit(X, y, self.encoder_.blocks_)
            except ValueError as exc:
                if isinstance(exc, ClinisynthError):
                    raise
                raise ClinisynthError(f"{name}: {exc}") from None
            self.fit_seconds_[name] = time.perf_counter() - start
            self.generators_[name] = gen
        self.guard_ = None
        if self.privacy_guard:
            options = {} if self.privacy_guard is True else dict(self.privacy_guard)
            try:
                self.guard_ = PrivacyGuard(**options).fit(data, schema)
            except TypeError as exc:
                raise ClinisynthError(f"privacy_guard: {exc}") from None
        if on_step:
            on_step("done", len(weights), len(weights))
        return self

    @staticmethod
    def _check_class_sizes(labels: pd.Series, weights: dict[str, float]) -> None:
        need = max(get_generator(n).min_class_rows for n in weights)
        counts = labels.value_counts()
        small = counts[counts < need]
        if len(small):
            raise ClinisynthError(
                f"target class {small.index[0]!r} has {int(small.iloc[0])} row(s); "
                f"each class needs at least {need}"
            )

    def _check_fitted(self) -> None:
        if not hasattr(self, "generators_"):
            raise NotFittedError("HybridSynthesizer is not fitted; call fit first")

    # -- sample -------------------------------------------------------------------------------
    def sample(self, n: int, class_counts: Mapping[Any, int] | None = None) -> pd.DataFrame:
        """``n`` synthetic rows; by default classes keep their training proportions.

        ``class_counts`` maps target labels to row counts (they must sum to ``n``); classes left
        out get no rows.
        """
        self._check_fitted()
        counts = self._class_counts(n, class_counts)
        X, y = self._draw(counts)
        order = self._rng.permutation(len(y))
        X, y = X[order], y[order]
        guard = self.guard_
        report = GuardReport(threshold=guard.threshold_) if guard else None
        while True:
            frame = self._decode(X, y)
            if guard is None or report is None:
                break
            refused = guard.refused(frame)
            if not refused.any():
                break
            report.refused += int(refused.sum())
            if report.rounds == guard.max_rounds:
                report.remaining = int(refused.sum())
                break
            report.rounds += 1
            X = self._redraw(X, y, np.flatnonzero(refused))
        self.guard_report_ = report
        return frame

    def _redraw(self, X: np.ndarray, y: np.ndarray, rows: np.ndarray) -> np.ndarray:
        """Replace ``rows`` of ``X`` by fresh draws of the same classes."""
        X = X.copy()
        Xn, yn = self._draw(np.bincount(y[rows], minlength=len(self.schema_.classes)))
        for k in np.unique(y[rows]):
            X[rows[y[rows] == k]] = Xn[yn == k]
        return X

    def _decode(self, X: np.ndarray, y: np.ndarray) -> pd.DataFrame:
        """Post-hoc steps on the encoded rows, then decoding to a table."""
        X, y = self._refine(X, y)
        return self.encoder_.inverse_transform(X, y)

    def _class_counts(self, n: int, class_counts: Mapping[Any, int] | None) -> np.ndarray:
        if isinstance(n, bool) or not isinstance(n, int | np.integer) or n < 1:
            raise ClinisynthError(f"number of rows must be a positive integer, got {n!r}")
        if class_counts is None:
            return apportion(int(n), self.class_counts_)
        counts = np.zeros(len(self.schema_.classes), dtype=int)
        for label, count in class_counts.items():
            try:
                k = self.encoder_.class_index(label)
            except KeyError as exc:
                raise ClinisynthError(str(exc.args[0])) from None
            if int(count) < 0:
                raise ClinisynthError(f"class_counts: count for {label!r} is negative")
            counts[k] = int(count)
        if counts.sum() != n:
            raise ClinisynthError(f"class_counts sum to {counts.sum()} but {n} rows were asked")
        return counts

    def _draw(self, counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Rows from each generator: class ``k``'s count split by weight among generators."""
        names = list(self.generators_)
        shares = np.array([self.weights_[nm] for nm in names])
        per_gen = np.array([apportion(int(c), shares) for c in counts])  # (classes, generators)
        Xs, ys = [], []
        for j, name in enumerate(names):
            want = {k: int(per_gen[k, j]) for k in range(len(counts)) if per_gen[k, j] > 0}
            if want:
                X, y = self.generators_[name].sample(want)
                Xs.append(X)
                ys.append(y)
        return np.vstack(Xs), np.concatenate(ys)

    def _refine(self, X: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Seam for post-hoc steps on the encoded rows (calibration)."""
        return X, y

    # -- persistence --------------------------------------------------------------------------
    def get_params(self) -> dict[str, Any]:
        weights = self.weights if isinstance(self.weights, str) else dict(self.weights)
        guard = self.privacy_guard if isinstance(self.privacy_guard, bool) else dict(
            self.privacy_guard)
        return {"weights": weights, "seed": self.seed, "low_cardinality": self.low_cardinality,
                "privacy_guard": guard,
                "generator_params": {k: dict(v) for k, v in (self.generator_params or {}).items()}}

    def save(self, path: str | Path) -> None:
        """Write the fitted model to directory ``path`` (JSON + npz arrays; no pickle)."""
        self._check_fitted()
        arrays: dict[str, np.ndarray] = {"class_counts": self.class_counts_}
        gens = {}
        for name, gen in self.generators_.items():
            meta, garrays = gen.get_state()
            gens[name] = meta
            arrays.update({f"gen.{name}.{k}": v for k, v in garrays.items()})
        if self.guard_ is not None:
            gmeta, garrays = self.guard_.get_state()
            arrays.update({f"guard.{k}": v for k, v in garrays.items()})
        manifest = {
            "clinisynth_version": __version__,
            "guard": gmeta if self.guard_ is not None else None,
            "params": self.get_params(),
            "schema": self.schema_.to_dict(),
            "encoder": self.encoder_.get_state(),
            "weights": self.weights_,
            "generators": gens,
            "rng": self._rng.bit_generator.state,
        }
        write_model(path, manifest, arrays)

    @classmethod
    def load(cls, path: str | Path) -> HybridSynthesizer:
        """Rebuild a model saved by :meth:`save`; only registered generators can be loaded."""
        manifest, arrays = read_model(path)
        params = manifest["params"]
        syn = cls(**params)
        syn.schema_ = TableSchema.from_dict(manifest["schema"])
        syn.encoder_ = TableEncoder.from_state(syn.schema_, manifest["encoder"])
        syn.weights_ = {k: float(v) for k, v in manifest["weights"].items()}
        syn.class_counts_ = arrays["class_counts"]
        syn.generators_ = {}
        for name, meta in manifest["generators"].items():
            gen_cls = get_generator(name)
            syn.generators_[name] = gen_cls.from_state(meta, split_arrays(arrays, f"gen.{name}"))
        syn.guard_ = None
        if manifest.get("guard") is not None:
            syn.guard_ = PrivacyGuard.from_state(syn.schema_, manifest["guard"],
                                                 split_arrays(arrays, "guard"))
        syn._rng = np.random.default_rng()
        syn._rng.bit_generator.state = manifest["rng"]
        return syn
