"""Singling out (anonymeter's attack, Giomi et al. 2023; Cohen & Nissim 2020).

The attacker reads the synthetic table and writes predicates that hold for exactly one
synthetic row, betting that each also isolates exactly one real training patient.

* univariate predicates: a column's extreme (``x <= min``, ``x >= max``), a value held by one
  synthetic row only, or the single missing cell of a column;
* multivariate predicates: ``n_cols`` random columns of a random synthetic row, a numeric
  column as ``x >= v`` when ``v`` is above the column's median and ``x <= v`` otherwise, a
  categorical one as equality, a missing cell as "is missing".

A predicate is kept when it selects exactly one row of the de-duplicated synthetic table.
Thresholds sit half-way between the row's value and the next distinct synthetic value: this
selects exactly the synthetic rows anonymeter's ``x >= v`` selects, but does not hinge on a
float being bit-identical to a real one (so a copy with a tiny jitter is still caught).

Success: the predicate selects exactly one row of the (de-duplicated) training table; control:
exactly one row of the holdout. When the two differ in size the control count is rescaled to
the training size by anonymeter's correction: ``successes(n)`` is modelled as
``norm · ∫₀^w n·u(1-u)^(n-1) du`` (a predicate of weight ``u`` singles out in ``n`` rows with
probability ``n·u(1-u)^(n-1)``), fitted to the control successes on seeded holdout subsamples,
and the control count multiplied by ``model(n_train) / model(n_holdout)``. The naive baseline
writes random predicates (random columns, values and operators) and scores them on train.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence

import numpy as np
import pandas as pd
from scipy.optimize import OptimizeWarning, curve_fit

from clinisynth.audit.risk_stats import AttackResult

Term = tuple[int, str, float]
Predicate = tuple[Term, ...]

MEANING = ("share of predicates written from the synthetic rows (each true for exactly one "
           "synthetic row) that are true for exactly one training patient, against the same "
           "share on holdout patients")


def _term(x: np.ndarray, op: str, v: float) -> np.ndarray:
    if op == "<=":
        return x <= v
    if op == ">=":
        return x >= v
    if op == "<":
        return x < v
    if op == ">":
        return x > v
    if op == "==":
        return x == v
    if op == "!=":
        return ~(x == v)
    if op == "isna":
        return np.isnan(x)
    if op == "notna":
        return ~np.isnan(x)
    raise ValueError(op)


def count(pred: Predicate, data: np.ndarray, stop: int = 2) -> int:
    """Rows of ``data`` (rows × columns) matching every term; counting stops at ``stop``."""
    rows = None
    for col, op, v in pred:
        x = data[:, col] if rows is None else data[rows, col]
        hit = _term(x, op, v)
        rows = np.flatnonzero(hit) if rows is None else rows[hit]
        if len(rows) == 0:
            return 0
    return min(len(rows), stop) if rows is not None else min(len(data), stop)


def matches(preds: Sequence[Predicate], data: np.ndarray) -> np.ndarray:
    """Boolean matrix (predicates × rows) of which rows each predicate selects."""
    out = np.zeros((len(preds), len(data)), dtype=bool)
    for i, pred in enumerate(preds):
        mask = np.ones(len(data), dtype=bool)
        for col, op, v in pred:
            mask &= _term(data[:, col], op, v)
        out[i] = mask
    return out


def singles_out(preds: Sequence[Predicate], data: np.ndarray) -> int:
    """Number of predicates that select exactly one row of ``data``."""
    return sum(count(p, data) == 1 for p in preds)


def dedup(data: np.ndarray) -> np.ndarray:
    """Rows of ``data`` without duplicates (missing equals missing)."""
    return pd.DataFrame(data).drop_duplicates().to_numpy(dtype=float)


class _Thresholds:
    """Half-way thresholds to the next distinct synthetic value, per numeric column."""

    def __init__(self, syn: np.ndarray, numeric: Sequence[bool]) -> None:
        self.values = {j: np.unique(syn[:, j][~np.isnan(syn[:, j])])
                       for j, is_num in enumerate(numeric) if is_num}

    def below(self, j: int, v: float) -> float:
        """Threshold for ``x >= v``: half-way down to the next smaller value (or ``v``)."""
        u = self.values[j]
        i = np.searchsorted(u, v, side="left")
        return float((u[i - 1] + v) / 2) if i > 0 else float(v)

    def above(self, j: int, v: float) -> float:
        """Threshold for ``x <= v``: half-way up to the next larger value (or ``v``)."""
        u = self.values[j]
        i = np.searchsorted(u, v, side="right")
        return float((u[i] + v) / 2) if i < len(u) else float(v)


def univariate_predicates(syn: np.ndarray, numeric: Sequence[bool], n: int,
                          rng: np.random.Generator) -> list[Predicate]:
    """Up to ``n`` predicates on one column each that single out one synthetic row."""
    th = _Thresholds(syn, numeric)
    candidates: list[Predicate] = []
    for j, is_num in enumerate(numeric):
        col = syn[:, j]
        missing = np.isnan(col)
        if missing.sum() == 1:
            candidates.append(((j, "isna", math.nan),))
        values, counts = np.unique(col[~missing], return_counts=True)
        if is_num and len(values):
            candidates.append(((j, "<=", th.above(j, values[0])),))
            candidates.append(((j, ">=", th.below(j, values[-1])),))
        for v in values[counts == 1]:
            if is_num:
                candidates.append(((j, ">", th.below(j, v)), (j, "<", th.above(j, v))))
            else:
                candidates.append(((j, "==", float(v)),))
    order = rng.permutation(len(candidates))
    out: list[Predicate] = []
    seen: set[Predicate] = set()
    for i in order:
        pred = candidates[i]
        if pred not in seen and count(pred, syn) == 1:
            seen.add(pred)
            out.append(pred)
            if len(out) == n:
                break
    return out


def multivariate_predicates(syn: np.ndarray, numeric: Sequence[bool], n: int, n_cols: int,
                            max_attempts: int, rng: np.random.Generator) -> list[Predicate]:
    """Up to ``n`` predicates on ``n_cols`` columns of a random synthetic row each."""
    th = _Thresholds(syn, numeric)
    medians = np.full(syn.shape[1], np.nan)
    for j, is_num in enumerate(numeric):
        finite = syn[:, j][~np.isnan(syn[:, j])]
        if is_num and len(finite):
            medians[j] = np.median(finite)
    n_cols = min(n_cols, syn.shape[1])
    out: list[Predicate] = []
    seen: set[Predicate] = set()
    for _ in range(max_attempts):
        row = syn[rng.integers(len(syn))]
        terms = []
        for j in sorted(rng.choice(syn.shape[1], size=n_cols, replace=False).tolist()):
            v = float(row[j])
            if math.isnan(v):
                terms.append((j, "isna", math.nan))
            elif numeric[j]:
                if v > medians[j]:
                    terms.append((j, ">=", th.below(j, v)))
                else:
                    terms.append((j, "<=", th.above(j, v)))
            else:
                terms.append((j, "==", v))
        pred = tuple(terms)
        if pred in seen:
            continue
        seen.add(pred)
        if count(pred, syn) == 1:
            out.append(pred)
            if len(out) == n:
                break
    return out


def random_predicates(syn: np.ndarray, numeric: Sequence[bool], n: int, n_cols: int,
                      rng: np.random.Generator) -> list[Predicate]:
    """The naive attacker: ``n`` predicates of random columns, values and operators."""
    uniques = [np.unique(syn[:, j]) for j in range(syn.shape[1])]  # NaN kept (once per NaN)
    n_cols = min(n_cols, syn.shape[1])
    out = []
    for _ in range(n):
        terms = []
        for j in sorted(rng.choice(syn.shape[1], size=n_cols, replace=False).tolist()):
            v = float(rng.choice(uniques[j]))
            if math.isnan(v):
                terms.append((j, str(rng.choice(["isna", "notna"])), math.nan))
            elif numeric[j]:
                terms.append((j, str(rng.choice(["==", "!=", ">", "<", ">=", "<="])), v))
            else:
                terms.append((j, str(rng.choice(["==", "!="])), v))
        out.append(tuple(terms))
    return out


def _model(x: np.ndarray, w: float, norm: float) -> np.ndarray:
    """``norm · ∫₀^w x·u(1-u)^(x-1) du = norm · (1 - (x·w + 1)(1-w)^x) / (x + 1)``."""
    x = np.asarray(x, dtype=float)
    return norm * (1.0 - (x * w + 1.0) * (1.0 - w) ** x) / (x + 1.0)


def size_correction(match_control: np.ndarray, n_target: int, w_guess: float,
                    rng: np.random.Generator) -> float:
    """``model(n_target) / model(m)`` fitted on control subsamples (1 when sizes match)."""
    m = match_control.shape[1]
    if m == n_target or len(match_control) == 0:
        return 1.0
    sizes, successes = [], []
    for size in np.unique(np.linspace(max(10, m // 5), m, 8).astype(int)):
        for _ in range(5 if size < m else 1):
            idx = rng.choice(m, size=size, replace=False)
            sizes.append(size)
            successes.append(int((match_control[:, idx].sum(axis=1) == 1).sum()))
    x, y = np.array(sizes, float), np.array(successes, float)
    w0 = min(max(w_guess, 1e-9), 0.5)
    p0 = (w0, max(y.max(), 1.0) / max(float(_model(np.array(m), w0, 1.0)), 1e-12))
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", (OptimizeWarning, RuntimeWarning))
            (w, norm), _ = curve_fit(_model, x, y, p0=p0, bounds=((0.0, 0.0), (1.0, np.inf)))
        ratio = float(_model(np.array(n_target), w, norm) / _model(np.array(m), w, norm))
    except (RuntimeError, ValueError):
        ratio = float("nan")
    if not math.isfinite(ratio) or ratio <= 0:
        ratio = float(_model(np.array(n_target), w0, 1.0) / _model(np.array(m), w0, 1.0))
    return ratio


def singling_out(train: np.ndarray, holdout: np.ndarray, syn: np.ndarray,
                 numeric: Sequence[bool], mode: str, n_attacks: int, n_cols: int,
                 max_attempts: int, rng: np.random.Generator) -> AttackResult:
    """Run one singling-out attack (``mode`` "univariate" or "multivariate")."""
    train, holdout, syn = dedup(train), dedup(holdout), dedup(syn)
    k = 1 if mode == "univariate" else n_cols
    if mode == "univariate":
        preds = univariate_predicates(syn, numeric, n_attacks, rng)
    else:
        preds = multivariate_predicates(syn, numeric, n_attacks, n_cols, max_attempts, rng)
    baseline = random_predicates(syn, numeric, n_attacks, k, rng)
    success = singles_out(preds, train)
    match_control = matches(preds, holdout)
    control_raw = int((match_control.sum(axis=1) == 1).sum())
    ratio = size_correction(match_control, len(train), 1.0 / max(len(syn), 1), rng)
    control = min(control_raw * ratio, float(len(preds)))
    return AttackResult.from_counts(
        f"singling_out_{mode}", MEANING, attacks=len(preds), successes=success,
        control_successes=control, baseline_successes=singles_out(baseline, train),
        baseline_attacks=len(baseline), mode=mode, n_cols=k, predicates_requested=n_attacks,
        control_successes_uncorrected=control_raw, control_size_correction=ratio,
        rows={"train": len(train), "holdout": len(holdout), "synthetic": len(syn)},
    )

