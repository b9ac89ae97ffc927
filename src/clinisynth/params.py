"""The hybrid's parameters: checked in one place, turned into its pipeline's steps, saved as JSON.

:func:`check_params` raises a one-line :class:`~clinisynth.errors.ClinisynthError` naming the
parameter at fault before any data is read; :func:`pipeline_steps` lists the steps the
parameters and the table's schema call for, in order:

    subsample -> [protect] -> roles -> [rules] -> [survival] -> [weight search] -> encode
    -> mixture -> [calibrate] -> [guard]
"""

from __future__ import annotations

import inspect
from collections.abc import Mapping
from dataclasses import asdict
from typing import Any, Protocol

import numpy as np

from clinisynth.calibration import CalibrationChain
from clinisynth.errors import ClinisynthError
from clinisynth.generators import list_generators
from clinisynth.guard import PrivacyGuard
from clinisynth.reward import RewardWeights
from clinisynth.schema import TableSchema, primary_pair
from clinisynth.steps.base import Step
from clinisynth.steps.calibrate import CalibrateStep
from clinisynth.steps.dp_domain import DPDomainStep
from clinisynth.steps.dp_rules import DPRulesStep
from clinisynth.steps.dp_tree import DPTreeStep
from clinisynth.steps.encode import EncodeStep
from clinisynth.steps.guard import GuardStep
from clinisynth.steps.mixture import MixtureStep
from clinisynth.steps.protect import ProtectStep
from clinisynth.steps.roles import RolesStep
from clinisynth.steps.rules import RulesStep
from clinisynth.steps.search import MIN_ROWS_TO_LEARN, WeightSearchStep
from clinisynth.steps.subsample import SubsampleStep
from clinisynth.steps.survival import SurvivalStep
from clinisynth.threads import resolve_threads
from clinisynth.weighting import DirichletReinforce
from clinisynth.weights import resolve_generators, resolve_weights, weights_range

#: calibration applied by default (chosen by benchmarks/ablation.py)
DEFAULT_CALIBRATION: tuple[str, ...] = ("moment", "adaptive_soft")
#: with value protection, the calibration's reference smooths the values fewer than k patients
#: hold by a kernel of this many times Silverman's bandwidth (capped at the distance to the
#: value's k-th nearest value), the survival step's tables of times by one this many times that
#: distance (calibration.reference.smoothed_quantiles)
RARE_SMOOTHING = 1.0
#: default ``max_rows``: tables with more training rows are fitted on a stratified subsample of
#: this many (``benchmarks/scale.py``: the exact privacy guard checks every synthetic row against
#: every training row the model saw, so this bounds sampling time whatever the table's size)
MAX_FIT_ROWS = 100_000


class Params(Protocol):
    """The hybrid's parameters (:class:`~clinisynth.synthesizer.HybridSynthesizer`)."""

    weights: Any
    calibration: Any
    privacy_guard: Any
    generator_params: Any
    calibration_params: Any
    search: Any
    reward: Any
    validation_fraction: float
    seed: int | None
    low_cardinality: int
    rules: bool
    n_jobs: int | None
    survival: bool
    max_rows: int | None
    generators: Any
    protect: bool
    epsilon: float | None
    delta: float | None

    def get_params(self, deep: bool = True) -> dict[str, Any]: ...


def check_params(p: Params) -> None:
    """Every parameter, checked before any data is read."""
    if p.seed is not None and (isinstance(p.seed, bool) or not isinstance(
            p.seed, int | np.integer) or p.seed < 0):
        raise ClinisynthError(f"seed must be a non-negative integer or None, got {p.seed!r}")
    resolve_generators(p.generators)
    if not (isinstance(p.weights, str) and p.weights == "learned"):
        resolve_weights(p.weights, weights_range(p.weights, p.generators))
    for name in p.generator_params or {}:
        if name not in list_generators():
            raise ClinisynthError(f"generator_params: unknown generator '{name}'")
    CalibrationChain(calibration_names(p.calibration), p.calibration_params)
    guard_options(p.privacy_guard)
    reward_weights(p.reward)
    try:
        DirichletReinforce(**dict(p.search or {}))
    except TypeError as exc:
        raise ClinisynthError(f"search: {exc}") from None
    if not 0.05 <= p.validation_fraction <= 0.5:
        raise ClinisynthError("validation_fraction must be between 0.05 and 0.5")
    if isinstance(p.low_cardinality, bool) or not isinstance(p.low_cardinality, int) \
            or p.low_cardinality < 1:
        raise ClinisynthError(f"low_cardinality must be a positive integer, got "
                              f"{p.low_cardinality!r}")
    if p.max_rows is not None and (isinstance(p.max_rows, bool) or not isinstance(
            p.max_rows, int | np.integer) or p.max_rows < 2 * MIN_ROWS_TO_LEARN):
        raise ClinisynthError(f"max_rows must be an integer of at least "
                              f"{2 * MIN_ROWS_TO_LEARN} (or None), got {p.max_rows!r}")
    resolve_threads(p.n_jobs)
    check_dp(p.epsilon, p.delta)


