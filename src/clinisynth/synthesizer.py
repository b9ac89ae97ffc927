"""HybridSynthesizer: the fit/sample lifecycle around the class-conditional generators.

Data path: DataFrame -> schema (inferred or given, validated) -> roles step
(:mod:`clinisynth.roles`: identifiers and free text out, dates as numbers; its table and
``model_schema_`` are all the later stages see) -> the table steps (:meth:`table_steps`: the
survival time as a normal score per (class, event) cell, :mod:`clinisynth.survival`; rules made
true by construction, :mod:`clinisynth.rules`) -> encoder (one numeric matrix, class codes) ->
weights (learned by :mod:`clinisynth.weighting` on a validation split, or given) -> every
generator with a positive weight fits -> sampling splits each class's rows among generators by
weight (largest-remainder apportionment, so proportions are exact) -> rows shuffled ->
calibration (:mod:`clinisynth.calibration`, per class, monotone per column) -> decoded, then the
table steps' inverses in reverse order (rules, survival) -> the privacy guard
(:mod:`clinisynth.guard`) refuses rows of this real-scale table that single out a patient,
which are redrawn (only the redrawn rows are decoded and checked again) -> the roles step's
``inverse_transform`` (fresh identifiers, dates in the input's format, text missing): a
DataFrame with the input's columns, order and dtypes.

Every random choice flows from ``seed``: one ``numpy.random.Generator`` seeds the generators and
drives encoding, sampling order and shuffling; its state is saved with the model, so a loaded
model continues exactly where the saved one would have.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.model_selection import train_test_split

from clinisynth.calibration import CalibrationChain
from clinisynth.calibration.fitted import FittedCalibration
from clinisynth.conditions import Condition, ConditionSet, sample_conditioned
from clinisynth.encoding import NUMERIC, TableEncoder
from clinisynth.errors import ClinisynthError, NotFittedError
from clinisynth.generators import BaseGenerator, get_generator, list_generators
from clinisynth.guard import GuardReport, PrivacyGuard
from clinisynth.mixture import (
    Generators,
    WeightSpec,
    apportion,
    resolve_generators,
    resolve_weights,
    weights_range,
)
from clinisynth.persistence import read_model, split_arrays, write_model
from clinisynth.reward import PoolReward, RewardWeights
from clinisynth.roles import RolesStep
from clinisynth.rules.step import RulesStep
from clinisynth.schema import TableSchema, infer_schema, to_native
from clinisynth.steps import TABLE_STEPS, TableStep
from clinisynth.survival import SurvivalStep
from clinisynth.threads import resolve_threads, thread_limits
from clinisynth.version import __version__
from clinisynth.weighting import DirichletReinforce, SearchResult

StepCallback = Callable[[str, int, int], None]
#: what ``sample(conditions=...)`` takes (see :mod:`clinisynth.conditions`)
Conditions = str | Sequence[str | Condition] | ConditionSet
#: the fewest rows per class with which ``weights="learned"`` can hold out a validation split
MIN_ROWS_TO_LEARN = 6
#: redraw rounds for rows breaking a rule (the rules step makes most rules true by construction)
RULE_ROUNDS = 10
#: calibration applied by default (chosen by benchmarks/ablation.py)
DEFAULT_CALIBRATION: tuple[str, ...] = ("moment", "adaptive_soft")
#: rows per class of the reference draw the calibration maps are learned on: a multiple of the
#: class's training rows, within bounds
REFERENCE_ROWS_FACTOR, REFERENCE_ROWS_MIN, REFERENCE_ROWS_MAX = 20, 5_000, 50_000
#: most rows one chunk of ``sample`` draws, calibrates, guards and decodes at once
CHUNK_ROWS = 50_000
#: fitted with weight 0 when every weighted generator resamples real rows, so the guard always
#: has a generator that does not to redraw refused rows from
FALLBACK_GENERATOR = "gmm"
#: least number of last-resort redraw rounds from the non-resampling generators
FALLBACK_ROUNDS = 10
#: the weight search fits its generators on at most this many search-split rows and scores
#: mixtures on at most this many validation rows (seeded subsamples, every class kept)
SEARCH_ROWS_MAX, VALIDATION_ROWS_MAX = 5_000, 2_000
#: default ``max_rows``: tables with more training rows are fitted on a stratified subsample of
#: this many (``benchmarks/scale.py``: the exact privacy guard checks every synthetic row against
#: every training row the model saw, so this bounds sampling time whatever the table's size)
MAX_FIT_ROWS = 100_000
#: the table steps between the roles step and the encoder, in order (their registry names, the
#: manifest keys and the ``<key>_`` attributes)
TABLE_STEP_KEYS: tuple[str, ...] = ("survival", "rules")


class HybridSynthesizer:
    """Mix of class-conditional generators, sampled by weight, per class.

    Parameters
    ----------
    weights : "learned", "uniform", a generator name, or a mapping ``{name: weight}``
        How rows are split among generators. ``"learned"`` (default) runs the reinforcement-
        learning weight search (uniform weights, with a warning, when a class has fewer than
        ``MIN_ROWS_TO_LEARN`` rows); generators with weight 0 are not fitted.
    generators : "all", a list of generator names, or None
        The generators ``"learned"`` and ``"uniform"`` weights range over. ``None`` (default)
        is ``DEFAULT_GENERATORS``, the Gaussian mixture and the conditional VAE: the two that do
        not build rows from real patients. ``"all"`` adds noise injection, interpolation and
        SMOTE, which on the benchmark tables add singling-out and linkability risk and no
        fidelity or utility (``benchmarks/results/mixture_tradeoff.md``). Given weights (a name
        or a mapping) may name any generator unless ``generators`` is given, and then only
        those.
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
        not make true by construction are redrawn (at most ``RULE_ROUNDS`` rounds, with the
        guard's refused rows) and counted in ``rules_report_``.
    n_jobs : int, optional
        Threads for BLAS, scikit-learn and PyTorch during ``fit`` and ``sample`` (restored
        afterwards; see :mod:`clinisynth.threads`); ``-1`` is every core, ``None`` leaves the
        libraries' defaults. Results do not depend on it.
    survival : bool
        When the schema has a survival pair, fit a :class:`~clinisynth.survival.SurvivalStep`
        between the roles and rules steps: the generators model the follow-up time as a normal
        score within its (class, event value) cell, and each synthetic time is mapped back
        inside its own cell's real range.
    max_rows : int or None
        When the table has more rows, everything after the roles step (table steps, encoder,
        generators, calibration, guard) is fitted on a seeded stratified subsample of
        ``max_rows`` rows (class shares kept), and the other rows are never read again: no
        synthetic row depends on them, so, like holdout patients, they cannot be copied, and
        the guard checks each synthetic row against the rows the model saw. The schema and
        the roles step (identifiers are regenerated disjoint from *every* real value) see all
        rows. ``None`` fits every row. ``fit_rows_`` records ``(rows given, rows fitted)``.

    Attributes (after ``fit``): ``schema_`` is the user's table schema (with column roles);
    ``roles_`` the fitted :class:`~clinisynth.roles.RolesStep`; ``model_schema_`` the schema of
    the roles view the table steps and the guard see (``roles_.transform`` of the input);
    ``survival_`` and ``rules_`` the fitted table steps (or None).
    """

    def __init__(self, weights: WeightSpec = "learned",
                 calibration: str | Sequence[str] | None = DEFAULT_CALIBRATION,
                 privacy_guard: bool | Mapping[str, Any] = True,
                 generator_params: Mapping[str, Mapping[str, Any]] | None = None,
                 calibration_params: Mapping[str, Mapping[str, Any]] | None = None,
                 search: Mapping[str, Any] | None = None,
                 reward: RewardWeights | Mapping[str, float] | None = None,
                 validation_fraction: float = 0.25,
                 seed: int | None = None, low_cardinality: int = 5, rules: bool = True,
                 n_jobs: int | None = None, survival: bool = True,
                 max_rows: int | None = MAX_FIT_ROWS,
                 generators: Generators = None) -> None:
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
        self.n_jobs = n_jobs
        self.survival = survival
        self.max_rows = max_rows
        self.generators = generators

    # -- fit ----------------------------------------------------------------------------------
    def fit(self, data: pd.DataFrame, target: str | None = None, *,
            schema: TableSchema | None = None,
            on_step: StepCallback | None = None) -> HybridSynthesizer:
        """Learn the table. ``target`` names the class column (or comes from ``schema``).

        With ``weights="learned"`` the training rows are split (stratified, seeded) into a search
        split and a validation split, each capped at ``SEARCH_ROWS_MAX`` / ``VALIDATION_ROWS_MAX``
        rows (seeded subsamples keeping every class); every generator fits the search split, the
        weight search scores mixtures on the validation split, and then only the generators with
        a learned weight of at least 1 % are fitted on all training rows.
        """
        resolve_threads(self.n_jobs)
        with thread_limits(self.n_jobs):
            return self._fit(data, target, schema, on_step)

    def _fit(self, data: pd.DataFrame, target: str | None, schema: TableSchema | None,
             on_step: StepCallback | None) -> HybridSynthesizer:
        if schema is None:
            if target is None:
                raise ClinisynthError("fit needs a target column (or a schema naming one)")
            schema = infer_schema(data, target, self.low_cardinality)
        elif target is not None and target != schema.target:
            raise ClinisynthError(f"target '{target}' differs from the schema's '{schema.target}'")
        schema.validate(data)
        allowed = resolve_generators(self.generators)
        learned = isinstance(self.weights, str) and self.weights == "learned"
        within = weights_range(self.weights, self.generators)
        if not learned:
            resolve_weights(self.weights, within)  # a bad spec fails before any fitting
        for name in self.generator_params or {}:
            if name not in list_generators():
                raise ClinisynthError(f"generator_params: unknown generator '{name}'")
        _reward_weights(self.reward)
        self._rng = np.random.default_rng(self.seed)
        self.roles_ = RolesStep().fit(data, schema)
        self.model_schema_ = self.roles_.model_schema_
        data = self._fit_rows(self.roles_.transform(data), schema.target)
        self._steps = _Steps(on_step)
        self.schema_ = schema
        self._fit_table_steps(data)
        self.search_: SearchResult | None = None
        weights_spec = self.weights
        if learned:
            smallest = int(data[schema.target].value_counts().min())
            if len(allowed) == 1:
                weights_spec = allowed[0]  # nothing to search over
            elif smallest >= MIN_ROWS_TO_LEARN:
                self.search_ = self._learn_weights(data, allowed)
                weights_spec = _prune(self.search_.weights)
            else:
                warnings.warn(f"a target class has {smallest} rows; learning weights needs "
                              f"{MIN_ROWS_TO_LEARN} per class, so uniform weights are used",
                              UserWarning, stacklevel=2)
                weights_spec = "uniform"
        # what the search split's fits selected (e.g. GMM components), reused by the refit
        reuse = ({nm: gen.refit_params() for nm, gen in self.generators_.items()}
                 if self.search_ is not None else {})
        weights = resolve_weights(weights_spec, within)
        self._check_class_sizes(data[schema.target], list(weights))
        self.weights_ = weights
        names = list(weights)
        if self.privacy_guard and all(get_generator(nm).resamples_rows for nm in names):
            names.append(FALLBACK_GENERATOR)  # weight 0: only redraws rows the guard refused
        self._fit_pipeline(data, names, "fitting", reuse)
        self._freeze_calibration()
        self.guard_ = None
        if self.privacy_guard:
            options = {} if self.privacy_guard is True else dict(self.privacy_guard)
            try:
                self.guard_ = PrivacyGuard(**options).fit(data, self.model_schema_)
            except TypeError as exc:
                raise ClinisynthError(f"privacy_guard: {exc}") from None
        self._steps("fitted", 1, 1)
        return self

    def _fit_rows(self, data: pd.DataFrame, target: str) -> pd.DataFrame:
        """``data``, or its stratified ``max_rows`` subsample (drawn from the fit's generator,
        which draws nothing when the table has at most ``max_rows`` rows)."""
        max_rows = self.max_rows
        if max_rows is not None and (isinstance(max_rows, bool) or not isinstance(
                max_rows, int | np.integer) or max_rows < 2 * MIN_ROWS_TO_LEARN):
            raise ClinisynthError(f"max_rows must be an integer of at least "
                                  f"{2 * MIN_ROWS_TO_LEARN} (or None), got {max_rows!r}")
        used = data if max_rows is None else _stratified_cap(data, target, int(max_rows),
                                                             self._rng)
        self.fit_rows_ = (len(data), len(used))
        return used

    def _fit_table_steps(self, data: pd.DataFrame) -> None:
        """The table steps between the roles view and the encoder, fitted in order: survival
        (when the schema has a survival pair and ``survival`` is on), then rules, each on the
        previous one's output. The rules step never discovers rules on the survival score."""
        schema = self.model_schema_
        self.survival_: SurvivalStep | None = None
        if self.survival and schema.survival is not None:
            self.survival_ = SurvivalStep().fit(data, schema)
            data, schema = self.survival_.transform(data), self.survival_.model_schema_
        self.rules_: RulesStep | None = None
        if self.rules:
            scores = (self.survival_.pair_["time"],) if self.survival_ is not None else ()
            self.rules_ = RulesStep(exclude=scores).fit(data, schema)

    def table_steps(self) -> list[TableStep]:
        """The fitted table steps after the roles step, in the order they transform a table."""
        steps = (getattr(self, f"{key}_", None) for key in TABLE_STEP_KEYS)
        return [step for step in steps if step is not None]

    def _fit_pipeline(self, data: pd.DataFrame, names: list[str], phase: str,
                      reuse: Mapping[str, Mapping[str, Any]] | None = None) -> None:
        """Encoder, the named generators and the calibration chain, fitted on ``data``
        (``reuse``: per generator, parameters an earlier fit selected; the user's win)."""
        schema = self.model_schema_
        params = {name: {**(reuse or {}).get(name, {}), **(self.generator_params or {}).get(
            name, {})} for name in names}
        self.calibration_map_: FittedCalibration | None = None
        model_schema, data = self._to_model(schema, data)
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

    def _freeze_calibration(self) -> None:
        """Learn the chain's maps once on a large draw from the fitted mixture (see
        :mod:`clinisynth.calibration.fitted`), so sampling calibrates every batch alike."""
        if self.calibration_ is None:
            return
        self._steps("calibration maps", 0, 1)
        per_class = np.clip(REFERENCE_ROWS_FACTOR * self.class_counts_, REFERENCE_ROWS_MIN,
                            REFERENCE_ROWS_MAX)
        X_ref, y_ref = self._draw(per_class, self._rng)
        self.calibration_map_ = FittedCalibration.learn(self.calibration_, X_ref, y_ref)

    def _learn_weights(self, data: pd.DataFrame, names: list[str]) -> SearchResult:
        """Fit the ``names`` generators on a search split; learn weights on the validation
        split."""
        target = self.schema_.target
        if not 0.05 <= self.validation_fraction <= 0.5:
            raise ClinisynthError("validation_fraction must be between 0.05 and 0.5")
        search_rows, validation = train_test_split(
            data, test_size=self.validation_fraction, stratify=data[target],
            random_state=int(self._rng.integers(2**31 - 1)))
        search_rows = _stratified_cap(search_rows, target, SEARCH_ROWS_MAX, self._rng)
        validation = _stratified_cap(validation, target, VALIDATION_ROWS_MAX, self._rng)
        self._fit_pipeline(search_rows, names, "search split: fitting")
        counts = self.class_counts_
        pools = {name: gen.sample({k: int(c) for k, c in enumerate(counts)})
                 for name, gen in self.generators_.items()}
        reward_weights = _reward_weights(self.reward)
        reward = PoolReward(pools, counts, self._decode, _UserEncoder(self),
                            self.model_schema_,
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
    def sample(self, n: int, class_counts: Mapping[Any, int] | None = None,
               seed: int | None = None,
               conditions: Conditions | None = None) -> pd.DataFrame:
        """``n`` synthetic rows; by default classes keep their training proportions.

        ``class_counts`` maps target labels to row counts (they must sum to ``n``); classes left
        out get no rows. With ``seed`` the result is a pure function of the fitted model and
        ``seed``; without it a seed is drawn from the model's own stream (so successive calls
        differ, reproducibly). Rows are produced in chunks of at most ``CHUNK_ROWS`` (see
        :meth:`iter_chunks`), so the same ``(n, class_counts, seed)`` gives the same table
        however it is computed.

        ``conditions`` (strings such as ``"age>=65"``, ``"sex=F"``, ``"stage in I,II"``,
        :class:`~clinisynth.conditions.Condition` objects or a
        :class:`~clinisynth.conditions.ConditionSet`) restrict the rows: exactly ``n`` rows that
        all satisfy every condition, by bounded rejection
        (:func:`~clinisynth.conditions.sample_conditioned`; default class counts: ``n`` split by
        the training shares of the classes the conditions allow). The same ``(n, class_counts,
        conditions, seed)`` gives the same table. A condition that is impossible, or too rare
        for the model, is a :class:`ClinisynthError`. Conditioned rows come as one frame
        (:meth:`iter_chunks` takes no conditions), and ``guard_report_`` / ``rules_report_``
        then describe the last rejection round only. No conditions (``None`` or empty) is
        plain sampling.
        """
        if conditions is not None and (isinstance(conditions, str) or conditions):
            return self._sample_conditioned(n, class_counts, seed, conditions)
        frames = list(self.iter_chunks(n, class_counts, seed))
        return pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]

    def _sample_conditioned(self, n: int, class_counts: Mapping[Any, int] | None,
                            seed: int | None, conditions: Conditions) -> pd.DataFrame:
        """Rows meeting ``conditions``; each rejection round calls :meth:`sample` without
        conditions and with a seed drawn from ``default_rng(seed)``, so there is no recursion
        and the result is a pure function of the model and ``(n, class_counts, conditions,
        seed)``."""
        self._check_fitted()
        seed = self.next_seed() if seed is None else _check_seed(seed)
        return sample_conditioned(self, n, conditions, class_counts=class_counts, seed=seed)

    def iter_chunks(self, n: int, class_counts: Mapping[Any, int] | None = None,
                    seed: int | None = None) -> Iterator[pd.DataFrame]:
        """The rows of :meth:`sample`, chunk by chunk (bounded memory; write each as it comes).

        Chunk ``i`` holds ``plan[i]`` rows per class (:meth:`chunk_plan`) and draws all its
        randomness from ``numpy.random.default_rng([seed, i])``, so chunks can be produced in any
        order, on any worker, and concatenate to the same table. ``guard_report_`` sums the
        chunks' guard reports once the last chunk is out.
        """
        self._check_fitted()
        counts = self._class_counts(n, class_counts)
        seed = self.next_seed() if seed is None else _check_seed(seed)
        self.guard_report_ = (GuardReport(threshold=self.guard_.threshold_)
                              if self.guard_ is not None else None)
        self.rules_report_ = {"redrawn": 0, "remaining": 0}  # [rules hook]
        for index, chunk_counts in enumerate(self.chunk_plan(counts)):
            frame, report = self.sample_chunk(chunk_counts, seed, index)
            if report is not None and self.guard_report_ is not None:
                self.guard_report_.add(report)
            yield frame

    def next_seed(self) -> int:
        """A fresh seed from the model's own stream (saved with the model)."""
        self._check_fitted()
        return int(self._rng.integers(2**63 - 1))

    def chunk_plan(self, counts: np.ndarray, chunk_rows: int | None = None) -> list[np.ndarray]:
        """Per-class row counts of each chunk: ``ceil(n / chunk_rows)`` chunks, each class spread
        over them by largest remainder (earlier chunks take the extra rows)."""
        counts = np.asarray(counts, dtype=int)
        size = CHUNK_ROWS if chunk_rows is None else int(chunk_rows)
        n_chunks = max(1, -(-int(counts.sum()) // size))
        per_class = [apportion(int(c), np.ones(n_chunks)) for c in counts]
        return [np.array([pc[i] for pc in per_class]) for i in range(n_chunks)]

    def sample_chunk(self, counts: np.ndarray, seed: int, index: int
                     ) -> tuple[pd.DataFrame, GuardReport | None]:
        """One chunk: ``counts[k]`` rows of class ``k``, drawn, calibrated, decoded and guarded,
        with randomness from ``default_rng([seed, index])`` only."""
        self._check_fitted()
        rng = np.random.default_rng([int(seed), int(index)])
        with thread_limits(self.n_jobs):
            return self._sample_rows(np.asarray(counts, dtype=int), rng, calibrate=True)

    def _sample_rows(self, counts: np.ndarray, rng: np.random.Generator, calibrate: bool
                     ) -> tuple[pd.DataFrame, GuardReport | None]:
        X, y = self._draw(counts, rng)
        order = rng.permutation(len(y))
        frame, report = self._accept(X[order], y[order], rng, calibrate)
        return self.roles_.inverse_transform(frame, rng), report

    def _broken(self, frame: pd.DataFrame) -> np.ndarray:
        """[rules hook] Rows breaking a rule the rules step could not make true by construction."""
        rules = getattr(self, "rules_", None)
        return rules.violations(frame) if rules is not None else np.zeros(len(frame), bool)

    def _count_rules(self, broken: np.ndarray, remaining: bool = False) -> None:
        report = getattr(self, "rules_report_", None)
        if report is None:
            report = self.rules_report_ = {"redrawn": 0, "remaining": 0}
        report["remaining" if remaining else "redrawn"] += int(broken.sum())

    def _to_model(self, schema: TableSchema, data: pd.DataFrame
                  ) -> tuple[TableSchema, pd.DataFrame]:
        """A roles-view table as the encoder sees it (through every table step), and its
        schema (``schema`` itself when there is no table step)."""
        for step in self.table_steps():
            schema, data = step.model_schema_, step.transform(data)
        return schema, data

    def _from_model(self, frame: pd.DataFrame, rng: np.random.Generator | None = None
                    ) -> pd.DataFrame:
        """A decoded model table back to the roles view: the table steps' inverses in reverse
        order (rules, then survival), so the guard and the rules' checks see real-scale values."""
        rng = rng if rng is not None else np.random.default_rng(0)
        for step in reversed(self.table_steps()):
            frame = step.inverse_transform(frame, rng)
        return frame

    def _accept(self, X: np.ndarray, y: np.ndarray, rng: np.random.Generator, calibrate: bool
                ) -> tuple[pd.DataFrame, GuardReport | None]:
        """Decode a draw; redraw the rows the guard refuses or that break a rule; never return
        a refused row.

        Only the redrawn rows are decoded and checked again (both checks are per row; the
        replacements inherit the refused rows' count of missing cells per column and class, so
        the batch's missing counts stay exact). Up to ``max_rounds`` rounds redraw from the whole
        mixture (generator picked at random by weight), then up to ``max(max_rounds,
        FALLBACK_ROUNDS)`` more from the generators that do not resample real rows; a row still
        refused after that is an error, not an output. Rows breaking a rule are redrawn in at
        most ``RULE_ROUNDS`` rounds (the rest are counted in ``rules_report_``).
        """
        guard = self.guard_
        report = GuardReport(threshold=guard.threshold_) if guard is not None else None
        missing = self.encoder_.missing_masks(X, y)
        frame = self._decode(X, y, calibrate, missing)
        rows, batch = np.arange(len(y)), frame  # the rows to check, and their decoded table
        still_broken = np.zeros(len(y), dtype=bool)  # per row, as its last check found it
        rule_rounds = fallback_rounds = 0
        while True:
            if guard is not None:
                refused, rules = guard.check(batch)
            else:
                refused, rules = np.zeros(len(batch), dtype=bool), None
            broken = self._broken(batch)
            still_broken[rows] = broken
            fix_rules = bool(broken.any()) and rule_rounds < RULE_ROUNDS
            if fix_rules:
                rule_rounds += 1
                self._count_rules(broken)
            redo = refused | broken if fix_rules else refused
            if not redo.any():
                break
            if report is not None:
                report.count(rules)
            rows = rows[redo]
            if report is None or report.rounds < guard.max_rounds:
                if report is not None:
                    report.rounds += 1
                shares = self._weight_shares()
            elif fallback_rounds < max(guard.max_rounds, FALLBACK_ROUNDS):
                fallback_rounds += 1
                report.fallback += len(rows)
                shares = self._fallback_shares()
            else:
                raise ClinisynthError(
                    f"privacy guard: {int(refused.sum())} synthetic row(s) were still refused "
                    f"after {guard.max_rounds} redraw rounds from the mixture and "
                    f"{fallback_rounds} from the generators that do not resample patients; "
                    "refusing to write them (try more privacy_guard max_rounds, or more weight "
                    "on gmm/cvae)")
            X_new = self._redraw(y[rows], rng, shares)
            kept = {c: np.bincount(y[rows][m[rows]], minlength=len(self.schema_.classes))
                    for c, m in missing.items()}
            new_missing = self.encoder_.missing_masks(X_new, y[rows], kept)
            for c, m in missing.items():
                m[rows] = new_missing[c]
            batch = self._decode(X_new, y[rows], calibrate, new_missing)
            frame = _replace_rows(frame, rows, batch)
        self._count_rules(still_broken, remaining=True)
        return frame, report

    def uncalibrated(self, n: int, seed: int) -> pd.DataFrame:
        """The rows ``sample(n, seed=seed)`` draws, decoded without calibration (for reports).

        The guard checks them like any output (refused rows are redrawn), so no row it would
        refuse is ever exposed; where the guard redrew rows, they differ from the calibrated
        sample's.
        """
        self._check_fitted()
        counts = self._class_counts(n, None)
        with thread_limits(self.n_jobs):
            frames = [self._sample_rows(c, np.random.default_rng([int(seed), i]),
                                        calibrate=False)[0]
                      for i, c in enumerate(self.chunk_plan(counts))]
        return pd.concat(frames, ignore_index=True)

    def _weight_shares(self) -> dict[str, float]:
        return {name: self.weights_[name] for name in self.generators_ if name in self.weights_}

    def _fallback_shares(self) -> dict[str, float]:
        """Weights of the generators that do not resample real rows (uniform if all are 0)."""
        names = [nm for nm, gen in self.generators_.items() if not gen.resamples_rows]
        if not names:
            raise ClinisynthError("privacy guard: no generator that does not resample patients "
                                  "is fitted; cannot replace refused rows")
        shares = {nm: self.weights_.get(nm, 0.0) for nm in names}
        total = sum(shares.values())
        return {nm: (w / total if total > 0 else 1.0 / len(names)) for nm, w in shares.items()}

    def _redraw(self, y: np.ndarray, rng: np.random.Generator, shares: Mapping[str, float]
                ) -> np.ndarray:
        """Fresh encoded rows of classes ``y``, in that order.

        Each replacement picks its generator at random by ``shares`` (multinomial), so a handful
        of refused rows is not always redrawn from the same generator, as exact apportionment
        would.
        """
        Xn, yn = self._draw(np.bincount(y, minlength=len(self.schema_.classes)), rng,
                            shares=shares)
        out = np.empty((len(y), Xn.shape[1]))
        for k in np.unique(y):
            out[y == k] = Xn[yn == k]
        return out

    def _decode(self, X: np.ndarray, y: np.ndarray, calibrate: bool = True,
                missing: dict[str, np.ndarray] | None = None) -> pd.DataFrame:
        """Calibration on the encoded rows (unless ``calibrate`` is False), then decoding
        (``missing``: the cells to blank, see :meth:`TableEncoder.missing_masks`)."""
        frame = self.encoder_.inverse_transform(self._calibrate(X, y) if calibrate else X, y,
                                                missing)
        return self._from_model(frame)

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

    def _draw(self, counts: np.ndarray, rng: np.random.Generator,
              shares: Mapping[str, float] | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Rows from each generator, grouped by generator.

        Without ``shares``, class ``k``'s count is split among the generators by weight exactly
        (largest remainder); with ``shares`` (a redraw), each row picks its generator at random
        by ``shares`` (multinomial).
        """
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

    def _calibrate(self, X: np.ndarray, y: np.ndarray) -> np.ndarray:
        """Per class, monotone maps of each numeric column toward the real class: the frozen
        maps once fitted, the chain itself on a batch during the weight search."""
        if self.calibration_map_ is not None:
            return self.calibration_map_.transform(X, y)
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
            "n_jobs": self.n_jobs,
            "survival": self.survival,
            "max_rows": self.max_rows,
            "generators": (self.generators if self.generators is None
                           or isinstance(self.generators, str) else list(self.generators)),
        }

    def save(self, path: str | Path) -> None:
        """Write the fitted model to directory ``path`` (JSON + npz arrays, checksummed; no
        pickle). ``path`` must be new, empty or hold a model, which is replaced atomically (see
        :mod:`clinisynth.persistence`)."""
        self._check_fitted()
        arrays: dict[str, np.ndarray] = {"class_counts": self.class_counts_}
        gens = {}
        for name, gen in self.generators_.items():
            meta, garrays = gen.get_state()
            gens[name] = meta
            arrays.update({f"gen.{name}.{k}": v for k, v in garrays.items()})
        roles_meta, roles_arrays = self.roles_.get_state()
        arrays.update({f"roles.{k}": v for k, v in roles_arrays.items()})
        manifest: dict[str, Any] = {
            "clinisynth_version": __version__,
            "params": self.get_params(),
            "schema": self.schema_.to_dict(),
            "roles": roles_meta,
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
        if self.calibration_map_ is not None:
            manifest["calibration_map"], marrays = self.calibration_map_.get_state()
            arrays.update({f"calibration_map.{k}": v for k, v in marrays.items()})
        if self.guard_ is not None:
            manifest["guard"], garrays = self.guard_.get_state()
            arrays.update({f"guard.{k}": v for k, v in garrays.items()})
        for key in TABLE_STEP_KEYS:  # table steps after the roles step; None when absent
            manifest[key] = None
            step = getattr(self, f"{key}_", None)
            if step is not None:
                manifest[key], sarrays = step.get_state()
                arrays.update({f"{key}.{k}": v for k, v in sarrays.items()})
        write_model(path, manifest, arrays)

    @classmethod
    def load(cls, path: str | Path) -> HybridSynthesizer:
        """Rebuild a model saved by :meth:`save`, after verifying every file's checksum.

        Only registered generators can be loaded. A model fitted with the privacy guard is
        refused if its guard state is missing; any inconsistency is a :class:`ClinisynthError`.
        """
        manifest, arrays = read_model(path)
        try:
            return cls._from_manifest(manifest, arrays)
        except ClinisynthError as exc:
            raise ClinisynthError(f"model '{path}': {exc}") from None
        except (KeyError, IndexError, TypeError, ValueError, AttributeError) as exc:
            what = f"missing entry {exc}" if isinstance(exc, KeyError) else str(exc)
            what = what.strip().splitlines()[0] if what.strip() else type(exc).__name__
            raise ClinisynthError(f"model '{path}' is inconsistent ({what}); fit it again"
                                  ) from None

    @classmethod
    def _from_manifest(cls, manifest: dict[str, Any], arrays: dict[str, np.ndarray]
                       ) -> HybridSynthesizer:
        syn = cls(**manifest["params"])
        if syn.privacy_guard and manifest["guard"] is None:
            raise ClinisynthError("it was fitted with the privacy guard but holds no guard "
                                  "state; refusing to sample without the guard")
        syn.schema_ = TableSchema.from_dict(manifest["schema"])
        roles = manifest.get("roles") or {  # saved before column roles: no role columns
            "schema": manifest["schema"], "model_schema": manifest["schema"], "plans": {}}
        syn.roles_ = RolesStep.from_state(roles, split_arrays(arrays, "roles"))
        syn.model_schema_ = syn.roles_.model_schema_
        for key in TABLE_STEP_KEYS:  # a model saved before a step existed holds no entry
            step = None
            if manifest.get(key) is not None:
                step = TABLE_STEPS.get(key).from_state(manifest[key], split_arrays(arrays, key))
            setattr(syn, f"{key}_", step)
        steps = syn.table_steps()
        model_schema = steps[-1].model_schema_ if steps else syn.model_schema_
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
        syn.calibration_map_ = None
        if manifest.get("calibration_map") is not None:
            syn.calibration_map_ = FittedCalibration.from_state(
                manifest["calibration_map"], split_arrays(arrays, "calibration_map"))
        syn.guard_ = None
        if manifest["guard"] is not None:
            syn.guard_ = PrivacyGuard.from_state(syn.model_schema_, manifest["guard"],
                                                 split_arrays(arrays, "guard"))
        syn._rng = np.random.default_rng()
        syn._rng.bit_generator.state = manifest["rng"]
        return syn


class _UserEncoder:
    """The encoder as the reward sees it: roles-view tables in (through the table steps), model
    matrices out."""

    def __init__(self, syn: HybridSynthesizer) -> None:
        self.syn = syn

    def transform(self, frame: pd.DataFrame, rng: np.random.Generator
                  ) -> tuple[np.ndarray, np.ndarray]:
        _, model = self.syn._to_model(self.syn.model_schema_, frame)
        return self.syn.encoder_.transform(model, rng)


class _Steps:
    """Progress callback wrapper: silent when no callback is given."""

    def __init__(self, callback: StepCallback | None) -> None:
        self.callback = callback

    def __call__(self, label: str, done: int, total: int) -> None:
        if self.callback is not None:
            self.callback(label, done, total)


def _check_seed(seed: Any) -> int:
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0:
        raise ClinisynthError(f"seed must be a non-negative integer, got {seed!r}")
    return int(seed)


def _calibration_steps(calibration: str | Sequence[str] | None) -> list[str]:
    if calibration is None:
        return []
    return [calibration] if isinstance(calibration, str) else list(calibration)


def _stratified_cap(frame: pd.DataFrame, target: str, cap: int, rng: np.random.Generator
                    ) -> pd.DataFrame:
    """``frame`` itself when it has at most ``cap`` rows; else a seeded subsample of about
    ``cap`` rows in the classes' proportions, each class keeping at least
    ``min(its rows, MIN_ROWS_TO_LEARN)`` (no random draw is made when nothing is capped)."""
    if len(frame) <= cap:
        return frame
    codes, _ = pd.factorize(frame[target])
    sizes = np.bincount(codes)
    quota = np.maximum(apportion(cap, sizes / sizes.sum()), np.minimum(sizes, MIN_ROWS_TO_LEARN))
    keep = np.concatenate([rng.choice(np.flatnonzero(codes == k), size=int(q), replace=False)
                           for k, q in enumerate(quota)])
    return frame.iloc[np.sort(keep)]


def _replace_rows(frame: pd.DataFrame, rows: np.ndarray, new: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with its rows at positions ``rows`` replaced by ``new`` (same columns)."""
    keep = np.ones(len(frame), dtype=bool)
    keep[rows] = False
    kept = np.flatnonzero(keep)
    both = pd.concat([frame.iloc[kept], new], ignore_index=True)
    return both.iloc[np.argsort(np.concatenate([kept, rows]), kind="stable")].reset_index(
        drop=True)


def _prune(weights: Mapping[str, float], floor: float = 0.01) -> dict[str, float]:
    """Drop generators whose learned weight is below ``floor``; renormalise the rest."""
    kept = {n: w for n, w in weights.items() if w >= floor}
    total = sum(kept.values())
    return {n: w / total for n, w in kept.items()}


def _plain(params: Mapping[str, Mapping[str, Any]] | None) -> dict[str, dict[str, Any]] | None:
    return {k: dict(v) for k, v in params.items()} if params else None


def _reward_weights(reward: RewardWeights | Mapping[str, float] | None) -> RewardWeights:
    """The reward's weights from the ``reward`` parameter; unknown keys are a one-line error."""
    if isinstance(reward, RewardWeights):
        return reward
    known = set(RewardWeights.__dataclass_fields__)
    for key in dict(reward or {}):
        if key not in known:
            raise ClinisynthError(f"reward: unknown key '{key}' (known: "
                                  f"{', '.join(sorted(known))})")
    return RewardWeights(**dict(reward or {}))
