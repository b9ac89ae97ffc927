"""Rule discovery: rules that hold on every training row and have the support to mean something.

Each family is searched with vectorised numpy/pandas and kept only when it passes a support test
(a rule that would hold by chance is skipped, and the skip is reported with its reason):

* **inequality** ``a <= b`` (numeric pairs): no row with both observed has ``a > b``; at least
  ``min_support`` such rows; not implied by the columns' ranges (``max a <= min b``); and
  ``n·P(a' > b')`` under independence (``a'``, ``b'`` drawn from the two marginals) is at least
  ``min_expected``, i.e. a shuffled table would break it about that many times.
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
* **forbidden_combination** of two discrete values never seen together although
  ``n·p_a·p_b >= forbidden_expected`` rows were expected under independence.
"""

from __future__ import annotations

import itertools
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from clinisynth.expressions import quote
from clinisynth.rules.precision import learn_step
from clinisynth.schema import DISCRETE_KINDS, TableSchema, category_key
from clinisynth.schema.rules import (
    BinningRule,
    ConditionalMissing,
    ForbiddenCombination,
    FormulaRule,
    InequalityRule,
    MappingRule,
    RangeRule,
    Rule,
    jsonable,
)


@dataclass
class DiscoveryOptions:
    """Thresholds of :func:`discover_rules` (see the module docstring)."""

    min_support: int = 20
    min_expected: float = 5.0
    forbidden_expected: float = 10.0
    min_group_rows: int = 5
    max_bins: int = 16
    min_bin_rows: int = 5
    screen_rows: int = 256
    families: tuple[str, ...] = ("range", "inequality", "formula", "mapping", "binning",
                                 "conditional_missing", "forbidden_combination")


@dataclass
class Discovery:
    """Rules found, candidates skipped (counted by reason, with a few examples), and timings."""

    rules: list[Rule] = field(default_factory=list)
    skipped: dict[str, int] = field(default_factory=dict)
    examples: dict[str, list[str]] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)

    def skip(self, reason: str, what: str) -> None:
        self.skipped[reason] = self.skipped.get(reason, 0) + 1
        shown = self.examples.setdefault(reason, [])
        if len(shown) < 3:
            shown.append(what)

    def to_dict(self) -> dict[str, Any]:
        return {"found": [r.describe() for r in self.rules], "skipped": self.skipped,
                "skipped_examples": self.examples,
                "seconds": {k: round(v, 4) for k, v in self.seconds.items()}}


def learn_precisions(frame: pd.DataFrame, schema: TableSchema) -> dict[str, float]:
    """Each numeric column's step: the schema's ``precision`` if set, else learned."""
    out = {}
    for col in schema.columns:
        if col.is_numeric:
            out[col.name] = (float(col.precision) if col.precision is not None
                             else learn_step(_floats(frame[col.name])))
    return out


