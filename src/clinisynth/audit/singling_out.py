"""Singling out (anonymeter's attack, Giomi et al. 2023; Cohen & Nissim 2020).

The attacker reads the synthetic table and writes predicates that hold for exactly one
synthetic row, betting that each also isolates exactly one real training patient.

* univariate predicates: a column's extreme (``x <= min``, ``x >= max``), a value held by one
  synthetic row only, or the single missing cell of a column;
* multivariate predicates: ``n_cols`` random columns of a random synthetic row, a numeric
  column as ``x >= v`` when ``v`` is above the column's median and ``x <= v`` otherwise, a
  categorical one as equality, a missing cell as "is missing".

A predicate is kept when it selects exactly one row of the de-duplicated synthetic table.
Numeric thresholds sit half-way between the row's value and the next distinct synthetic value,
and at least 0.01 standard deviation beyond the value (``x >= v - 0.01·sd``): anonymeter puts
them on the value itself, which hinges on a float being bit-identical to a real one, so a copy
with a tiny jitter would escape; the widened predicate must still single out one synthetic
row, and the same predicates score train and holdout, so the comparison stays fair.

Success: the predicate selects exactly one row of the (de-duplicated) training table; control:
exactly one row of the holdout. When the two differ in size the control count is rescaled to
the training size. A predicate true for a share ``u`` of the population singles out one of ``s``
patients with probability ``s·u(1-u)^(s-1)``. Each predicate's ``u`` is unknown, but the
holdout shows how many of its ``m`` rows the predicate selects (``k``): the shares get a
``Beta(α, β)`` prior fitted by maximum likelihood to all the predicates' counts (beta-binomial,
empirical Bayes), and the expected successes at size ``s`` are

    E_s = Σ_p E[s·u(1-u)^(s-1) | k_p] = Σ_p s·B(α+k_p+1, β+m-k_p+s-1) / B(α+k_p, β+m-k_p)

in closed form; the control count is multiplied by ``E_n / E_m``. Anonymeter instead fits
``norm · ∫₀^w s·u(1-u)^(s-1) du`` (a uniform ``u`` on ``[0, w]``) to the control successes of
random holdout subsamples: one aggregate count per size, extrapolated from ``m`` to ``n``. On
tables of a few hundred patients that fit swings with the predicates the generator happens to
write, and with it the risk, in ways its interval does not show (against independent
samples, where the true risk is 0, the per-predicate fit cuts the estimate's spread:
``benchmarks/results/singling_out_correction.md``). The naive baseline writes random predicates
(random columns, values and operators) and scores them on train.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import pandas as pd
from scipy.optimize import minimize
from scipy.special import betaln
from scipy.stats import betabinom

from clinisynth.audit.risk_stats import AttackResult

#: a numeric threshold reaches at least this many standard deviations beyond the row's value
TOLERANCE = 0.01
_CHUNK = 1000  # random rows drawn at a time for multivariate predicates

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


class RowIndex:
    """Sorted orders and category row lists of a table, so a predicate is counted from its most
    selective term's rows instead of a pass over the whole table."""

    def __init__(self, data: np.ndarray, numeric: Sequence[bool]) -> None:
        self.data = data
        self.cols = [np.ascontiguousarray(data[:, j]) for j in range(data.shape[1])]
        self.order, self.sorted, self.groups, self.missing = {}, {}, {}, {}
        for j, is_num in enumerate(numeric):
            col = data[:, j]
            nan = np.isnan(col)
            self.missing[j] = np.flatnonzero(nan)
            if is_num:
                order = np.argsort(np.where(nan, np.inf, col), kind="stable")[:int((~nan).sum())]
                self.order[j], self.sorted[j] = order, col[order]
            else:
                codes = col[~nan]
                rows = np.flatnonzero(~nan)
                by = np.argsort(codes, kind="stable")
                values, starts = np.unique(codes[by], return_index=True)
                self.groups[j] = dict(zip(values.tolist(), np.split(rows[by], starts[1:]),
                                          strict=True))

    def rows(self, term: Term) -> np.ndarray | None:
        """Rows matching one term (None when the term has no index)."""
        j, op, v = term
        if op == "isna":
            return self.missing[j]
        if op == "==" and j in self.groups:
            return self.groups[j].get(v, np.empty(0, dtype=np.int64))
        if j in self.order and op in ("<=", ">="):
            u = self.sorted[j]
            if op == "<=":
                return self.order[j][:np.searchsorted(u, v, side="right")]
            return self.order[j][np.searchsorted(u, v, side="left"):]
        return None

    def count(self, pred: Predicate, stop: int = 2) -> int:
        """Rows matching every term, counted from the smallest indexed term's rows."""
        indexed = [(r, t) for t in pred if (r := self.rows(t)) is not None]
        if not indexed:
            return count(pred, self.data, stop)
        rows, first = min(indexed, key=lambda rt: len(rt[0]))
        for j, op, v in pred:
            if len(rows) == 0:
                return 0
            if (j, op, v) is not first:
                rows = rows[_term(self.cols[j][rows], op, v)]
        return min(len(rows), stop)


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
    """Numeric thresholds: half-way to the next distinct synthetic value, and at least
    ``TOLERANCE`` standard deviations beyond the row's value, per numeric column."""

    def __init__(self, syn: np.ndarray, numeric: Sequence[bool]) -> None:
        self.values, self.tol = {}, {}
        for j, is_num in enumerate(numeric):
            if is_num:
                finite = syn[:, j][~np.isnan(syn[:, j])]
                self.values[j] = np.unique(finite)
                self.tol[j] = TOLERANCE * float(finite.std()) if len(finite) > 1 else 0.0

    def below(self, j: int, v: float | np.ndarray) -> np.ndarray:
        """Threshold for ``x >= v``: half-way down to the next smaller value, or ``v - tol``."""
        u, v = self.values[j], np.asarray(v, dtype=float)
        i = np.searchsorted(u, v, side="left")
        mid = np.where(i > 0, (u[np.maximum(i - 1, 0)] + v) / 2, v)
        return np.minimum(mid, v - self.tol[j])

    def above(self, j: int, v: float | np.ndarray) -> np.ndarray:
        """Threshold for ``x <= v``: half-way up to the next larger value, or ``v + tol``."""
        u, v = self.values[j], np.asarray(v, dtype=float)
        i = np.searchsorted(u, v, side="right")
        mid = np.where(i < len(u), (u[np.minimum(i, len(u) - 1)] + v) / 2, v)
        return np.maximum(mid, v + self.tol[j])

    def matrices(self, syn: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Every cell's ``below`` and ``above`` threshold (NaN for categorical or missing)."""
        low, high = np.full(syn.shape, np.nan), np.full(syn.shape, np.nan)
        for j in self.values:
            ok = ~np.isnan(syn[:, j])
            if len(self.values[j]):
                low[ok, j], high[ok, j] = self.below(j, syn[ok, j]), self.above(j, syn[ok, j])
        return low, high


def _column_sets(rng: np.random.Generator, size: int, n_columns: int, k: int) -> np.ndarray:
    """``size`` sorted sets of ``k`` distinct columns out of ``n_columns`` (one per row)."""
    return np.sort(np.argsort(rng.random((size, n_columns)), axis=1)[:, :k], axis=1)


def univariate_predicates(syn: np.ndarray, numeric: Sequence[bool], n: int,
                          rng: np.random.Generator) -> list[Predicate]:
    """Up to ``n`` predicates on one column each that single out one synthetic row.

    Counted per column with sorted values (no per-predicate pass over the rows).
    """
    th = _Thresholds(syn, numeric)
    candidates: list[Predicate] = []
    for j, is_num in enumerate(numeric):
        col = syn[:, j]
        missing = np.isnan(col)
        if missing.sum() == 1:
            candidates.append(((j, "isna", math.nan),))
        values, counts = np.unique(col[~missing], return_counts=True)
        if not len(values):
            continue
        if not is_num:
            candidates += [((j, "==", float(v)),) for v in values[counts == 1]]
            continue
        ordered = np.sort(col[~missing])
        low, high = float(th.above(j, values[0])), float(th.below(j, values[-1]))
        if np.searchsorted(ordered, low, side="right") == 1:
            candidates.append(((j, "<=", low),))
        if len(ordered) - np.searchsorted(ordered, high, side="left") == 1:
            candidates.append(((j, ">=", high),))
        rare = values[counts == 1]
        lo, hi = th.below(j, rare), th.above(j, rare)
        inside = (np.searchsorted(ordered, hi, side="left")
                  - np.searchsorted(ordered, lo, side="right"))
        candidates += [((j, ">", float(a)), (j, "<", float(b)))
                       for a, b in zip(lo[inside == 1], hi[inside == 1], strict=True)]
    order = rng.permutation(len(candidates))[:n]
    return [candidates[i] for i in order]


def multivariate_predicates(syn: np.ndarray, numeric: Sequence[bool], n: int, n_cols: int,
                            max_attempts: int, rng: np.random.Generator) -> list[Predicate]:
    """Up to ``n`` predicates on ``n_cols`` columns of a random synthetic row each."""
    th = _Thresholds(syn, numeric)
    low, high = th.matrices(syn)
    medians = np.full(syn.shape[1], np.nan)
    for j, is_num in enumerate(numeric):
        finite = syn[:, j][~np.isnan(syn[:, j])]
        if is_num and len(finite):
            medians[j] = np.median(finite)
    n_cols = min(n_cols, syn.shape[1])
    index = RowIndex(syn, numeric)
    out: list[Predicate] = []
    seen: set[Predicate] = set()
    for start in range(0, max_attempts, _CHUNK):
        size = min(_CHUNK, max_attempts - start)
        rows = rng.integers(len(syn), size=size)
        for r, cols in zip(rows, _column_sets(rng, size, syn.shape[1], n_cols), strict=True):
            terms = []
            for j in cols.tolist():
                v = float(syn[r, j])
                if math.isnan(v):
                    terms.append((j, "isna", math.nan))
                elif not numeric[j]:
                    terms.append((j, "==", v))
                elif v > medians[j]:
                    terms.append((j, ">=", float(low[r, j])))
                else:
                    terms.append((j, "<=", float(high[r, j])))
            pred = tuple(terms)
            if pred in seen:
                continue
            seen.add(pred)
            if index.count(pred) == 1:
                out.append(pred)
                if len(out) == n:
                    return out
    return out


def random_predicates(syn: np.ndarray, numeric: Sequence[bool], n: int, n_cols: int,
                      rng: np.random.Generator) -> list[Predicate]:
    """The naive attacker: ``n`` predicates of random columns, values and operators."""
    uniques = [np.unique(syn[:, j]) for j in range(syn.shape[1])]  # NaN kept (once per NaN)
    n_cols = min(n_cols, syn.shape[1])
    cols = _column_sets(rng, n, syn.shape[1], n_cols)
    picks = rng.random((n, n_cols))
    ops = rng.integers(6, size=(n, n_cols))
    out = []
    for i in range(n):
        terms = []
        for t, j in enumerate(cols[i].tolist()):
            u = uniques[j]
            v = float(u[int(picks[i, t] * len(u))])
            if math.isnan(v):
                terms.append((j, ("isna", "notna")[ops[i, t] % 2], math.nan))
            elif numeric[j]:
                terms.append((j, ("==", "!=", ">", "<", ">=", "<=")[ops[i, t]], v))
            else:
                terms.append((j, ("==", "!=")[ops[i, t] % 2], v))
        out.append(tuple(terms))
    return out


def beta_prior(k: np.ndarray, m: int) -> tuple[float, float]:
    """``(α, β)`` maximising the beta-binomial likelihood of counts ``k`` out of ``m``,
    searched (Nelder-Mead on the logs) from the method-of-moments estimate and from a flat
    ``Beta(1, ·)`` of the same mean; the better of the two."""
    k = np.asarray(k, dtype=float)
    mean = min(max(k.mean() / m, 0.5 / (m * len(k))), 1.0 - 0.5 / m)
    spread = k.var() / (m * mean * (1.0 - mean))  # 1 for a binomial, more when u varies
    rho = min(max((spread - 1.0) / (m - 1.0), 1e-4), 0.99) if m > 1 else 0.5
    total = 1.0 / rho - 1.0

    def nll(t: np.ndarray) -> float:
        a, b = np.exp(t)
        return -float(betabinom.logpmf(k, m, a, b).sum())

    starts = [np.log([mean * total, (1.0 - mean) * total]),
              np.log([1.0, (1.0 - mean) / mean])]
    fits = [minimize(nll, np.clip(x0, -12.0, 16.0), method="Nelder-Mead",
                     bounds=[(-12.0, 12.0), (-12.0, 16.0)],
                     options={"xatol": 1e-4, "fatol": 1e-6, "maxiter": 1000}) for x0 in starts]
    a, b = np.exp(min(fits, key=lambda f: f.fun).x)
    return float(a), float(b)


def expected_singles(k: np.ndarray, m: int, size: int, prior: tuple[float, float]) -> float:
    """``Σ_p E[s·u(1-u)^(s-1) | k_p]`` at ``s = size`` (module doc), ``u ~ Beta`` posterior."""
    a, b = prior
    k = np.asarray(k, dtype=float)
    post_a, post_b = a + k, b + m - k
    log_terms = betaln(post_a + 1.0, post_b + size - 1.0) - betaln(post_a, post_b)
    return float(size * np.exp(log_terms).sum())


def size_correction(match_control: np.ndarray, n_target: int) -> float:
    """``E_n / E_m`` for the control's predicate matches (predicates × its ``m`` rows): how
    many more (or fewer) predicates would single out one of ``n_target`` unseen patients than
    one of the control's ``m`` (1 when sizes match or there are no predicates)."""
    m = match_control.shape[1]
    if m == n_target or len(match_control) == 0 or m == 0:
        return 1.0
    k = match_control.sum(axis=1)
    prior = beta_prior(k, m)
    at_m = expected_singles(k, m, m, prior)
    if not at_m > 0:
        return 1.0
    return expected_singles(k, m, n_target, prior) / at_m


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
    ratio = size_correction(match_control, len(train))
    control = min(control_raw * ratio, float(len(preds)))
    return AttackResult.from_counts(
        f"singling_out_{mode}", MEANING, attacks=len(preds), successes=success,
        control_successes=control, baseline_successes=singles_out(baseline, train),
        baseline_attacks=len(baseline), mode=mode, n_cols=k, predicates_requested=n_attacks,
        control_successes_uncorrected=control_raw, control_size_correction=ratio,
        rows={"train": len(train), "holdout": len(holdout), "synthetic": len(syn)},
    )

