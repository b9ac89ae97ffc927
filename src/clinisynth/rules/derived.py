"""Discovery of derived columns: formulas ``c = f(a, b)``, mappings ``c = g(a)`` or ``g(a, b)``
and binnings ``c = bins(x)`` (see :mod:`clinisynth.rules.discovery` for the tests each passes).

Called by :func:`~clinisynth.rules.discovery.discover_rules`; ``derived`` collects the columns
these rules compute, so a column is derived by at most one rule and the rules form no cycle.
"""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd

from clinisynth.expressions import quote
from clinisynth.rules.columns import floats
from clinisynth.rules.options import Discovery, DiscoveryOptions
from clinisynth.schema import DISCRETE_KINDS, TableSchema
from clinisynth.schema.rules import BinningRule, FormulaRule, MappingRule, Rule, jsonable


# -- helpers ----------------------------------------------------------------------------------
def _functional(keys: np.ndarray, values: np.ndarray) -> tuple[bool, int]:
    """Whether ``values`` is a function of ``keys`` (both integer codes), and how many keys."""
    n_keys = np.unique(keys).size
    pairs = np.unique(keys * (values.max() + 2) + (values + 1)).size
    return pairs == n_keys, n_keys


def _screen_index(n: int, size: int) -> np.ndarray:
    """A fixed, spread-out subset of row positions (deterministic, no randomness needed)."""
    return np.unique(np.linspace(0, n - 1, num=min(n, size)).astype(int))


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


def formulas(frame: pd.DataFrame, numeric: list[str], steps: dict[str, float],
              opts: DiscoveryOptions, found: Discovery, derived: set[str]) -> list[Rule]:
    if len(numeric) < 2:
        return []
    X = np.column_stack([floats(frame[c]) for c in numeric])
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


def mappings(frame: pd.DataFrame, schema: TableSchema, discrete: list[str], numeric: list[str],
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
def binnings(frame: pd.DataFrame, schema: TableSchema, numeric: list[str],
              opts: DiscoveryOptions, found: Discovery, derived: set[str],
              all_codes: dict[str, np.ndarray]) -> list[Rule]:
    discrete = [c.name for c in schema.columns if c.kind in DISCRETE_KINDS and not c.is_constant]
    outputs = [c for c in _outputs(frame, schema, numeric, discrete, opts) if c not in derived]
    if not outputs or not numeric:
        return []
    X = {c: floats(frame[c]) for c in numeric}
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
