"""Rule discovery: rules that hold on (nearly) every training row and have the support to mean
something.

Each family is searched with vectorised numpy/pandas and kept only when it passes a support test
(a rule that would hold by chance is skipped, and the skip is reported with its reason):

* **inequality** ``a <= b`` (numeric pairs): at most ``exception_share`` (1 %) of the rows with
  both observed have ``a > b``, and at most ``exception_expected`` (1 %) of the rows a
  shuffled table would break it in (below), so a rule real records break a few times (an event
  time recorded a day past death, a patient lost to one follow-up) is still a rule, enforced on
  every synthetic row, with its share of training rows in the rules report (at most
  ``exception_expected_tied``, 5 %, when the two are equal on more rows than chance explains,
  as below: a nesting whose censored rows show it, with a few recording errors); at least
  ``min_support`` such rows; not implied by the columns' ranges (``max a <= min b``); and
  ``n·P(a' > b')`` under independence (``a'``, ``b'`` drawn from the two marginals) is at least
  ``min_expected``, i.e. a shuffled table would break it about that many times, unless no row
  breaks it and (``tie_evidence``) ``a = b`` on at least ``min_group_rows`` rows (at as many
  distinct values), more than chance explains (binomial probability below ``1e-3`` at
  ``p = sum_v P(a'=v) P(b'=v)``): a short duration nested in a long one rarely breaks by
  chance, but its rows censored at the outer time show the nesting.
* **range** (natural bounds only): integers with min >= 0 are counts (``>= 0``); continuous
  columns inside [0, 1] reaching at least 0.5 are proportions (``[0, 1]``).
* **formula** ``c = f(a, b)`` for ``f`` in identity, ``a + b``, ``a - b``, ``a * b``, ``a / b``,
  ``a / (b/100)**2`` and ``a / b**2``, exact within ``c``'s recorded step (half a step of
  slack); screened on ``screen_rows`` rows, then checked on all; ``c`` must be missing exactly
  when an input is, its slack below 5 % of its spread, and one orientation per set of columns is
  kept (sums and products before differences and ratios).
* **mapping** ``c = g(a)`` or ``g(a, b)`` for discrete ``a``, ``b``: a functional dependency with
  at least ``min_group_rows`` rows per input value on average.
* **binning** ``c = bins(x)`` for ``x`` a numeric column or a sum of two: sorted by ``x``, ``c``
  is piecewise constant with at most ``max_bins`` runs of at least ``min_bin_rows`` rows (a
  depth-limited tree with zero training error); cuts at the midpoints between runs.
* **conditional_missing**: ``b`` is missing for every row where ``a`` takes one of a set of
  values (or is itself missing), each value seen ``min_group_rows`` times, and chance cannot
  explain it (``rate_b ** rows < 1e-3``), and ``b`` is never missing otherwise (``exact``).
* **conditional_equal** ``a = b`` whenever ``e`` takes one of a set of values, for an
  inequality ``a <= b`` found above (nested durations: a recurrence time with no recurrence is
  censored at the follow-up time) and a discrete ``e``: all rows but ``exception_share`` of each
  such value (seen ``min_group_rows`` times) have ``a = b``, together at least ``min_support``
  rows, chance cannot explain it (as many equal rows or more out of ``rows`` has binomial
  probability below ``1e-3`` at the share of equal rows overall) and some other row has
  ``a < b``.
* **forbidden_combination** of two discrete values never seen together although
  ``n·p_a·p_b >= forbidden_expected`` rows were expected under independence.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
import pandas as pd
from scipy.stats import binom

from clinisynth.expressions import quote
from clinisynth.rules.columns import floats
from clinisynth.rules.derived import binnings, formulas, mappings
from clinisynth.rules.options import Discovery, DiscoveryOptions
from clinisynth.rules.precision import learn_step
from clinisynth.schema import DISCRETE_KINDS, TableSchema, category_key
from clinisynth.schema.rules import (
    BinningRule,
    ConditionalEqual,
    ConditionalMissing,
    ForbiddenCombination,
    InequalityRule,
    MappingRule,
    RangeRule,
    Rule,
    equal_values,
    jsonable,
)


def learn_precisions(frame: pd.DataFrame, schema: TableSchema) -> dict[str, float]:
    """Each numeric column's step: the schema's ``precision`` if set, else learned."""
    out = {}
    for col in schema.columns:
        if col.is_numeric:
            out[col.name] = (float(col.precision) if col.precision is not None
                             else learn_step(floats(frame[col.name])))
    return out


def discover_rules(frame: pd.DataFrame, schema: TableSchema,
                   options: DiscoveryOptions | None = None,
                   precision: dict[str, float] | None = None,
                   evidence: Iterable[Sequence[str]] = ()) -> Discovery:
    """Rules holding on every row of ``frame``, or all but a few (see the module docstring for
    the tests). ``evidence``: inequalities ``(a, b)`` that passed the chance test on the rows
    before value protection clipped their ends; they skip it here."""
    opts = options or DiscoveryOptions()
    steps = precision if precision is not None else learn_precisions(frame, schema)
    found = Discovery()
    numeric = [c.name for c in schema.columns if c.is_numeric and not c.is_constant]
    discrete = [c.name for c in schema.columns if c.kind in DISCRETE_KINDS and not c.is_constant]
    derived: set[str] = set()
    codes = {c: _codes(frame[c]) for c in schema.names}
    searches = [
        ("range", lambda: _ranges(frame, schema, numeric)),
        ("formula", lambda: formulas(frame, numeric, steps, opts, found, derived)),
        ("mapping", lambda: mappings(frame, schema, discrete, numeric, opts, found, derived,
                                            codes)),
        ("binning", lambda: binnings(frame, schema, numeric, opts, found, derived, codes)),
        ("inequality", lambda: _inequalities(frame, numeric, derived, opts, found,
                                             set(map(tuple, evidence)))),
        ("conditional_missing", lambda: _conditional_missing(frame, schema, opts, found,
                                                             derived, codes)),
        ("conditional_equal", lambda: _conditional_equal(frame, discrete, opts, found, codes,
                                                         found.rules)),
        ("forbidden_combination", lambda: _forbidden(frame, discrete, opts, found, codes,
                                                      found.rules)),
    ]
    for family, search in searches:
        if family not in opts.families:
            continue
        start = time.perf_counter()
        rules = search()
        for rule in rules:
            rule.source = "discovered"
        found.rules.extend(rules)
        found.seconds[family] = time.perf_counter() - start
    return found


# -- helpers ----------------------------------------------------------------------------------
def _codes(series: pd.Series) -> np.ndarray:
    """Integer codes of a column's values (-1 for missing); 1, 1.0 and True share a code."""
    raw, uniques = pd.factorize(series, use_na_sentinel=True)
    keys: dict[Any, int] = {}
    per_unique = [keys.setdefault(category_key(u), len(keys)) for u in uniques]
    return np.array(per_unique + [-1], dtype=np.int64)[raw]