def discover_rules(frame: pd.DataFrame, schema: TableSchema,
                   options: DiscoveryOptions | None = None,
                   precision: dict[str, float] | None = None) -> Discovery:
    """Rules holding on every row of ``frame`` (see the module docstring for the tests)."""
    opts = options or DiscoveryOptions()
    steps = precision if precision is not None else learn_precisions(frame, schema)
    found = Discovery()
    numeric = [c.name for c in schema.columns if c.is_numeric and not c.is_constant]
    discrete = [c.name for c in schema.columns if c.kind in DISCRETE_KINDS and not c.is_constant]
    derived: set[str] = set()
    codes = {c: _codes(frame[c]) for c in schema.names}
    searches = [
        ("range", lambda: _ranges(frame, schema, numeric)),
        ("formula", lambda: _formulas(frame, numeric, steps, opts, found, derived)),
        ("mapping", lambda: _mappings(frame, schema, discrete, numeric, opts, found, derived,
                                            codes)),
        ("binning", lambda: _binnings(frame, schema, numeric, opts, found, derived, codes)),
        ("inequality", lambda: _inequalities(frame, numeric, derived, opts, found)),
        ("conditional_missing", lambda: _conditional_missing(frame, schema, opts, found,
                                                             derived, codes)),
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
def _floats(series: pd.Series) -> np.ndarray:
    return pd.to_numeric(series, errors="coerce").to_numpy(dtype=float)


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


def _functional(keys: np.ndarray, values: np.ndarray) -> tuple[bool, int]:
    """Whether ``values`` is a function of ``keys`` (both integer codes), and how many keys."""
    n_keys = np.unique(keys).size
    pairs = np.unique(keys * (values.max() + 2) + (values + 1)).size
    return pairs == n_keys, n_keys


def _screen_index(n: int, size: int) -> np.ndarray:
    """A fixed, spread-out subset of row positions (deterministic, no randomness needed)."""
    return np.unique(np.linspace(0, n - 1, num=min(n, size)).astype(int))


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
                  opts: DiscoveryOptions, found: Discovery) -> list[Rule]:
    X = np.column_stack([_floats(frame[c]) for c in numeric]) if numeric else np.zeros((0, 0))
    rules: list[Rule] = []
    observed = ~np.isnan(X)
    for i, a in enumerate(numeric):
        with np.errstate(invalid="ignore"):
            broken = (X[:, [i]] > X).any(axis=0)
        for j in np.flatnonzero(~broken):
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
            if xa.max() <= xb.min():
                found.skip("inequality: implied by the columns' ranges", what)
                continue
            sorted_b = np.sort(X[observed[:, j], j])
            p_break = np.searchsorted(sorted_b, X[observed[:, i], i], side="left").mean()
            expected = both.sum() * p_break / sorted_b.size
            if expected < opts.min_expected:
                found.skip("inequality: would rarely break by chance", what)
                continue
            rules.append(InequalityRule(left=a, right=b, op="<=", support=int(both.sum())))
    return rules


# -- formulas ---------------------------------------------------------------------------------
#: (name, text template, priority: lower is preferred when several orientations hold)
_FORMS: tuple[tuple[str, str, int], ...] = (
    ("sum", "{a} + {b}", 1), ("product", "{a} * {b}", 2), ("bmi", "{a} / ({b} / 100) ** 2", 3),
    ("per_square", "{a} / {b} ** 2", 4), ("ratio", "{a} / {b}", 5), ("difference", "{a} - {b}", 6),
)


