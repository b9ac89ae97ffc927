"""Attack-based privacy risk: singling out, linkability and attribute inference.

Each attack follows anonymeter's published method (Giomi et al., "A Unified Framework for
Quantifying Privacy Risk in Synthetic Data", PoPETs 2023), reimplemented here
(:mod:`~clinisynth.audit.singling_out`, :mod:`~clinisynth.audit.linkability`,
:mod:`~clinisynth.audit.inference`). Every attack reads only the synthetic table and is run
twice: against training patients (the attack) and against holdout patients (the control: what
the synthetic data tells about any patient of the same population). The risk is the attack's
excess success over the control, ``(attack - control) / (1 - control)``, with Wilson score
intervals (:mod:`~clinisynth.audit.risk_stats`); a random-guess attacker is the naive baseline.

Columns whose schema role is ``identifier`` or ``text`` are left out of every attack. The
quasi-identifiers (the columns an attacker may know) are the ones given, else the schema's
``quasi_identifier`` columns, else none (then the attacker knows every other column).
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from clinisynth.audit.inference import hits, inference
from clinisynth.audit.inputs import as_float, category_codes, rng_for, sample_index
from clinisynth.audit.linkability import linkability
from clinisynth.audit.neighbours import gower_matrix
from clinisynth.audit.risk_stats import AttackResult
from clinisynth.audit.singling_out import singling_out
from clinisynth.errors import ClinisynthError
from clinisynth.schema import ColumnSchema, TableSchema

N_ATTACKS = 500
N_COLS = 3
N_NEIGHBORS = 1
SKIP_ROLES = ("identifier", "text")
# purposes for rng_for
_P_TARGET_T, _P_TARGET_H, _P_SO_U, _P_SO_M, _P_LINK, _P_INF = 30, 31, 32, 33, 34, 35

#: headline key -> the attack result it reads
HEADLINE_ATTACKS = {"singling_out_risk": "singling_out_multivariate",
                    "linkability_risk": "linkability"}


#: from this sensitivity on, the verdict warns that one patient moves the risk visibly
NOISY_PER_PATIENT = 0.05


def verdict(result: AttackResult) -> str:
    """Plain-language lines on what the attack's risk means (and how noisy it is)."""
    if not math.isfinite(result.risk):
        return "Not measured (too few rows or columns for this attack)."
    line = _verdict(result)
    step = result.risk_per_patient
    if math.isfinite(step) and step >= NOISY_PER_PATIENT:
        control = result.control
        line += (f" Noisy: the control attack succeeds in {control.successes:.0f} of "
                 f"{control.attacks} attacks on holdout patients, so one success more or less "
                 f"moves this risk by up to {step:.2f}; read it with its interval.")
    return line


def _verdict(result: AttackResult) -> str:
    low, high = result.risk_ci
    if low <= 0.0:
        return (f"No measurable leak: the attack succeeds about as often on holdout patients as "
                f"on training patients (risk {result.risk:.2f}, interval includes 0).")
    if result.risk < 0.1:
        return (f"Small excess risk {result.risk:.2f} [{low:.2f}, {high:.2f}]: training patients "
                "are slightly easier to attack than unseen ones.")
    return (f"Leak: risk {result.risk:.2f} [{low:.2f}, {high:.2f}]; the synthetic data exposes "
            "training patients clearly more than unseen patients of the same population.")


@dataclass
class RiskResult:
    """Every attack's result, keyed by name (``singling_out_univariate``,
    ``singling_out_multivariate``, ``linkability``, ``inference:<secret>``)."""

    attacks: dict[str, AttackResult]
    quasi_identifiers: list[str]
    secrets: list[str]
    columns: list[str]
    n_attacks: int
    seconds: dict[str, float] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def inference_risk(self) -> float:
        """The largest inference risk over the secrets (NaN when none was measured)."""
        values = [a.risk for name, a in self.attacks.items()
                  if name.startswith("inference:") and math.isfinite(a.risk)]
        return max(values) if values else float("nan")

    def headline(self) -> dict[str, float]:
        out = {key: (self.attacks[name].risk if name in self.attacks else float("nan"))
               for key, name in HEADLINE_ATTACKS.items()}
        out["inference_risk"] = self.inference_risk()
        return out

    def headline_low(self) -> dict[str, float]:
        """The lower ends of the headline risks' 95 % intervals."""
        out = {key: (self.attacks[name].risk_ci[0] if name in self.attacks else float("nan"))
               for key, name in HEADLINE_ATTACKS.items()}
        worst = self.worst_inference()
        out["inference_risk"] = worst.risk_ci[0] if worst is not None else float("nan")
        return out

    def worst_inference(self) -> AttackResult | None:
        """The inference attack whose risk is :meth:`inference_risk` (None when none was
        measured)."""
        worst = [a for name, a in self.attacks.items() if name.startswith("inference:")
                 and math.isfinite(a.risk) and a.risk == self.inference_risk()]
        return worst[0] if worst else None

    def to_dict(self) -> dict[str, Any]:
        return {
            "quasi_identifiers": self.quasi_identifiers, "secrets": self.secrets,
            "columns": self.columns, "n_attacks": self.n_attacks, "notes": self.notes,
            "attacks": {name: {**a.to_dict(), "verdict": verdict(a)}
                        for name, a in self.attacks.items()},
        }