def _first_rows(codes: np.ndarray) -> dict[int, int]:
    """Code -> the first row holding it."""
    values, rows = np.unique(codes, return_index=True)
    return dict(zip(values.tolist(), rows.tolist(), strict=True))


# -- ranges -----------------------------------------------------------------------------------
def _ranges(frame: pd.DataFrame, schema: TableSchema, numeric: list[str]) -> list[Rule]:
    rules: list[Rule] = []
    for name in numeric:
        col = schema[name]
        assert col.min is not None and col.max is not None
        if col.kind == "integer" and col.min >= 0:
            rules.append(RangeRule(column=name, min=0, max=None, support=len(frame)))
        elif col.kind == "continuous" and col.min >= 0 and 0.5 <= col.max <= 1:
            rules.append(RangeRule(column=name, min=0, max=1, support=len(frame)))
    return rules


# -- inequalities -----------------------------------------------------------------------------
def _inequalities(frame: pd.DataFrame, numeric: list[str], derived: set[str],
                  opts: DiscoveryOptions, found: Discovery,
                  evidence: set[tuple[str, ...]]) -> list[Rule]:
    X = np.column_stack([floats(frame[c]) for c in numeric]) if numeric else np.zeros((0, 0))
    rules: list[Rule] = []
    observed = ~np.isnan(X)
    for i, a in enumerate(numeric):
        with np.errstate(invalid="ignore"):
            breaks = (X[:, [i]] > X).sum(axis=0)
        for j in np.flatnonzero(breaks <= opts.exception_share * len(X)):
            b = numeric[j]
            if i == j:
                continue
            what = f"{quote(a)} <= {quote(b)}"
            both = observed[:, i] & observed[:, j]
            xa, xb = X[both, i], X[both, j]
            if both.sum() < opts.min_support:
                found.skip("inequality: too few rows", what)
                continue
            if np.all(xa == xb):
                continue  # identical columns: a formula, not an inequality
            if breaks[j] == 0 and xa.max() <= xb.min():
                found.skip("inequality: implied by the columns' ranges", what)
                continue
            sorted_b = np.sort(X[observed[:, j], j])
            p_break = np.searchsorted(sorted_b, X[observed[:, i], i], side="left").mean()
            expected = both.sum() * p_break / sorted_b.size
            # ties are counted only where they decide (two np.unique calls)
            if expected < opts.min_expected and (a, b) not in evidence and not (
                    breaks[j] == 0 and _tied(xa, xb, opts)):
                found.skip("inequality: would rarely break by chance", what)
                continue
            cap = opts.exception_share * both.sum()
            if breaks[j] > min(cap, opts.exception_expected * expected) and not (
                    breaks[j] <= min(cap, opts.exception_expected_tied * expected)
                    and _tied(xa, xb, opts)):
                found.skip("inequality: broken by too many rows", what)
                continue
            rules.append(InequalityRule(left=a, right=b, op="<=", support=int(both.sum())))
    return rules


