"""HybridSynthesizer: the fit/sample lifecycle around the class-conditional generators.

Data path: DataFrame -> schema (inferred or given, validated) -> encoder (one numeric matrix,
class codes) -> weights (learned by :mod:`clinisynth.weighting` on a validation split, or given)
-> every generator with a positive weight fits -> sampling splits each class's rows among
generators by weight (largest-remainder apportionment, so proportions are exact) -> rows shuffled
-> calibration (:mod:`clinisynth.calibration`, per class, monotone per column) -> decoded to a
DataFrame with the input's columns, order and dtypes -> the privacy guard (:mod:`clinisynth.guard`)
refuses rows too close to a distinguishable patient, which are redrawn and the batch decoded again.

Every random choice flows from ``seed``: one ``numpy.random.Generator`` seeds the generators and
drives encoding, sampling order and shuffling; its state is saved with the model, so a loaded
model continues exactly where the saved one would have.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.model_selection import train_test_split

from clinisynth import __version__
from clinisynth.calibration import CalibrationChain
from clinisynth.encoding import NUMERIC, TableEncoder
from clinisynth.errors import ClinisynthError, NotFittedError
from clinisynth.generators import BaseGenerator, get_generator, list_generators
from clinisynth.guard import GuardReport, PrivacyGuard
from clinisynth.mixture import WeightSpec, apportion, resolve_weights
from clinisynth.persistence import read_model, split_arrays, write_model
from clinisynth.reward import PoolReward, RewardWeights
from clinisynth.rules.step import RulesStep
from clinisynth.schema import TableSchema, infer_schema, to_native
from clinisynth.weighting import DirichletReinforce, SearchResult

StepCallback = Callable[[str, int, int], None]
#: the fewest rows per class with which ``weights="learned"`` can hold out a validation split
MIN_ROWS_TO_LEARN = 6
#: redraw rounds for rows breaking a rule when there is no privacy guard to set them
RULE_ROUNDS = 10
#: calibration applied by default (chosen by benchmarks/ablation.py)
DEFAULT_CALIBRATION: tuple[str, ...] = ("moment", "adaptive_soft")


class HybridSynthesizer:
    """Mix of class-conditional generators, sampled by weight, per class.

    Parameters
    ----------
    weights : "learned", "uniform", a generator name, or a mapping ``{name: weight}``
        How rows are split among generators. ``"learned"`` (default) runs the reinforcement-
        learning weight search (uniform weights, with a warning, when a class has fewer than
        ``MIN_ROWS_TO_LEARN`` rows); generators with weight 0 are not fitted.
    calibration : calibrator name(s) or None
        The calibration chain applied to sampled rows, e.g. ``["moment", "adaptive_soft"]``.
    privacy_guard : bool or mapping
        Refuse and redraw rows too close to a distinguishable training row (see
        :mod:`clinisynth.guard`); a mapping gives the guard's parameters. On by default.
    generator_params : mapping ``{name: {param: value}}``, optional
        Extra constructor arguments per generator (e.g. ``{"cvae": {"epochs": 100}}``).
    calibration_params : mapping ``{name: {param: value}}``, optional
        Constructor arguments per calibration step.
    search : mapping, optional
        Options of :class:`~clinisynth.weighting.DirichletReinforce` (episodes, seconds, ...).
    reward : :class:`~clinisynth.reward.RewardWeights` or mapping, optional
        Weights of the reward's fidelity, utility and privacy terms.
    validation_fraction : float
        Share of training rows held out to score the weight search.
    seed : int, optional
        The one seed every random choice flows from.
    low_cardinality : int
        Numeric columns with at most this many distinct values are inferred as categorical.
    rules : bool
        Fit a :class:`~clinisynth.rules.RulesStep` (discovered or declared rules, recorded
        precision) before the encoder and apply it after decoding; rows breaking a rule it could
        not make true by construction are redrawn with the guard's refused rows.
    """

    def __init__(self, weights: WeightSpec = "learned",
                 calibration: str | Sequence[str] | None = DEFAULT_CALIBRATION,
                 privacy_guard: bool | Mapping[str, Any] = True,
                 generator_params: Mapping[str, Mapping[str, Any]] | None = None,
                 calibration_params: Mapping[str, Mapping[str, Any]] | None = None,
                 search: Mapping[str, Any] | None = None,
                 reward: RewardWeights | Mapping[str, float] | None = None,
                 validation_fraction: float = 0.25,
                 seed: int | None = None, low_cardinality: int = 5, rules: bool = True) -> None:
        self.weights = weights
        self.calibration = calibration
        self.privacy_guard = privacy_guard
        self.generator_params = generator_params
        self.calibration_params = calibration_params
        self.search = search
        self.reward = reward
        self.validation_fraction = validation_fraction
        self.seed = seed
        self.low_cardinality = low_cardinality
        self.rules = rules

    # -- fit ----------------------------------------------------------------------------------
    def fit(self, data: pd.DataFrame, target: str | None = None, *,
            schema: TableSchema | None = None,
            on_step: StepCallback | None = None) -> HybridSynthesizer:
        """Learn the table. ``target`` names the class column (or comes from ``schema``).

        With ``weights="learned"`` the training rows are split (stratified, seeded) into a search
        split and a validation split; every generator fits the search split, the weight search
        scores mixtures on the validation split, and then the generators with a positive learned
        weight are refitted on all training rows.
        """
        if schema is None:
            if target is None:
                raise ClinisynthError("fit needs a target column (or a schema naming one)")
            schema = infer_schema(data, target, self.low_cardinality)
        elif target is not None and target != schema.target:
            raise ClinisynthError(f"target '{target}' differs from the schema's '{schema.target}'")
        schema.validate(data)
        for name in self.generator_params or {}:
            if name not in list_generators():
                raise ClinisynthError(f"generator_params: unknown generator '{name}'")
        self._steps = _Steps(on_step)
        self._rng = np.random.default_rng(self.seed)
        self.schema_ = schema
        # [rules hook] a table step before the encoder (the integrator folds it into the steps)
        self.rules_ = RulesStep().fit(data, schema) if self.rules else None
        self.search_: SearchResult | None = None
        weights_spec = self.weights
        if isinstance(weights_spec, str) and weights_spec == "learned":
            smallest = int(data[schema.target].value_counts().min())
            if smallest >= MIN_ROWS_TO_LEARN:
                self.search_ = self._learn_weights(data)
                weights_spec = _prune(self.search_.weights)
            else:
                warnings.warn(f"a target class has {smallest} rows; learning weights needs "
                              f"{MIN_ROWS_TO_LEARN} per class, so uniform weights are used",
                              UserWarning, stacklevel=2)
                weights_spec = "uniform"
        weights = resolve_weights(weights_spec)
        self._check_class_sizes(data[schema.target], list(weights))
        self.weights_ = weights
        self._fit_pipeline(data, list(weights), "fitting")
        self.guard_ = None
        if self.privacy_guard:
            options = {} if self.privacy_guard is True else dict(self.privacy_guard)
            try:
                self.guard_ = PrivacyGuard(**options).fit(data, schema)
            except TypeError as exc:
                raise ClinisynthError(f"privacy_guard: {exc}") from None
        self._steps("fitted", 1, 1)
        return self

    def _fit_pipeline(self, data: pd.DataFrame, names: list[str], phase: str) -> None:
        """Encoder, the named generators and the calibration chain, fitted on ``data``."""
        schema = self.schema_
        params = dict(self.generator_params or {})
        model_schema, data = self._to_model(schema, data)  # [rules hook]
        self.encoder_ = TableEncoder(model_schema).fit(data)
        X, y = self.encoder_.transform(data, self._rng)
        self.class_counts_ = np.bincount(y, minlength=len(schema.classes))
        self.generators_: dict[str, BaseGenerator] = {}
        self.fit_seconds_: dict[str, float] = {}
        for i, name in enumerate(names):
            self._steps(f"{phase} {name}", i, len(names))
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
        self.calibration_ = self._fit_calibration(X, y)

    def _fit_calibration(self, X: np.ndarray, y: np.ndarray) -> CalibrationChain | None:
        steps = _calibration_steps(self.calibration)
        if not steps:
            return None
        columns = [b.start for b in self.encoder_.blocks_ if b.kind == NUMERIC]
        chain = CalibrationChain(steps, self.calibration_params)
        return chain.fit(X, y, columns) if columns else None

    def _learn_weights(self, data: pd.DataFrame) -> SearchResult:
        """Fit every generator on a search split; learn weights on the validation split."""
        target = self.schema_.target
        if not 0.05 <= self.validation_fraction <= 0.5:
            raise ClinisynthError("validation_fraction must be between 0.05 and 0.5")
        search_rows, validation = train_test_split(
            data, test_size=self.validation_fraction, stratify=data[target],
            random_state=int(self._rng.integers(2**31 - 1)))
        names = list_generators()
        self._fit_pipeline(search_rows, names, "search split: fitting")
        counts = self.class_counts_
        pools = {name: gen.sample({k: int(c) for k, c in enumerate(counts)})
                 for name, gen in self.generators_.items()}
        reward_weights = (self.reward if isinstance(self.reward, RewardWeights)
                          else RewardWeights(**dict(self.reward or {})))
        reward = PoolReward(pools, counts, self._decode, _UserEncoder(self), self.schema_,
                            search_rows, validation, reward_weights,
                            seed=int(self._rng.integers(2**31 - 1)))
        options = {**dict(self.search or {}), "seed": int(self._rng.integers(2**31 - 1))}
        try:
            policy = DirichletReinforce(**options)
        except TypeError as exc:
            raise ClinisynthError(f"search: {exc}") from None
        return policy.search(names, reward,
                             on_episode=lambda i, n: self._steps("weight search", i, n))

    @staticmethod
    def _check_class_sizes(labels: pd.Series, names: list[str]) -> None:
        need = max(get_generator(n).min_class_rows for n in names)
        counts = labels.value_counts()
        small = counts[counts < need]
        if len(small):
            raise ClinisynthError(
                f"target class {to_native(small.index[0])!r} has {int(small.iloc[0])} row(s); "
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
        self._last_draw: tuple[np.ndarray, np.ndarray] | None = None
        counts = self._class_counts(n, class_counts)
        X, y = self._draw(counts)
        order = self._rng.permutation(len(y))
        X, y = X[order], y[order]
        frame = self._decode(X, y)
        self.guard_report_ = None
        self.rules_report_ = {"redrawn": 0, "remaining": 0}  # [rules hook]
        if self.guard_ is not None or getattr(self, "rules_", None) is not None:
            X, frame, report = self._guard(X, y, frame)
            self.guard_report_ = report if self.guard_ is not None else None
        self._last_draw = (X, y)
        return frame

    def _guard(self, X: np.ndarray, y: np.ndarray, frame: pd.DataFrame
               ) -> tuple[np.ndarray, pd.DataFrame, GuardReport]:
        """Redraw refused rows and decode again, until none is refused or rounds run out."""
        guard = self.guard_
        report = GuardReport(threshold=guard.threshold_ if guard is not None else float("nan"))
        max_rounds = guard.max_rounds if guard is not None else RULE_ROUNDS
        refused = self._refused(frame)
        while refused.any():
            report.refused += int(refused.sum())
            if report.rounds == max_rounds:
                report.remaining = int(refused.sum())
                self.rules_report_["remaining"] = int(self._broken(frame).sum())
                break
            report.rounds += 1
            X = self._redraw(X, y, np.flatnonzero(refused))
            frame = self._decode(X, y)
            refused = self._refused(frame)
        return X, frame, report

    def _refused(self, frame: pd.DataFrame) -> np.ndarray:
        """Rows the guard refuses or that break a rule (counted in ``rules_report_``)."""
        refused = (self.guard_.refused(frame) if self.guard_ is not None
                   else np.zeros(len(frame), dtype=bool))
        broken = self._broken(frame)
        self.rules_report_["redrawn"] += int(broken.sum())
        return refused | broken

    def _broken(self, frame: pd.DataFrame) -> np.ndarray:
        # [rules hook] rows breaking a rule the rules step could not make true by construction
        rules = getattr(self, "rules_", None)
        return rules.violations(frame) if rules is not None else np.zeros(len(frame), bool)

    def _to_model(self, schema: TableSchema, data: pd.DataFrame
                  ) -> tuple[TableSchema, pd.DataFrame]:
        """[rules hook] The user table as the encoder sees it, and its schema."""
        rules = getattr(self, "rules_", None)
        if rules is None:
            return schema, data
        return rules.model_schema_, rules.transform(data)

    def _from_model(self, frame: pd.DataFrame) -> pd.DataFrame:
        """[rules hook] A decoded model table back to the user's columns."""
        rules = getattr(self, "rules_", None)
        return frame if rules is None else rules.inverse_transform(frame, self._rng)

    def uncalibrated(self) -> pd.DataFrame:
        """The rows of the last :meth:`sample` call decoded without calibration (for reports)."""
        if getattr(self, "_last_draw", None) is None:
            raise NotFittedError("call sample first")
        X, y = self._last_draw
        return self._from_model(self.encoder_.inverse_transform(X, y))

    def _redraw(self, X: np.ndarray, y: np.ndarray, rows: np.ndarray) -> np.ndarray:
        """Replace ``rows`` of ``X`` by fresh draws of the same classes.

        Each replacement picks its generator at random by weight (multinomial), so a handful of
        refused rows is not always redrawn from the same generator, as exact apportionment would.
        """
        X = X.copy()
        counts = np.bincount(y[rows], minlength=len(self.schema_.classes))
        Xn, yn = self._draw(counts, random_split=True)
        for k in np.unique(y[rows]):
            X[rows[y[rows] == k]] = Xn[yn == k]
        return X

    def _decode(self, X: np.ndarray, y: np.ndarray) -> pd.DataFrame:
        """Calibration on the encoded rows, then decoding to a table."""
        return self._from_model(self.encoder_.inverse_transform(self._calibrate(X, y), y))

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

    def _draw(self, counts: np.ndarray, random_split: bool = False
              ) -> tuple[np.ndarray, np.ndarray]:
        """Rows from each generator: class ``k``'s count split by weight among generators
        (exactly, by largest remainder; or at random, multinomially, with ``random_split``)."""
        names = list(self.generators_)
        shares = np.array([self.weights_[nm] for nm in names])
        shares = shares / shares.sum()
        split = ((lambda c: self._rng.multinomial(c, shares)) if random_split
                 else (lambda c: apportion(c, shares)))
        per_gen = np.array([split(int(c)) for c in counts])  # (classes, generators)
        Xs, ys = [], []
        for j, name in enumerate(names):
            want = {k: int(per_gen[k, j]) for k in range(len(counts)) if per_gen[k, j] > 0}
            if want:
                X, y = self.generators_[name].sample(want)
                Xs.append(X)
                ys.append(y)
        return np.vstack(Xs), np.concatenate(ys)

    def _calibrate(self, X: np.ndarray, y: np.ndarray) -> np.ndarray:
        """Per class, monotone maps of each numeric column toward the real class."""
        return X if self.calibration_ is None else self.calibration_.transform(X, y)

    # -- persistence --------------------------------------------------------------------------
    def get_params(self) -> dict[str, Any]:
        """Constructor arguments as JSON-able values."""
        reward = self.reward
        if isinstance(reward, RewardWeights):
            reward = asdict(reward)
        return {
            "weights": self.weights if isinstance(self.weights, str) else dict(self.weights),
            "calibration": (self.calibration if self.calibration is None
                            or isinstance(self.calibration, str) else list(self.calibration)),
            "privacy_guard": (self.privacy_guard if isinstance(self.privacy_guard, bool)
                              else dict(self.privacy_guard)),
            "generator_params": _plain(self.generator_params),
            "calibration_params": _plain(self.calibration_params),
            "search": dict(self.search) if self.search else None,
            "reward": dict(reward) if reward else None,
            "validation_fraction": self.validation_fraction,
            "seed": self.seed,
            "low_cardinality": self.low_cardinality,
            "rules": self.rules,
        }

    def save(self, path: str | Path) -> None:
        """Write the fitted model to directory ``path`` (JSON + npz arrays; no pickle)."""
        self._check_fitted()
        arrays: dict[str, np.ndarray] = {"class_counts": self.class_counts_}
        gens = {}
        for name, gen in self.generators_.items():
            meta, garrays = gen.get_state()
            gens[name] = meta
            arrays.update({f"gen.{name}.{k}": v for k, v in garrays.items()})
        manifest: dict[str, Any] = {
            "clinisynth_version": __version__,
            "params": self.get_params(),
            "schema": self.schema_.to_dict(),
            "encoder": self.encoder_.get_state(),
            "weights": self.weights_,
            "search": self.search_.to_dict() if self.search_ else None,
            "generators": gens,
            "calibration": None,
            "guard": None,
            "rng": self._rng.bit_generator.state,
        }
        if self.calibration_ is not None:
            manifest["calibration"], carrays = self.calibration_.get_state()
            arrays.update({f"calibration.{k}": v for k, v in carrays.items()})
        if self.guard_ is not None:
            manifest["guard"], garrays = self.guard_.get_state()
            arrays.update({f"guard.{k}": v for k, v in garrays.items()})
        manifest["rules"] = None  # [rules hook]
        if getattr(self, "rules_", None) is not None:
            manifest["rules"], rarrays = self.rules_.get_state()
            arrays.update({f"rules.{k}": v for k, v in rarrays.items()})
        write_model(path, manifest, arrays)

    @classmethod
    def load(cls, path: str | Path) -> HybridSynthesizer:
        """Rebuild a model saved by :meth:`save`; only registered generators can be loaded."""
        manifest, arrays = read_model(path)
        syn = cls(**manifest["params"])
        syn.schema_ = TableSchema.from_dict(manifest["schema"])
        syn.rules_ = None  # [rules hook]
        if manifest.get("rules") is not None:
            syn.rules_ = RulesStep.from_state(manifest["rules"], split_arrays(arrays, "rules"))
        model_schema = syn.rules_.model_schema_ if syn.rules_ is not None else syn.schema_
        syn.encoder_ = TableEncoder.from_state(model_schema, manifest["encoder"])
        syn.weights_ = {k: float(v) for k, v in manifest["weights"].items()}
        syn.search_ = SearchResult.from_dict(manifest["search"]) if manifest["search"] else None
        syn.class_counts_ = arrays["class_counts"]
        syn.generators_ = {}
        for name, meta in manifest["generators"].items():
            gen_cls = get_generator(name)
            syn.generators_[name] = gen_cls.from_state(meta, split_arrays(arrays, f"gen.{name}"))
        syn.calibration_ = None
        if manifest["calibration"] is not None:
            syn.calibration_ = CalibrationChain.from_state(
                manifest["calibration"], split_arrays(arrays, "calibration"))
        syn.guard_ = None
        if manifest["guard"] is not None:
            syn.guard_ = PrivacyGuard.from_state(syn.schema_, manifest["guard"],
                                                 split_arrays(arrays, "guard"))
        syn._rng = np.random.default_rng()
        syn._rng.bit_generator.state = manifest["rng"]
        return syn