def attack_columns(schema: TableSchema) -> list[ColumnSchema]:
    """The columns an attack may use: all but identifiers and free text."""
    return [c for c in schema.columns if getattr(c, "role", None) not in SKIP_ROLES]


def resolve_columns(schema: TableSchema, quasi_identifiers: Sequence[str] | None,
                    secrets: Sequence[str] | None) -> tuple[list[str], list[str]]:
    """Validated quasi-identifiers (given, else the schema's roles) and secrets (target first)."""
    usable = {c.name for c in attack_columns(schema)}
    for option, names in (("quasi_identifiers", quasi_identifiers), ("secrets", secrets)):
        if isinstance(names, str):
            raise ClinisynthError(f"{option} must be a list of column names, not one string")
        for name in names or ():
            if name not in schema.names:
                raise ClinisynthError(f"{option}: column '{name}' is not in the table")
            if name not in usable:
                raise ClinisynthError(f"{option}: column '{name}' is an identifier or free "
                                      "text, which the audit leaves out")
    if quasi_identifiers is None:
        quasi_identifiers = [c.name for c in attack_columns(schema)
                             if getattr(c, "role", None) == "quasi_identifier"]
    qis = list(dict.fromkeys(quasi_identifiers))
    secs = list(dict.fromkeys([schema.target, *(secrets or [])])) if schema.target in usable \
        else list(dict.fromkeys(secrets or []))
    return qis, secs