def _tied(a: np.ndarray, b: np.ndarray, opts: DiscoveryOptions) -> bool:
    return opts.tie_evidence and tied_beyond_chance(a, b, opts.min_group_rows)


def tied_beyond_chance(a: np.ndarray, b: np.ndarray, min_rows: int) -> bool:
    """``a == b`` on at least ``min_rows`` of the ``n`` rows holding both, at as many distinct
    values, more than independence explains: the binomial probability of as many equal rows at
    ``p = sum_v P(a'=v) P(b'=v)`` is below ``1e-3`` (a duration censored at the follow-up time
    it is nested in; two measures both 0 on the same rows share a floor, not a nesting)."""
    both = np.isfinite(a) & np.isfinite(b)
    a, b = a[both], b[both]
    equal = equal_values(a, b)
    held = int(equal.sum())
    if held < min_rows or np.unique(b[equal]).size < min_rows:
        return False
    values_a, counts_a = np.unique(a, return_counts=True)
    values_b, counts_b = np.unique(b, return_counts=True)
    _, ia, ib = np.intersect1d(values_a, values_b, return_indices=True)
    p_equal = float(np.sum(counts_a[ia] * counts_b[ib])) / (a.size * b.size)
    return bool(binom.sf(held - 1, a.size, p_equal) < 1e-3)


# -- conditional equality ---------------------------------------------------------------------
def _conditional_equal(frame: pd.DataFrame, discrete: list[str], opts: DiscoveryOptions,
                       found: Discovery, all_codes: dict[str, np.ndarray],
                       earlier: list[Rule]) -> list[Rule]:
    rules: list[Rule] = []
    for ineq in earlier:
        if not isinstance(ineq, InequalityRule) or ineq.strict:
            continue
        a, b = floats(frame[ineq.left]), floats(frame[ineq.right])
        both = ~np.isnan(a) & ~np.isnan(b)
        equal = both & equal_values(a, b)
        share = equal.sum() / max(both.sum(), 1)
        if not equal.any() or equal[both].all():
            continue
        for e in discrete:
            if e in (ineq.left, ineq.right):
                continue
            codes = np.where(both, all_codes[e], -2)
            counts = np.bincount(codes + 2)
            equal_counts = np.bincount(codes + 2, weights=equal.astype(float),
                                       minlength=len(counts))
            spare = np.floor(opts.exception_share * counts)
            always = np.flatnonzero((counts >= opts.min_group_rows)
                                    & (counts - equal_counts <= spare))
            always = always[always >= 1] - 2  # not the rows with a bound missing
            if always.size == 0:
                continue
            cond = np.isin(codes, always)
            rows = int(cond.sum())
            held = int((cond & equal).sum())
            what = f"{quote(ineq.left)} = {quote(ineq.right)} when {quote(e)}"
            if rows < opts.min_support or binom.sf(held - 1, rows, share) >= 1e-3:
                found.skip("conditional_equal: too little support", what)
                continue
            first = _first_rows(all_codes[e])
            values = [None if c == -1 else jsonable(frame[e].iloc[first[c]])
                      for c in always.tolist()]
            rules.append(ConditionalEqual(column=ineq.left, equals=ineq.right, when=e,
                                          values=values, support=rows))
    return rules


