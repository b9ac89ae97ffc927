"""The weight-search step: the mixture's weights learned on a search split of the training rows.

The training rows (at the record view) are split, stratified and seeded, into a search split and
a validation split (``validation_fraction``; at most ``SEARCH_ROWS_MAX`` / ``VALIDATION_ROWS_MAX``
rows, seeded subsamples keeping every class). Trial copies of the steps after this one (encode,
every allowed generator, the calibration chain unfrozen) are fitted on the search split; each
generator draws one pool of rows per class; the reinforcement-learning search
(:class:`~clinisynth.weighting.DirichletReinforce`) then scores mixtures of the pools against the
validation rows with :class:`~clinisynth.reward.PoolReward` (fidelity, utility, privacy) and
learns Dirichlet weights. Weights below 1 % are dropped; the mixture step fits only the rest, on
every training row, reusing what the trial fits selected (e.g. the number of GMM components).

With one allowed generator nothing is searched; with a class of fewer than ``MIN_ROWS_TO_LEARN``
rows the weights are uniform, with a warning. Training rows pass through unchanged.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from typing import Any, ClassVar

from sklearn.model_selection import train_test_split

from clinisynth.errors import ClinisynthError
from clinisynth.reward import PoolReward, RewardWeights
from clinisynth.schema import TableSchema
from clinisynth.steps.base import Arrays, Batch, FitContext, Step
from clinisynth.steps.calibrate import CalibrateStep
from clinisynth.steps.encode import EncodeStep
from clinisynth.steps.mixture import CHOICE, MixtureStep
from clinisynth.steps.subsample import MIN_ROWS_PER_CLASS, stratified_cap
from clinisynth.weighting import DirichletReinforce, SearchResult
from clinisynth.weights import Generators, resolve_generators, resolve_weights

#: the fewest rows per class with which the search can hold out a validation split
MIN_ROWS_TO_LEARN = MIN_ROWS_PER_CLASS
#: the search fits its generators on at most this many search-split rows and scores mixtures on
#: at most this many validation rows (seeded subsamples, every class kept)
SEARCH_ROWS_MAX, VALIDATION_ROWS_MAX = 5_000, 2_000
#: learned weights below this are dropped (the rest renormalised)
PRUNE_BELOW = 0.01


class WeightSearchStep(Step):
    """Learn the mixture's weights over ``generators`` (see the module docstring).

    ``calibration`` / ``calibration_params`` configure the trial's calibration chain (None: no
    calibration), ``generator_params`` the trial's generators; ``search`` holds
    :class:`~clinisynth.weighting.DirichletReinforce`'s options and ``reward`` the reward's
    weights.
    """

    name: ClassVar[str] = "weights"
    reads: ClassVar[str] = ("every training row, split: trial generators and calibration fitted "
                            "on a search split, mixtures scored against the validation split "
                            "(fidelity, a classifier's F1, distances to the closest records)")

    def __init__(self, generators: Generators = None, validation_fraction: float = 0.25,
                 calibration: list[str] | None = None,
                 calibration_params: Mapping[str, Mapping[str, Any]] | None = None,
                 generator_params: Mapping[str, Mapping[str, Any]] | None = None,
                 search: Mapping[str, Any] | None = None,
                 reward: RewardWeights | None = None, smoothing: float = 0.0) -> None:
        self.generators = generators
        self.validation_fraction = validation_fraction
        self.calibration = calibration
        self.calibration_params = calibration_params
        self.generator_params = generator_params
        self.search = search
        self.reward = reward
        self.smoothing = smoothing

    def fit(self, batch: Batch, ctx: FitContext) -> WeightSearchStep:
        allowed = resolve_generators(self.generators)
        self.search_: SearchResult | None = None
        reuse: dict[str, dict[str, Any]] = {}
        smallest = int(batch.table(self.name)[ctx.schema.target].value_counts().min())
        if len(allowed) == 1:
            spec: Any = allowed[0]  # nothing to search over
        elif smallest >= MIN_ROWS_TO_LEARN:
            self.search_, reuse = self._search(allowed, ctx)
            kept = {n: w for n, w in self.search_.weights.items() if w >= PRUNE_BELOW}
            spec = {n: w / sum(kept.values()) for n, w in kept.items()}
        else:
            warnings.warn(f"a target class has {smallest} rows; learning weights needs "
                          f"{MIN_ROWS_TO_LEARN} per class, so uniform weights are used",
                          UserWarning, stacklevel=2)
            spec = "uniform"
        self.weights_ = resolve_weights(spec, allowed)
        ctx.choices[CHOICE] = {"weights": self.weights_, "reuse": reuse}
        self.model_schema_ = ctx.schema
        return self

    def _search(self, names: list[str], ctx: FitContext
                ) -> tuple[SearchResult, dict[str, dict[str, Any]]]:
        """Trial steps fitted on a search split; weights learned on the validation split."""
        if ctx.record is None or ctx.record_schema is None or ctx.views is None:
            raise ClinisynthError("weight search: the pipeline has no record view to score at")
        target, rng = ctx.record_schema.target, ctx.rng
        search_rows, validation = train_test_split(
            ctx.record, test_size=self.validation_fraction, stratify=ctx.record[target],
            random_state=int(rng.integers(2**31 - 1)))
        search_rows = stratified_cap(search_rows, target, SEARCH_ROWS_MAX, rng)
        validation = stratified_cap(validation, target, VALIDATION_ROWS_MAX, rng)
        steps: list[Step] = [EncodeStep(bool(self.calibration)),
                             MixtureStep({n: 1.0 for n in names},
                                         generator_params=self.generator_params)]
        if self.calibration:
            steps.append(CalibrateStep(self.calibration, self.calibration_params, freeze=False,
                                       smoothing=self.smoothing))
        trial = ctx.views.trial(steps, search_rows, ctx, "search split: ")
        mixture = trial.source
        counts = mixture.class_counts_
        pools = {name: gen.sample({k: int(c) for k, c in enumerate(counts)})
                 for name, gen in mixture.generators_.items()}
        reward = PoolReward(pools, counts, trial.decode, trial, ctx.record_schema, search_rows,
                            validation, self.reward or RewardWeights(),
                            seed=int(rng.integers(2**31 - 1)))
        options = {**dict(self.search or {}), "seed": int(rng.integers(2**31 - 1))}
        try:
            policy = DirichletReinforce(**options)
        except TypeError as exc:
            raise ClinisynthError(f"search: {exc}") from None
        result = policy.search(names, reward,
                               on_episode=lambda i, n: ctx.report("weight search", i, n))
        return result, {nm: gen.refit_params() for nm, gen in mixture.generators_.items()}

    def report(self) -> dict[str, Any]:
        return {"weights": self.weights_,
                "search": self.search_.to_dict() if self.search_ else None}

    def get_state(self) -> tuple[dict[str, Any], Arrays]:
        self._check_fitted()
        return {"schema": self.model_schema_.to_dict(), "weights": self.weights_,
                "search": self.search_.to_dict() if self.search_ else None}, {}

    @classmethod
    def from_state(cls, meta: dict[str, Any], arrays: Arrays) -> WeightSearchStep:
        step = cls()
        step.model_schema_ = TableSchema.from_dict(meta["schema"])
        step.weights_ = {k: float(v) for k, v in meta["weights"].items()}
        step.search_ = SearchResult.from_dict(meta["search"]) if meta["search"] else None
        return step