def _form_values(name: str, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    with np.errstate(all="ignore"):
        if name == "sum":
            return a + b
        if name == "product":
            return a * b
        if name == "bmi":
            return a / (b / 100.0) ** 2
        if name == "per_square":
            return a / b**2
        if name == "ratio":
            return a / b
        return a - b


def _formulas(frame: pd.DataFrame, numeric: list[str], steps: dict[str, float],
              opts: DiscoveryOptions, found: Discovery, derived: set[str]) -> list[Rule]:
    if len(numeric) < 2:
        return []
    X = np.column_stack([_floats(frame[c]) for c in numeric])
    screen = X[_screen_index(len(X), opts.screen_rows)]
    tol = np.array([steps.get(c, 0.0) / 2.0 for c in numeric])
    spread = np.nanstd(X, axis=0)
    usable = tol <= 0.05 * spread
    candidates: list[tuple[int, int, frozenset[str], Rule]] = []

    def consider(c: int, inputs: tuple[int, ...], text: str, values: np.ndarray,
                 priority: int) -> None:
        cname = numeric[c]
        x = X[:, c]
        slack = (tol[c] if usable[c] else 0.0) + 1e-9 * np.maximum(1.0, np.abs(values))
        miss_in = np.isnan(values)
        if not np.array_equal(np.isnan(x), miss_in):
            found.skip("formula: missingness differs from the inputs'", f"{quote(cname)} = {text}")
            return
        ok = ~miss_in
        if ok.sum() < opts.min_support or not np.all(np.abs(x[ok] - values[ok]) <= slack[ok]):
            return
        cols = frozenset([cname, *(numeric[i] for i in inputs)])
        rule = FormulaRule(column=cname, expression=text,
                           tolerance=float(tol[c]) if usable[c] else 0.0,
                           support=int(ok.sum()))
        candidates.append((priority, -c, cols, rule))

    def screen_hits(values: np.ndarray, exclude: tuple[int, ...]) -> np.ndarray:
        """Columns equal to ``values`` on the screen rows (8 rows first: most fail there)."""
        cols = np.setdiff1d(np.arange(len(numeric)), exclude)
        for rows in (slice(0, 8), slice(None)):
            part, v = screen[rows][:, cols], values[rows][:, None]
            noise = 1e-9 * np.maximum(1.0, np.abs(v))
            with np.errstate(invalid="ignore"):
                gap = np.abs(part - v)
            gap[np.isnan(v[:, 0])] = 0.0
            exact = (gap <= noise).all(axis=0)
            rounded = (gap <= tol[cols] + noise).all(axis=0) & usable[cols]
            cols = cols[exact | rounded]
            if cols.size == 0:
                break
        return cols[~np.isnan(screen[:, cols]).all(axis=0)]

    for i in range(len(numeric)):
        for c in screen_hits(screen[:, i], (i,)):
            if c > i:
                consider(c, (i,), quote(numeric[i]), X[:, i], 0)
    head = screen[:8]
    p = len(numeric)
    for form, template, priority in _FORMS:
        for i in range(p):
            # form(a_i, a_j) for every j at once, against every column c: (rows, j, c)
            values = _form_values(form, head[:, [i]], head)
            with np.errstate(invalid="ignore"):
                gap = np.abs(head[:, None, :] - values[:, :, None])
            gap[np.broadcast_to(np.isnan(values)[:, :, None], gap.shape)] = 0.0
            noise = 1e-9 * np.maximum(1.0, np.abs(np.nan_to_num(values)))[:, :, None]
            with np.errstate(invalid="ignore"):
                ok = (gap <= noise).all(axis=0) | ((gap <= tol + noise).all(axis=0) & usable)
            ok[i, :] = False
            ok[:, i] = False
            np.fill_diagonal(ok, False)
            if form in ("sum", "product"):
                ok[:i, :] = False  # symmetric: each pair once
            for j, c in zip(*np.nonzero(ok), strict=True):
                sv = _form_values(form, screen[:, i], screen[:, j])
                if not np.isfinite(sv[~np.isnan(sv)]).all() or c not in screen_hits(sv, (i, j)):
                    continue
                text = template.format(a=quote(numeric[i]), b=quote(numeric[j]))
                consider(int(c), (i, int(j)), text, _form_values(form, X[:, i], X[:, j]),
                         priority)
    rules: list[Rule] = []
    taken: set[frozenset[str]] = set()
    for _, _, cols, rule in sorted(candidates, key=lambda t: (t[0], t[1])):
        assert isinstance(rule, FormulaRule)
        if cols in taken or rule.column in derived:
            found.skip("formula: same relation as a rule already kept", rule.describe())
            continue
        if any(c in derived for c in rule.inputs) or _reaches(rules, rule.column,
                                                               set(rule.inputs)):
            found.skip("formula: would chain into a cycle", rule.describe())
            continue
        taken.add(cols)
        derived.add(rule.column)
        rules.append(rule)
    return rules


def _reaches(rules: list[Rule], column: str, targets: set[str]) -> bool:
    """Whether ``column`` is (transitively) an input of a rule deriving one of ``targets``."""
    feeds = {r.column: set(getattr(r, "inputs", ())) for r in rules}  # type: ignore[attr-defined]
    stack, seen = list(targets), set()
    while stack:
        node = stack.pop()
        if node == column:
            return True
        if node in seen:
            continue
        seen.add(node)
        stack.extend(feeds.get(node, ()))
    return False


# -- mappings (functional dependencies between discrete columns) -------------------------------
def _outputs(frame: pd.DataFrame, schema: TableSchema, numeric: list[str],
             discrete: list[str], opts: DiscoveryOptions) -> list[str]:
    """Columns that may be a grouping: discrete ones and integers with few distinct values."""
    few = [c for c in numeric if schema[c].kind == "integer"
           and frame[c].nunique() <= opts.max_bins]
    return [c for c in schema.names if c != schema.target and (c in discrete or c in few)]


def _mappings(frame: pd.DataFrame, schema: TableSchema, discrete: list[str], numeric: list[str],
              opts: DiscoveryOptions, found: Discovery, derived: set[str],
              codes: dict[str, np.ndarray]) -> list[Rule]:
    n = len(frame)
    screen = _screen_index(n, 8 * opts.screen_rows)
    outputs = [c for c in _outputs(frame, schema, numeric, discrete, opts) if c not in derived]
    rules: list[Rule] = []
    for out in outputs:
        for width in (1, 2):
            hit = None
            for inputs in itertools.combinations([c for c in discrete if c != out], width):
                if any(_reaches(rules, out, {i}) for i in inputs):
                    continue
                keys = np.zeros(n, dtype=np.int64)
                for i in inputs:
                    keys = keys * (codes[i].max() + 2) + (codes[i] + 1)
                if not _functional(keys[screen], codes[out][screen])[0]:
                    continue
                holds, groups = _functional(keys, codes[out])
                if not holds:
                    continue
                what = f"{quote(out)} = g({', '.join(quote(i) for i in inputs)})"
                if n < opts.min_group_rows * groups or groups < 2:
                    found.skip("mapping: too few rows per input value", what)
                    continue
                hit = inputs
                break
            if hit is not None:
                table = (frame[[*hit, out]].drop_duplicates()
                         .map(jsonable).to_numpy(dtype=object).tolist())
                rules.append(MappingRule(column=out, inputs=list(hit), table=table, support=n))
                derived.add(out)
                break
    return rules


# -- binnings (a grouping that is a step function of a numeric value) --------------------------
def _binnings(frame: pd.DataFrame, schema: TableSchema, numeric: list[str],
              opts: DiscoveryOptions, found: Discovery, derived: set[str],
              all_codes: dict[str, np.ndarray]) -> list[Rule]:
    discrete = [c.name for c in schema.columns if c.kind in DISCRETE_KINDS and not c.is_constant]
    outputs = [c for c in _outputs(frame, schema, numeric, discrete, opts) if c not in derived]
    if not outputs or not numeric:
        return []
    X = {c: _floats(frame[c]) for c in numeric}
    sources: list[tuple[str, tuple[str, ...], np.ndarray]] = [
        (quote(c), (c,), X[c]) for c in numeric]
    sources += [(f"{quote(a)} + {quote(b)}", (a, b), X[a] + X[b])
                for a, b in itertools.combinations(numeric, 2)]
    sidx = _screen_index(len(frame), 4 * opts.screen_rows)
    rules: list[Rule] = []
    for out in outputs:
        codes = all_codes[out]
        for text, inputs, x in sources:
            if out in inputs or any(_reaches(rules, out, {i}) for i in inputs):
                continue
            if _runs(x[sidx], codes[sidx]) is None:
                continue
            cuts_labels = _step_function(x, codes, opts)
            if cuts_labels is None:
                continue
            if isinstance(cuts_labels, str):
                found.skip(f"binning: {cuts_labels}", f"{quote(out)} = bins({text})")
                continue
            cuts, label_rows = cuts_labels
            labels = [jsonable(frame[out].iloc[r]) for r in label_rows]
            rules.append(BinningRule(column=out, expression=text, cuts=cuts, labels=labels,
                                     support=int((~np.isnan(x)).sum())))
            derived.add(out)
            break
    return rules


def _runs(x: np.ndarray, codes: np.ndarray) -> np.ndarray | None:
    """Start positions of the runs of ``codes`` along sorted ``x`` (None if ties disagree or
    missingness differs)."""
    if not np.array_equal(np.isnan(x), codes < 0):
        return None
    ok = ~np.isnan(x)
    order = np.argsort(x[ok], kind="stable")
    xs, cs = x[ok][order], codes[ok][order]
    change = np.flatnonzero(cs[1:] != cs[:-1]) + 1
    if np.any(xs[change] == xs[change - 1]):
        return None
    return change


def _step_function(x: np.ndarray, codes: np.ndarray, opts: DiscoveryOptions
                   ) -> tuple[list[float], list[int]] | str | None:
    change = _runs(x, codes)
    if change is None:
        return None
    ok = np.flatnonzero(~np.isnan(x))
    order = ok[np.argsort(x[ok], kind="stable")]
    xs = x[order]
    if len(change) == 0 or len(change) + 1 > opts.max_bins:
        return None
    sizes = np.diff(np.concatenate([[0], change, [len(xs)]]))
    if sizes.min() < opts.min_bin_rows:
        return "too few rows in a bin"
    cuts = [float((xs[k - 1] + xs[k]) / 2.0) for k in change]
    starts = np.concatenate([[0], change])
    return cuts, [int(order[s]) for s in starts]


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