# -- conditional missingness ------------------------------------------------------------------
def _conditional_missing(frame: pd.DataFrame, schema: TableSchema, opts: DiscoveryOptions,
                         found: Discovery, derived: set[str],
                         all_codes: dict[str, np.ndarray]) -> list[Rule]:
    n = len(frame)
    isna = frame.isna()
    gappy = [c for c in schema.names if 0 < isna[c].sum() < n and c not in derived]
    conditions = [c.name for c in schema.columns if c.kind in DISCRETE_KINDS] + [
        c for c in gappy if schema[c].is_numeric]
    best: dict[str, ConditionalMissing] = {}
    for b in gappy:
        miss = isna[b].to_numpy()
        rate = miss.mean()
        for a in conditions:
            if a == b:
                continue
            if schema[a].kind in DISCRETE_KINDS:
                codes = all_codes[a]
            else:
                codes = np.where(isna[a].to_numpy(), -1, 0)
            counts = np.bincount(codes + 1)
            missing_counts = np.bincount(codes + 1, weights=miss.astype(float),
                                         minlength=len(counts))
            always = np.flatnonzero((counts >= opts.min_group_rows)
                                    & (missing_counts == counts)) - 1
            if schema[a].is_numeric:
                always = always[always == -1]
            if always.size == 0:
                continue
            cond = np.isin(codes, always)
            rows = int(cond.sum())
            mirror = always.tolist() == [-1] and np.array_equal(isna[a].to_numpy(), miss)
            if mirror and schema.names.index(a) > schema.names.index(b):
                continue  # the same gaps: kept once, explained by the earlier column
            what = f"{quote(b)} missing when {quote(a)}"
            if rows < opts.min_support or rate**rows >= 1e-3 or cond.all():
                found.skip("conditional_missing: too little support", what)
                continue
            values = []
            for code in always:
                if code < 0:
                    values.append(None)
                else:
                    values.append(jsonable(frame[a].iloc[int(np.flatnonzero(codes == code)[0])]))
            exact = bool(np.array_equal(cond, miss))
            if not exact:  # re-imposing a partial pattern on top of the encoder's own gaps
                found.skip("conditional_missing: not exact", what)  # would inflate the rate
                continue
            rule = ConditionalMissing(column=b, when=a, values=values, exact=exact, support=rows)
            held = best.get(b)
            if held is None or (exact, rows) > (held.exact, held.support or 0):
                if held is not None:
                    found.skip("conditional_missing: a stronger rule covers the column",
                               held.describe())
                best[b] = rule
            else:
                found.skip("conditional_missing: a stronger rule covers the column",
                           rule.describe())
    rules: list[Rule] = []
    for b in schema.names:  # keep an acyclic set: never let a column's gap explain its cause
        rule = best.get(b)
        if rule is None:
            continue
        if any(r.column == rule.when and r.when == b for r in rules):  # type: ignore[attr-defined]
            found.skip("conditional_missing: same pattern as a rule already kept",
                       rule.describe())
            continue
        rules.append(rule)
    return rules


# -- forbidden combinations -------------------------------------------------------------------
def _forbidden(frame: pd.DataFrame, discrete: list[str], opts: DiscoveryOptions,
               found: Discovery, codes: dict[str, np.ndarray], kept: list[Rule]) -> list[Rule]:
    n = len(frame)
    rules: list[Rule] = []
    linked = {frozenset((r.column, i)) for r in kept  # type: ignore[attr-defined]
              if isinstance(r, MappingRule | BinningRule) for i in r.inputs}
    for a, b in itertools.combinations(discrete, 2):
        if frozenset((a, b)) in linked:
            continue  # one is derived from the other: its mapping already rules out the rest
        ca, cb = codes[a], codes[b]
        both = (ca >= 0) & (cb >= 0)
        ka, kb = ca.max() + 1, cb.max() + 1
        if ka < 2 or kb < 2:
            continue
        table = np.bincount(ca[both] * kb + cb[both], minlength=ka * kb).reshape(ka, kb)
        expected = np.outer(table.sum(axis=1), table.sum(axis=0)) / max(table.sum(), 1)
        zero = table == 0
        if zero.sum() and (zero.sum(axis=0) == ka - 1).all():
            continue  # a one-to-one relation: a mapping, not forbidden pairs
        first_a = _first_rows(ca)
        first_b = _first_rows(cb)
        for r, c in zip(*np.nonzero(zero), strict=True):
            va = jsonable(frame[a].iloc[first_a[r]])
            vb = jsonable(frame[b].iloc[first_b[c]])
            what = f"{quote(a)} = {va!r} and {quote(b)} = {vb!r}"
            if expected[r, c] < opts.forbidden_expected:
                found.skip("forbidden_combination: too few rows expected", what)
                continue
            rules.append(ForbiddenCombination(values={a: va, b: vb}, support=n))
    return rules