class _Matrices:
    """Train, holdout and synthetic as float matrices (numeric values or category codes)."""

    def __init__(self, train: pd.DataFrame, holdout: pd.DataFrame, synthetic: pd.DataFrame,
                 columns: Sequence[ColumnSchema]) -> None:
        self.names = [c.name for c in columns]
        self.numeric = [c.is_numeric for c in columns]
        self.n_codes: list[int] = []
        frames = (train, holdout, synthetic)
        blocks: list[list[np.ndarray]] = [[], [], []]
        for col in columns:
            if col.is_numeric:
                values = [as_float(df[col.name]) for df in frames]
                self.n_codes.append(0)
            else:
                codes, k = category_codes([df[col.name] for df in frames])
                values = [np.where(df[col.name].isna().to_numpy(), np.nan, c.astype(float))
                          for df, c in zip(frames, codes, strict=True)]
                self.n_codes.append(k)
            for block, v in zip(blocks, values, strict=True):
                block.append(v)
        self.train, self.holdout, self.synthetic = (
            np.column_stack(b) if b else np.zeros((len(f), 0))
            for b, f in zip(blocks, frames, strict=True))
        self.sizes = (len(train), len(holdout), len(synthetic))

    def index(self, names: Sequence[str]) -> list[int]:
        return [self.names.index(n) for n in names]

    def encode(self, names: Sequence[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Mixed-type (Gower-like) encodings of ``names`` for train, holdout and synthetic."""
        cols = self.index(names)
        stacked = np.vstack([self.train[:, cols], self.holdout[:, cols],
                             self.synthetic[:, cols]])
        x = gower_matrix([stacked[:, j] for j in range(len(cols))],
                         [self.numeric[c] for c in cols], [self.n_codes[c] for c in cols])
        a, b, _ = self.sizes
        return x[:a], x[a:a + b], x[a + b:]


def auxiliary(qis: Sequence[str], columns: Sequence[str], secret: str) -> list[str]:
    """The columns an inference attacker knows: the quasi-identifiers when given, else every
    other column; never the secret itself."""
    return [c for c in (qis or columns) if c != secret]


def split_halves(qis: Sequence[str], columns: Sequence[str]) -> tuple[list[str], list[str]]:
    """Linkability's two column sets: the quasi-identifiers alternately (when at least two),
    else every column alternately, in schema order."""
    base = list(qis) if len(qis) >= 2 else list(columns)
    return base[0::2], base[1::2]


def risk_scores(train: pd.DataFrame, holdout: pd.DataFrame, synthetic: pd.DataFrame,
                schema: TableSchema, quasi_identifiers: Sequence[str] | None = None,
                secrets: Sequence[str] | None = None, n_attacks: int = N_ATTACKS,
                n_cols: int = N_COLS, n_neighbors: int = N_NEIGHBORS,
                max_attempts: int | None = None, seed: int = 0) -> RiskResult:
    """Run every attack of ``synthetic`` against ``train`` with ``holdout`` as the control.

    ``n_attacks``: singling-out predicates per mode, and target patients per side for
    linkability and inference (as many of each, capped by the smaller of train and holdout:
    the Wilson estimate shrinks a rate towards ½ by an amount that depends on the count, so
    attack and control must use the same count to be compared). ``max_attempts``
    caps the random rows tried for multivariate predicates (default ``20 · n_attacks``; on
    large tables few rows are unique on three columns, so fewer predicates may be found: the
    result states how many).
    The tables must have the schema's columns (as :func:`clinisynth.audit.audit` checks).
    """
    if int(n_attacks) < 10:
        raise ClinisynthError(f"n_attacks must be at least 10, got {n_attacks}")
    qis, secs = resolve_columns(schema, quasi_identifiers, secrets)
    columns = attack_columns(schema)
    names = [c.name for c in columns]
    kinds = {c.name: c.is_numeric for c in columns}
    data = _Matrices(train, holdout, synthetic, columns)
    attempts = int(max_attempts) if max_attempts is not None else 20 * int(n_attacks)
    out: dict[str, AttackResult] = {}
    seconds: dict[str, float] = {}
    notes: list[str] = []
    for mode, purpose in (("univariate", _P_SO_U), ("multivariate", _P_SO_M)):
        t0 = time.perf_counter()
        out[f"singling_out_{mode}"] = singling_out(
            data.train, data.holdout, data.synthetic, data.numeric, mode, int(n_attacks),
            n_cols, attempts, rng_for(seed, purpose))
        seconds[f"singling_out_{mode}"] = round(time.perf_counter() - t0, 3)
    n_targets = min(int(n_attacks), len(train), len(holdout))
    idx_t = sample_index(len(train), n_targets, rng_for(seed, _P_TARGET_T))
    idx_h = sample_index(len(holdout), n_targets, rng_for(seed, _P_TARGET_H))
    t0 = time.perf_counter()
    half_a, half_b = split_halves(qis, names)
    if half_a and half_b:
        (ta, ha, sa), (tb, hb, sb) = data.encode(half_a), data.encode(half_b)
        out["linkability"] = linkability((ta[idx_t], tb[idx_t]), (ha[idx_h], hb[idx_h]),
                                         (sa, sb), (half_a, half_b), n_neighbors,
                                         rng_for(seed, _P_LINK))
    else:
        notes.append("linkability not measured: it needs at least two columns")
    seconds["linkability"] = round(time.perf_counter() - t0, 3)
    t0 = time.perf_counter()
    for i, secret in enumerate(secs):
        aux = auxiliary(qis, names, secret)
        if not aux:
            notes.append(f"inference of '{secret}' not measured: the attacker would know no "
                         "other column")
            continue
        xt, xh, xs = data.encode(aux)
        j = data.index([secret])[0]
        out[f"inference:{secret}"] = inference(
            secret, kinds[secret], aux, xt[idx_t], xh[idx_h], xs,
            data.train[idx_t, j], data.holdout[idx_h, j], data.synthetic[:, j],
            rng_for(seed, _P_INF + 10 * i))
    seconds["inference"] = round(time.perf_counter() - t0, 3)
    return RiskResult(attacks=out, quasi_identifiers=qis, secrets=secs, columns=names,
                      n_attacks=int(n_attacks), seconds=seconds, notes=notes)


def inference_success(train: pd.DataFrame, holdout: pd.DataFrame, synthetic: pd.DataFrame,
                      schema: TableSchema, secret: str | None = None,
                      quasi_identifiers: Sequence[str] | None = None, seed: int = 0
                      ) -> tuple[float, float]:
    """The inference attack's raw success rates on *every* training and holdout patient.

    The attack of :func:`risk_scores` (nearest synthetic row on the auxiliary columns, its
    ``secret`` as the guess; default secret: the target), without the target sampling and
    without Wilson shrinkage: ``(hits on train / |train|, hits on holdout / |holdout|)``; ties
    between equally near synthetic rows are broken with this function's own seeded stream, so
    on discrete tables single guesses may differ from :func:`risk_scores`'. Averaged over
    synthetic draws, ``(a - c) / (1 - c)`` of these rates estimates the generator's expected
    inference risk on this split without the noise of target sampling and of one synthetic
    draw; the holdout's own sampling noise remains (benchmarks/seed_paired.py).
    """
    qis, secs = resolve_columns(schema, quasi_identifiers, [secret] if secret else None)
    secret = secret or (secs[0] if secs else None)
    if secret is None:
        raise ClinisynthError("inference_success needs a secret column (the table has no "
                              "usable target)")
    columns = attack_columns(schema)
    data = _Matrices(train, holdout, synthetic, columns)
    aux = auxiliary(qis, data.names, secret)
    if not aux:
        raise ClinisynthError(f"inference of '{secret}': the attacker would know no other "
                              "column")
    xt, xh, xs = data.encode(aux)
    j = data.index([secret])[0]
    numeric = data.numeric[j]
    rng = rng_for(seed, _P_INF)
    attack, control = (float(hits(x, truth, xs, data.synthetic[:, j], numeric, rng).mean())
                       for x, truth in ((xt, data.train[:, j]), (xh, data.holdout[:, j])))
    return attack, control