#: δ when none is given: well below 1/n for tables up to 100,000 patients (see check_delta)
DEFAULT_DELTA = 1e-6


def check_dp(epsilon: Any, delta: Any) -> None:
    """``epsilon``: None (no DP) or a positive finite number; ``delta`` in (0, 1), only with
    ``epsilon``."""
    if epsilon is not None and (isinstance(epsilon, bool) or not isinstance(
            epsilon, int | float | np.floating) or not np.isfinite(epsilon) or epsilon <= 0):
        raise ClinisynthError(f"epsilon must be a positive number (or None), got {epsilon!r}")
    if delta is not None:
        if epsilon is None:
            raise ClinisynthError("delta is for DP mode only: give epsilon too")
        if isinstance(delta, bool) or not isinstance(delta, int | float | np.floating) \
                or not 0 < delta < 1:
            raise ClinisynthError(f"delta must be in (0, 1), got {delta!r}")


def check_delta(delta: float, n: int) -> None:
    """δ must be well below 1/n (at most 1/(10n)): a larger δ allows mechanisms that publish
    one patient's row outright. The row count is treated as public."""
    if delta > 1.0 / (10 * max(n, 1)):
        raise ClinisynthError(f"delta {delta:g} is not well below 1/n for {n:,} rows: give "
                              f"delta <= {1.0 / (10 * n):.1g}")


def pipeline_steps(p: Params, schema: TableSchema) -> list[Step]:
    """The steps ``p`` and the table's ``schema`` call for, in fit order (DP mode: the domain
    and the tree, nothing else reads the rows)."""
    if p.epsilon is not None:  # declared rules: a free filter on synthetic rows
        return [*([DPRulesStep()] if schema.rules else []), DPDomainStep(), DPTreeStep()]
    learned = isinstance(p.weights, str) and p.weights == "learned"
    calibration = calibration_names(p.calibration)
    guard = guard_options(p.privacy_guard)
    smoothing = RARE_SMOOTHING if p.protect else 0.0
    steps: list[Step] = [SubsampleStep(p.max_rows)]
    steps += [ProtectStep()] if p.protect else []
    steps.append(RolesStep())
    if p.rules:
        steps.append(RulesStep())
    if p.survival and primary_pair(schema) is not None:
        steps.append(SurvivalStep(smoothing))
    if learned:
        steps.append(WeightSearchStep(p.generators, p.validation_fraction, calibration or None,
                                      p.calibration_params, p.generator_params, p.search,
                                      reward_weights(p.reward), smoothing))
    steps += [EncodeStep(bool(calibration)),
              MixtureStep(p.weights, p.generators, p.generator_params,
                          fallback=guard is not None)]
    if calibration:
        steps.append(CalibrateStep(calibration, p.calibration_params, smoothing=smoothing))
    if guard is not None:
        steps.append(GuardStep(guard))
    return steps


def calibration_names(calibration: str | list[str] | tuple[str, ...] | None) -> list[str]:
    if calibration is None:
        return []
    return [calibration] if isinstance(calibration, str) else list(calibration)


def guard_options(privacy_guard: bool | Mapping[str, Any]) -> dict[str, Any] | None:
    """The guard's options (``True`` or a mapping, even empty: on with the defaults, the given
    options over them; ``False``: off); an unknown option is a one-line error."""
    if isinstance(privacy_guard, bool):
        return {} if privacy_guard else None
    if not isinstance(privacy_guard, Mapping):
        raise ClinisynthError(f"privacy_guard must be True, False or a mapping of options, got "
                              f"{privacy_guard!r}")
    known = [n for n in inspect.signature(PrivacyGuard).parameters]
    for key in privacy_guard:
        if key not in known:
            raise ClinisynthError(f"privacy_guard: unknown option '{key}' (known: "
                                  f"{', '.join(known)})")
    return dict(privacy_guard)


def reward_weights(reward: RewardWeights | Mapping[str, float] | None) -> RewardWeights:
    """The reward's weights from the ``reward`` parameter; unknown keys are a one-line error."""
    if isinstance(reward, RewardWeights):
        return reward
    known = set(RewardWeights.__dataclass_fields__)
    for key in dict(reward or {}):
        if key not in known:
            raise ClinisynthError(f"reward: unknown key '{key}' (known: "
                                  f"{', '.join(sorted(known))})")
    return RewardWeights(**dict(reward or {}))


def params_json(p: Params) -> dict[str, Any]:
    """The parameters as JSON-able values (for a model's manifest)."""
    out = {}
    for key, value in p.get_params(deep=False).items():
        if isinstance(value, RewardWeights):
            value = asdict(value)
        if isinstance(value, Mapping):
            value = {k: dict(v) if isinstance(v, Mapping) else v for k, v in value.items()}
        elif isinstance(value, tuple | list):
            value = list(value)
        out[key] = value
    return out
