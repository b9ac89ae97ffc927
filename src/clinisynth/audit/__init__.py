"""The audit: how faithful, how useful and how safe a synthetic table is.

Protocol: fidelity is measured against ``train`` (what the generator saw), utility is tested on
``holdout`` (real rows it never saw), privacy compares distances to ``train`` with distances to
``holdout``. It scores any real/synthetic pair of DataFrames (ours, SDV's, synthcity's); it never
imports a synthesizer.

>>> result = audit(train, holdout, synthetic, target="y")          # doctest: +SKIP
>>> result.headline()["dcr_share"]                                   # doctest: +SKIP
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import pandas as pd

from clinisynth.audit.fidelity import fidelity_scores
from clinisynth.audit.inputs import MIN_ROWS, check_inputs, drop_unscored, single_thread
from clinisynth.audit.privacy import privacy_scores
from clinisynth.audit.result import (
    DIRECTIONS,
    HEADLINE_KEYS,
    LABELS,
    AuditResult,
    ColumnScore,
    FidelityResult,
    PrivacyResult,
    UtilityResult,
    describe,
    make_flags,
)
from clinisynth.audit.risk import N_ATTACKS, RiskResult, resolve_columns, risk_scores
from clinisynth.audit.rules import RuleViolations, rule_violations
from clinisynth.audit.survival import SurvivalResult, resolve_pairs, survival_scores
from clinisynth.audit.utility import MODELS, make_model, utility_scores
from clinisynth.audit.values import ValueExposure, value_exposure
from clinisynth.errors import ClinisynthError
from clinisynth.schema import TableSchema
from clinisynth.version import __version__


def audit(train: pd.DataFrame, holdout: pd.DataFrame, synthetic: pd.DataFrame, target: str,
          schema: TableSchema | None = None, seed: int = 0, privacy_sample: int = 2000,
          models: Sequence[str] = MODELS, quasi_identifiers: Sequence[str] | None = None,
          secrets: Sequence[str] | None = None, n_attacks: int = N_ATTACKS,
          survival: Any = None, survival_group: str | None = None) -> AuditResult:
    """Score ``synthetic`` for fidelity (vs train), utility (on holdout), privacy and risk.

    ``schema`` is inferred from ``train`` if not given. ``privacy_sample`` caps the query rows
    per set of the distance-based scores (their reference sets are always whole, so a copy is
    flagged at any size) and the rows per side of detection (seeded subsamples).
    ``quasi_identifiers``: the columns an attacker may know (default: the schema's
    ``quasi_identifier`` roles, else none); ``secrets``: columns whose inference is attacked
    besides the target; ``n_attacks``: attacks per risk score (:mod:`clinisynth.audit.risk`).
    Survival scores (:mod:`clinisynth.audit.survival`) are added for each of the schema's
    survival pairs (the first as ``survival``, all in ``survival_pairs``), or for
    ``survival=(time, event)`` when given; ``survival_group`` names a discrete
    column for per-group Kaplan-Meier curves. The same ``seed`` gives the same result.
    """
    start = time.perf_counter()
    check_options(privacy_sample, models, n_attacks)
    train, holdout, synthetic, schema = check_inputs(train, holdout, synthetic, target, schema)
    resolve_columns(schema, quasi_identifiers, secrets)  # bad names fail before any work
    pairs = resolve_pairs(schema, survival)  # before unscored columns leave the schema
    (train, holdout, synthetic), schema, skipped = drop_unscored(
        (train, holdout, synthetic), schema)
    with single_thread():
        result = _run(train, holdout, synthetic, schema, seed, privacy_sample, models)
        t0 = time.perf_counter()
        result.risk = risk_scores(train, holdout, synthetic, schema, quasi_identifiers,
                                  secrets, n_attacks=n_attacks, seed=seed)
        result.meta["seconds"]["risk"] = round(time.perf_counter() - t0, 3)
        result.values = value_exposure(train, synthetic, schema)
        t0 = time.perf_counter()
        result.rules = rule_violations(train, holdout, synthetic, schema, seed=seed)
        result.meta["seconds"]["rules"] = round(time.perf_counter() - t0, 3)
        result.meta["n_attacks"] = int(n_attacks)
        result.meta["skipped_columns"] = skipped
        pairs = [p for p in pairs if {p["time"], p["event"]} <= set(schema.names)]
        if pairs:
            t0 = time.perf_counter()
            scored = [survival_scores(train, holdout, synthetic, schema, pair,
                                      group=survival_group, seed=seed) for pair in pairs]
            result.survival_pairs = [s for s in scored if s is not None]
            result.survival = result.survival_pairs[0] if result.survival_pairs else None
            result.meta["seconds"]["survival"] = round(time.perf_counter() - t0, 3)
            if result.survival is None:
                result.meta["survival_skipped"] = (
                    "lifelines is not installed: pip install 'clinisynth[survival]'")
    result.meta["seconds"]["total"] = round(time.perf_counter() - start, 3)
    result.flags = make_flags(result)
    return result


def check_options(privacy_sample: int, models: Sequence[str], n_attacks: int = N_ATTACKS
                  ) -> None:
    """Reject a bad ``privacy_sample``, ``n_attacks`` or model name before any work is done."""
    if int(n_attacks) < 10:
        raise ClinisynthError(f"n_attacks must be at least 10, got {n_attacks}")
    if isinstance(models, str):
        raise ClinisynthError("models must be a sequence of names, not one string")
    if not models:
        raise ClinisynthError(f"models: give at least one of {', '.join(MODELS)}")
    for name in models:
        make_model(name)
    if int(privacy_sample) < MIN_ROWS:
        raise ClinisynthError(f"privacy_sample must be at least {MIN_ROWS}, got {privacy_sample}")


def _run(train: pd.DataFrame, holdout: pd.DataFrame, synthetic: pd.DataFrame,
         schema: TableSchema, seed: int, privacy_sample: int,
         models: Sequence[str]) -> AuditResult:
    timings = {}
    t0 = time.perf_counter()
    fid = fidelity_scores(train, synthetic, schema, seed=seed, sample=privacy_sample)
    timings["fidelity"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    uti = utility_scores(train, holdout, synthetic, schema, models=tuple(models), seed=seed)
    timings["utility"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    pri = privacy_scores(train, holdout, synthetic, schema, seed=seed, sample=privacy_sample)
    timings["privacy"] = time.perf_counter() - t0
    meta = {
        "target": schema.target, "classes": schema.classes, "seed": seed,
        "privacy_sample": privacy_sample, "models": list(models),
        "rows": {"train": len(train), "holdout": len(holdout), "synthetic": len(synthetic)},
        "columns": len(schema.columns),
        "kinds": {c.name: c.kind for c in schema.columns},
        "seconds": {k: round(v, 3) for k, v in timings.items()},
        "clinisynth_version": __version__,
    }
    return AuditResult(fidelity=fid, utility=uti, privacy=pri, meta=meta)


__all__ = [
    "DIRECTIONS", "HEADLINE_KEYS", "LABELS", "AuditResult", "ColumnScore", "FidelityResult",
    "PrivacyResult", "RiskResult", "RuleViolations", "SurvivalResult", "UtilityResult",
    "ValueExposure", "audit", "describe",
]