class _UserEncoder:
    """[rules hook] The encoder as the reward sees it: user tables in, model matrices out."""

    def __init__(self, syn: HybridSynthesizer) -> None:
        self.syn = syn

    def transform(self, frame: pd.DataFrame, rng: np.random.Generator
                  ) -> tuple[np.ndarray, np.ndarray]:
        _, model = self.syn._to_model(self.syn.schema_, frame)
        return self.syn.encoder_.transform(model, rng)


class _Steps:
    """Progress callback wrapper: silent when no callback is given."""

    def __init__(self, callback: StepCallback | None) -> None:
        self.callback = callback

    def __call__(self, label: str, done: int, total: int) -> None:
        if self.callback is not None:
            self.callback(label, done, total)


def _calibration_steps(calibration: str | Sequence[str] | None) -> list[str]:
    if calibration is None:
        return []
    return [calibration] if isinstance(calibration, str) else list(calibration)


def _prune(weights: Mapping[str, float], floor: float = 0.01) -> dict[str, float]:
    """Drop generators whose learned weight is below ``floor``; renormalise the rest."""
    kept = {n: w for n, w in weights.items() if w >= floor}
    total = sum(kept.values())
    return {n: w / total for n, w in kept.items()}


def _plain(params: Mapping[str, Mapping[str, Any]] | None) -> dict[str, dict[str, Any]] | None:
    return {k: dict(v) for k, v in params.items()} if params else None
