"""HybridSynthesizer: a configuration and the pipeline of fitted steps it builds.

``fit`` checks the parameters (:mod:`clinisynth.params`), infers or validates the schema, builds
the steps the parameters call for and fits them in order (:class:`~clinisynth.pipeline.Pipeline`):
subsample -> protect -> roles -> survival -> rules -> weight search -> encode -> mixture ->
calibrate -> guard. ``sample`` plans chunks and asks the pipeline for each; persistence writes the
parameters, the schema and the pipeline's state.

Every random choice flows from ``seed``: one ``numpy.random.Generator`` drives the fit (each step
draws from it in turn); each chunk of a sample draws from ``default_rng([seed, chunk index])``,
and a sample without a seed takes one from the model's own stream, saved with the model, so a
loaded model continues exactly where the saved one would have.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator

from clinisynth.conditions import Condition, ConditionSet, sample_conditioned
from clinisynth.dp import PrivacyLedger
from clinisynth.errors import ClinisynthError, NotFittedError
from clinisynth.params import (
    DEFAULT_CALIBRATION,
    DEFAULT_DELTA,
    MAX_FIT_ROWS,
    check_delta,
    check_params,
    params_json,
    pipeline_steps,
)
from clinisynth.persistence import read_model, write_model
from clinisynth.pipeline import Pipeline
from clinisynth.reward import RewardWeights
from clinisynth.schema import TableSchema, infer_schema
from clinisynth.threads import thread_limits
from clinisynth.values import apportion
from clinisynth.version import __version__
from clinisynth.weights import Generators, WeightSpec

#: what ``sample(conditions=...)`` takes (see :mod:`clinisynth.conditions`)
Conditions = str | Sequence[str | Condition] | ConditionSet
#: most rows one chunk of ``sample`` draws, calibrates, guards and decodes at once
CHUNK_ROWS = 50_000
#: fitted attributes read off the pipeline's steps: ``name -> (step, attribute)`` (attribute
#: None: the step itself); a step the pipeline does not have gives None
STEP_ATTRIBUTES = {
    "protect_": ("protect", None), "roles_": ("roles", None),
    "survival_": ("survival", None), "rules_": ("rules", None),
    "fit_rows_": ("subsample", "fit_rows_"), "search_": ("weights", "search_"),
    "encoder_": ("encode", "encoder_"), "generators_": ("mixture", "generators_"),
    "weights_": ("mixture", "weights_"), "class_counts_": ("mixture", "class_counts_"),
    "fit_seconds_": ("mixture", "fit_seconds_"), "calibration_": ("calibrate", "chain_"),
    "calibration_map_": ("calibrate", "map_"), "guard_": ("guard", "guard_"),
}


@dataclass(eq=False, repr=False)
class HybridSynthesizer(BaseEstimator):
    """Mix of class-conditional generators, sampled by weight, per class.

    Parameters
    ----------
    weights : "learned", "uniform", a generator name, or a mapping ``{name: weight}``
        How rows are split among generators. ``"learned"`` (default) runs the reinforcement-
        learning weight search (uniform weights, with a warning, when a class has fewer than
        6 rows); generators with weight 0 are not fitted.
    calibration : calibrator name(s) or None
        The calibration chain applied to sampled rows, e.g. ``["moment", "adaptive_soft"]``.
    privacy_guard : bool or mapping
        Refuse and redraw rows too close to a distinguishable training row (see
        :mod:`clinisynth.guard`); a mapping (even empty) gives options over the defaults, and
        only ``False`` turns the guard off. On by default.
    generator_params : mapping ``{name: {param: value}}``, optional
        Extra constructor arguments per generator (e.g. ``{"cvae": {"epochs": 100}}``).
    calibration_params : mapping ``{name: {param: value}}``, optional
        Constructor arguments per calibration step.
    search : mapping, optional
        Options of :class:`~clinisynth.weighting.DirichletReinforce` (episodes, seconds, ...).
    reward : RewardWeights or mapping, optional
        Weights of the reward's fidelity, utility and privacy terms.
    validation_fraction : float
        Share of training rows held out to score the weight search (0.05 to 0.5).
    seed : int, optional
        The one seed every random choice flows from.
    low_cardinality : int
        Numeric columns with at most this many distinct values are inferred as categorical.
    rules : bool
        Discover (or take from the schema) rules and enforce them (:mod:`clinisynth.steps.rules`).
    n_jobs : int, optional
        Threads for BLAS, scikit-learn and PyTorch during ``fit`` and ``sample``; ``-1`` is
        every core, None the libraries' defaults. Results do not depend on it.
    survival : bool
        Model the schema's survival pair per (class, event) cell (:mod:`clinisynth.steps.survival`).
    max_rows : int or None
        Fit everything after the roles step on a stratified subsample of this many rows when the
        table has more (:mod:`clinisynth.steps.subsample`); None fits every row.
    generators : "all", a list of generator names, or None
        The generators learned and uniform weights range over; None is the Gaussian mixture and
        the conditional VAE, the two that do not build rows from real patients.
    protect : bool
        No value that fewer than the schema's ``k`` patients hold reaches the model: rare
        categories pooled or folded, extremes moved to protected quantiles
        (:mod:`clinisynth.steps.protect`). ``False`` publishes them as they are: only for a
        table whose values are public, or to measure what the protection costs.

    Attributes
    ----------
    schema_ : TableSchema
        The schema of the synthetic tables: the user's (with column roles), with the protected
        categories and ranges.
    pipeline_ : Pipeline
        The fitted steps; ``model_schema_`` is the schema of its record view.
    roles_, survival_, rules_ : the fitted table steps (None when absent).
    weights_, search_, generators_, calibration_, guard_ : the mixture's weights, the weight
        search's result, the generators, the calibration chain and the privacy guard.
    """

    weights: WeightSpec = "learned"
    calibration: str | Sequence[str] | None = DEFAULT_CALIBRATION
    privacy_guard: bool | Mapping[str, Any] = True
    generator_params: Mapping[str, Mapping[str, Any]] | None = None
    calibration_params: Mapping[str, Mapping[str, Any]] | None = None
    search: Mapping[str, Any] | None = None
    reward: RewardWeights | Mapping[str, float] | None = None
    validation_fraction: float = 0.25
    seed: int | None = None
    low_cardinality: int = 5
    rules: bool = True
    n_jobs: int | None = None
    survival: bool = True
    max_rows: int | None = MAX_FIT_ROWS
    generators: Generators = None
    protect: bool = True
    epsilon: float | None = None
    delta: float | None = None

    def __getattr__(self, name: str) -> Any:
        """Fitted attributes of the pipeline's steps (see :data:`STEP_ATTRIBUTES`)."""
        pipeline = self.__dict__.get("pipeline_")
        if pipeline is not None and name == "class_counts_" and pipeline.step("mixture") is None:
            return pipeline.source.class_counts_  # DP mode: the tree's noisy class sizes
        if pipeline is not None and name in STEP_ATTRIBUTES:
            step_name, attribute = STEP_ATTRIBUTES[name]
            step = pipeline.step(step_name)
            return step if step is None or attribute is None else getattr(step, attribute)
        if pipeline is not None and name == "model_schema_":
            return pipeline.record_schema
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    # -- fit ----------------------------------------------------------------------------------
    def fit(self, data: pd.DataFrame, target: str | None = None, *,
            schema: TableSchema | None = None,
            on_step: Callable[[str, int, int], None] | None = None) -> HybridSynthesizer:
        """Learn the table. ``target`` names the class column (or comes from ``schema``);
        ``on_step(label, done, total)`` reports progress."""
        check_params(self)
        if schema is None:
            if target is None:
                raise ClinisynthError("fit needs a target column (or a schema naming one)")
            schema = infer_schema(data, target, self.low_cardinality)
        elif target is not None and target != schema.target:
            raise ClinisynthError(f"target '{target}' differs from the schema's '{schema.target}'")
        schema.validate(data)
        self._rng = np.random.default_rng(self.seed)
        ledger = self._ledger(len(data))
        with thread_limits(self.n_jobs):
            pipeline = Pipeline(pipeline_steps(self, schema)).fit(data, schema, self._rng,
                                                                 on_step, ledger=ledger)
        if ledger is not None:
            self.schema_ = pipeline.step("dp_domain").model_schema_
            self.ledger_ = ledger.to_dict()
            self.pipeline_ = pipeline
            if on_step is not None:
                on_step("fitted", 1, 1)
            return self
        protect = pipeline.step("protect")
        self.schema_ = protect.model_schema_ if protect is not None else schema
        self.ledger_ = None
        self.pipeline_ = pipeline
        self.roles_.exclude_identifiers(data)  # rows the subsample left out are real patients
        if on_step is not None:
            on_step("fitted", 1, 1)
        return self

    def _ledger(self, n: int) -> PrivacyLedger | None:
        """DP mode's ledger (ε, δ: the default δ well below 1/n), or None."""
        if self.epsilon is None:
            return None
        delta = DEFAULT_DELTA if self.delta is None else float(self.delta)
        check_delta(delta, n)
        return PrivacyLedger(float(self.epsilon), delta, self._rng)

    def record_view(self, frame: pd.DataFrame, protected: bool = True) -> pd.DataFrame:
        """``frame`` (the user's columns) as the models see it: identifiers and free text left
        out, dates as numbers (its schema is ``model_schema_``), rare values and extremes
        protected; ``protected=False`` keeps the real values (what the audit scores against)."""
        self.check_fitted()
        return self.pipeline_.record_view(frame, skip=() if protected else ("protect",))

    def check_fitted(self) -> None:
        if "pipeline_" not in self.__dict__:
            raise NotFittedError("HybridSynthesizer is not fitted; call fit first")

    # -- sample -------------------------------------------------------------------------------
    def sample(self, n: int, class_counts: Mapping[Any, int] | None = None,
               seed: int | None = None, conditions: Conditions | None = None) -> pd.DataFrame:
        """``n`` synthetic rows; by default classes keep their training proportions.

        ``class_counts`` maps target labels to row counts (summing to ``n``; classes left out get
        none). With ``seed`` the result is a pure function of the fitted model and ``seed``;
        without it a seed is drawn from the model's own stream. Rows come in chunks of at most
        ``CHUNK_ROWS`` (:meth:`iter_chunks`), so the same ``(n, class_counts, seed)`` gives the
        same table however it is computed. ``conditions`` (``"age>=65"``, ``"sex=F"``, ...; see
        :mod:`clinisynth.conditions`) ask for exactly ``n`` rows meeting every condition, by
        bounded rejection; impossible or too rare conditions are a :class:`ClinisynthError`.
        """
        if conditions is not None and (isinstance(conditions, str) or conditions):
            self.check_fitted()
            seed = self.next_seed() if seed is None else _check_seed(seed)
            return sample_conditioned(self, n, conditions, class_counts=class_counts, seed=seed)
        frames = list(self.iter_chunks(n, class_counts, seed))
        return pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]

    def iter_chunks(self, n: int, class_counts: Mapping[Any, int] | None = None,
                    seed: int | None = None) -> Iterator[pd.DataFrame]:
        """The rows of :meth:`sample`, chunk by chunk (bounded memory). Chunk ``i`` holds
        ``plan[i]`` rows per class (:meth:`chunk_plan`) and draws from ``default_rng([seed,
        i])`` only. ``guard_report_`` and ``rules_report_`` sum the chunks' reports."""
        counts = self.class_plan(n, class_counts)
        seed = self.next_seed() if seed is None else _check_seed(seed)
        self._reports: dict[str, Any] = {}
        for index, chunk_counts in enumerate(self.chunk_plan(counts)):
            frame, reports = self.sample_chunk(chunk_counts, seed, index)
            for name, report in reports.items():
                if name in self._reports:
                    self._reports[name].add(report)
                else:
                    self._reports[name] = report
            yield frame

    @property
    def guard_report_(self) -> Any:
        """What the guard did in the last sample (summed over its chunks), or None."""
        self.check_fitted()
        guard = self.pipeline_.step("guard")
        if guard is None:
            return None
        return getattr(self, "_reports", {}).get("guard") or guard.new_report()

    @property
    def smoothed_(self) -> bool:
        """Whether the calibration's reference kernel-smooths rare values (value protection)."""
        self.check_fitted()
        return getattr(self.pipeline_.step("calibrate"), "smoothing", 0.0) > 0

    @property
    def rules_report_(self) -> dict[str, int]:
        """Rows of the last sample that broke a rule: ``redrawn`` and ``remaining``."""
        reports = getattr(self, "_reports", {})
        report = reports.get("rules") or reports.get("dp_rules")
        return report.to_dict() if report is not None else {"redrawn": 0, "remaining": 0}

    def next_seed(self) -> int:
        """A fresh seed from the model's own stream (saved with the model)."""
        self.check_fitted()
        return int(self._rng.integers(2**63 - 1))

    def class_plan(self, n: int, class_counts: Mapping[Any, int] | None = None) -> np.ndarray:
        """Rows per class code: the training shares of ``n``, or ``class_counts`` checked."""
        self.check_fitted()
        if isinstance(n, bool) or not isinstance(n, int | np.integer) or n < 1:
            raise ClinisynthError(f"number of rows must be a positive integer, got {n!r}")
        if class_counts is None:
            return apportion(int(n), self.class_counts_)
        counts = np.zeros(len(self.schema_.classes), dtype=int)
        index = (self.encoder_ or self.pipeline_.step("dp_domain")).class_index
        for label, count in class_counts.items():
            try:
                k = index(label)
            except KeyError as exc:
                raise ClinisynthError(str(exc.args[0])) from None
            if int(count) < 0:
                raise ClinisynthError(f"class_counts: count for {label!r} is negative")
            counts[k] = int(count)
        if counts.sum() != n:
            raise ClinisynthError(f"class_counts sum to {counts.sum()} but {n} rows were asked")
        return counts

    def chunk_plan(self, counts: np.ndarray, chunk_rows: int | None = None) -> list[np.ndarray]:
        """Per-class row counts of each chunk: ``ceil(n / chunk_rows)`` chunks, each class spread
        over them by largest remainder (earlier chunks take the extra rows)."""
        counts = np.asarray(counts, dtype=int)
        size = CHUNK_ROWS if chunk_rows is None else int(chunk_rows)
        n_chunks = max(1, -(-int(counts.sum()) // size))
        per_class = [apportion(int(c), np.ones(n_chunks)) for c in counts]
        return [np.array([pc[i] for pc in per_class]) for i in range(n_chunks)]

    def sample_chunk(self, counts: np.ndarray, seed: int, index: int, calibrate: bool = True
                     ) -> tuple[pd.DataFrame, dict[str, Any]]:
        """One chunk, ``counts[k]`` rows of class ``k``, with randomness from
        ``default_rng([seed, index])`` only; and each filter's report (guard, rules)."""
        self.check_fitted()
        rng = np.random.default_rng([int(seed), int(index)])
        with thread_limits(self.n_jobs):
            return self.pipeline_.sample_chunk(counts, rng,
                                               skip=() if calibrate else ("calibrate",))

    def uncalibrated(self, n: int, seed: int) -> pd.DataFrame:
        """The rows ``sample(n, seed=seed)`` draws, without calibration (for reports); guarded
        like any output, so where the guard redrew rows they differ from the sample's."""
        plan = self.chunk_plan(self.class_plan(n))
        return pd.concat([self.sample_chunk(c, seed, i, calibrate=False)[0]
                          for i, c in enumerate(plan)], ignore_index=True)

    # -- persistence --------------------------------------------------------------------------
    def save(self, path: str | Path) -> None:
        """Write the fitted model to directory ``path`` (JSON + npz arrays, checksummed; no
        pickle); ``path`` must be new, empty or hold a model, which is replaced atomically."""
        write_model(path, *self.get_state())

    def get_state(self) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        """The fitted model as JSON-ready content and named arrays (what :meth:`save`
        writes; a linked model nests it)."""
        self.check_fitted()
        pipeline, arrays = self.pipeline_.get_state()
        return ({"clinisynth_version": __version__, "params": params_json(self),
                 "schema": self.schema_.to_dict(), "pipeline": pipeline,
                 "ledger": self.ledger_, "rng": self._rng.bit_generator.state}, arrays)

    @classmethod
    def load(cls, path: str | Path) -> HybridSynthesizer:
        """Rebuild a model saved by :meth:`save`, after verifying every file's checksum."""
        manifest, arrays = read_model(path)
        return cls.from_state(manifest, arrays, f"model '{path}'")

    @classmethod
    def from_state(cls, manifest: Mapping[str, Any], arrays: Mapping[str, np.ndarray],
                   label: str = "model") -> HybridSynthesizer:
        """Rebuild a model from :meth:`get_state`'s content and arrays (one-line errors
        naming ``label``)."""
        try:
            syn = cls(**manifest["params"])
            syn.schema_ = TableSchema.from_dict(manifest["schema"])
            syn.pipeline_ = Pipeline.from_state(manifest["pipeline"], dict(arrays))
            syn.ledger_ = manifest.get("ledger")
            if syn.privacy_guard is not False and syn.epsilon is None \
                    and syn.pipeline_.step("guard") is None:
                raise ClinisynthError("it was fitted with the privacy guard but holds no guard "
                                      "state; refusing to sample without the guard")
            syn._rng = np.random.default_rng()
            syn._rng.bit_generator.state = manifest["rng"]
        except ClinisynthError as exc:
            raise ClinisynthError(f"{label}: {exc}") from None
        except (KeyError, IndexError, TypeError, ValueError, AttributeError) as exc:
            what = f"missing entry {exc}" if isinstance(exc, KeyError) else str(exc)
            what = what.strip().splitlines()[0] if what.strip() else type(exc).__name__
            raise ClinisynthError(f"{label} is inconsistent ({what}); fit it again"
                                  ) from None
        return syn


def _check_seed(seed: Any) -> int:
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0:
        raise ClinisynthError(f"seed must be a non-negative integer, got {seed!r}")
    return int(seed)

