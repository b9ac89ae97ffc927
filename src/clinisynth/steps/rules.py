"""RulesStep: the table step that makes rules true by construction, and checks the rest.

Fit (on the real table, after the roles step): the rules are the schema's ``"rules"`` list when
it has one (used as given, nothing discovered), else those :func:`discover_rules` finds; each
numeric column's recorded step is the schema's ``precision`` when set, else learned. Then a plan:

* **derived columns** (``formula``, ``binning``, ``mapping``): dropped from the model table and
  recomputed from their inputs after sampling (a column is derived by at most one rule, and the
  rules form no cycle);
* **conditional missingness**: for an ``exact`` rule the dependent column's cells that the rule
  blanks are filled in the model table with observed values (a fixed, seeded draw), so the
  generators never see those gaps; after sampling, every rule blanks the column again wherever
  its condition holds (one rule per column, no cycles);
* **inequalities** ``a <= b`` (``a < b``): ``b`` is fenced by ``a`` (``a`` by ``b`` when ``b``
  is the primary survival time, which is never rewritten). Rules are taken tightest first
  (smallest ``std(b - a) / std(b)``); a column's tightest rule names the column it is modelled
  against (a gap above it, a share or a gap below it, or the column as it is when neither
  varies less than the column), and after decoding the column is moved into the interval all
  its rules give (:mod:`clinisynth.rules.fences`), so every rule of a fence holds by
  construction, however many columns bound it, unless its bound columns cross; the fences form
  no cycle;
* **conditional equality** ``a = b`` whenever ``e`` takes given values, for a fence between
  ``a`` and ``b``: after the fenced column is decoded, it is set to its bound column on those
  rows (so the equality, and the fence, hold by construction);
* **ranges**: values clipped to the schema's observed range and every declared range;
* **precision**: every numeric column rounded to its step, fence columns first, and a column
  that rounding pushed out of its fence moved back to the fence rounded to its own step (so
  rounding never breaks an inequality); derived columns are computed from rounded inputs and
  rounded to their own step (a formula holds within half a step).

Every rule (including those enforced by construction) is checked by :meth:`violations`; the
forbidden combinations, inequalities no fence could take (they would close a cycle), unseen
inputs of a mapping and declared rules the real data break are the ones that can fire, and the
synthesizer redraws those rows a bounded number of times and reports what is left.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from clinisynth.encoding import restore_dtype
from clinisynth.errors import ClinisynthError
from clinisynth.rules.columns import floats
from clinisynth.rules.discovery import discover_rules, learn_precisions
from clinisynth.rules.fences import (
    choose_mode,
    decode,
    encode,
    envelope,
    fence_links,
    fence_rounded,
    new_fence,
    outside,
    primary,
)
from clinisynth.rules.mixed_precision import learn_mix, round_mixed
from clinisynth.rules.options import Discovery, DiscoveryOptions
from clinisynth.rules.plan import forest_order, has_path, topological
from clinisynth.rules.precision import round_to
from clinisynth.rules.storage import describe as describe_storage
from clinisynth.rules.storage import learn_storage, store, with_printed
from clinisynth.schema import TableSchema, primary_pair
from clinisynth.schema.rules import (
    DERIVING,
    BinningRule,
    ConditionalEqual,
    ConditionalMissing,
    FormulaRule,
    InequalityRule,
    MappingRule,
    RangeRule,
    Rule,
    jsonable,
    parse_rules,
)
from clinisynth.steps.base import Arrays, Batch, FitContext, TableStep, Verdict
from clinisynth.values import category_codes

#: observed values kept per column to fill the cells a conditional-missing rule blanks
POOL_SIZE = 64
#: fewest rows a conditional equality leaves free for their values to stand in for the rest
MIN_FREE_ROWS = 5
_FILL_SEED = 20240601


@dataclass
class RulesReport:
    """Rows of one ``sample`` call that broke a rule: ``redrawn`` (over all rounds) and
    ``remaining`` (still breaking one after the last round, written anyway)."""

    redrawn: int = 0
    remaining: int = 0
    rounds: int = 0
    fallback: int = 0

    def count(self, reasons: np.ndarray) -> None:
        self.redrawn += len(reasons)

    def add(self, other: RulesReport) -> None:
        self.redrawn += other.redrawn
        self.remaining += other.remaining

    def to_dict(self) -> dict[str, int]:
        return {"redrawn": self.redrawn, "remaining": self.remaining}


class RulesStep(TableStep):
    """Discovered and declared rules, enforced by construction where possible.

    Parameters
    ----------
    discover : bool
        Discover rules when the schema has no ``"rules"`` list (a list, even empty, is used as
        given).
    precision : bool
        Round numeric columns to their recorded step.
    options : DiscoveryOptions, optional
        Thresholds of the discovery.

    The step sits before the survival step, so it sees every duration on the user's scale and
    enforces the rules that name one. The primary survival time (``schema.survival[0]``) is
    modelled by the survival step as it is, so it is never rewritten: an inequality bounding
    another column by it (``visit <= futime``, ``ptime <= futime``) is modelled the other way,
    the inner column fenced by it (a share of it in ``[0, 1]``, a gap below it, or as it is).
    """

    name: ClassVar[str] = "rules"
    reads: ClassVar[str] = ("every training row: rules that hold on all of them (with their "
                            "support), each numeric column's recorded precision and range, and "
                            "up to 64 observed values per column whose missing cells a rule "
                            "re-imposes")
    #: a soft filter: rows breaking a rule are redrawn for at most ``max_rounds`` rounds, then
    #: kept and counted
    hard: ClassVar[bool] = False
    max_rounds: ClassVar[int] = 10

    def __init__(self, discover: bool = True, precision: bool = True,
                 options: DiscoveryOptions | None = None) -> None:
        self.discover = discover
        self.precision = precision
        self.options = options

    # -- fit ----------------------------------------------------------------------------------
    def fit(self, batch: Batch, ctx: FitContext) -> RulesStep:
        """As any table step; the protect step's inequalities (found before it clipped the
        ends) lend their evidence to discovery."""
        protect = ctx.fitted.get("protect")
        evidence = getattr(protect, "order_", [])  # none when protection is off
        return self.fit_table(batch.table(self.name), ctx.schema, evidence)

    def fit_table(self, real: pd.DataFrame, schema: TableSchema,
                  evidence: Iterable[Sequence[str]] = ()) -> RulesStep:
        pair = primary_pair(schema)
        self.fixed_ = [pair["time"]] if pair is not None else []
        steps = learn_precisions(real, schema) if self.precision else {}
        self.discovery_: Discovery | None = None
        if schema.rules is not None:
            rules = parse_rules(schema.rules, schema)
        elif self.discover:
            self.discovery_ = discover_rules(real[schema.names], schema, self.options, steps,
                                             evidence)
            rules = list(self.discovery_.rules)
        else:
            rules = []
        for rule in rules:
            if isinstance(rule, FormulaRule):
                rule.tolerance = max(rule.tolerance, steps.get(rule.column, 0.0) / 2.0)
        self.rules_ = rules
        self.steps_ = steps
        self.input_schema_ = schema
        self.held_ = [float(1.0 - r.violated(real).mean()) for r in rules]
        self.mixes_ = self._mixes(real) if self.precision else {}
        self.storages_ = self._storages(real) if self.precision else {}
        self.schema_ = _annotated(schema, rules, steps, self.storages_)
        self._plan(real)
        self.model_schema_ = self._model_schema(real)
        return self

    def _mixes(self, real: pd.DataFrame) -> dict[str, dict[str, Any]]:
        """Columns recorded at more than one resolution (:func:`learn_mix`), by name."""
        schema = self.input_schema_
        labels = _class_index(real, schema)
        out: dict[str, dict[str, Any]] = {}
        for name, step in self.steps_.items():
            col = schema[name]
            if name == schema.target or col.kind not in ("continuous", "integer") or step <= 0:
                continue
            mix = learn_mix(_num(real, name), step, labels)
            if mix is not None:
                out[name] = mix
        return out

    def _storages(self, real: pd.DataFrame) -> dict[str, dict[str, Any]]:
        """Continuous columns stored at fewer significant bits than a float's
        (:mod:`~clinisynth.rules.storage`), by name: the schema's storage, or learned."""
        schema = self.input_schema_
        out: dict[str, dict[str, Any]] = {}
        for col in schema.columns:
            if col.name == schema.target or col.kind != "continuous" or col.is_constant \
                    or col.storage is False or col.name not in real.columns:
                continue
            x = _num(real, col.name)
            with np.errstate(invalid="ignore"):  # the ends may be protected bounds, not values
                x = x[(x > np.nanmin(x)) & (x < np.nanmax(x))] if np.isfinite(x).any() else x
            found = (with_printed(x, col.storage, schema.k) if isinstance(col.storage, dict)
                     else learn_storage(x, schema.k))
            if found is not None:
                out[col.name] = found
        return out

    def _stored(self, name: str, x: np.ndarray, lo: float | None = None,
                hi: float | None = None) -> np.ndarray:
        """``x`` written as the column's file stores it (:func:`store`), if it has a storage.
        A value at the column's bound ``lo`` or ``hi`` stays there, and a stored value past it
        is set to it: the bounds are protected values no file printed, and nothing may pass
        them."""
        storage = self.storages_.get(name)
        if storage is None:
            return x
        x = np.asarray(x, dtype=float).copy()
        lo, hi = -np.inf if lo is None else lo, np.inf if hi is None else hi
        inside = np.isfinite(x) & (x > lo) & (x < hi)
        x[inside] = np.clip(store(x[inside], storage), lo, hi)
        return x

    def _equalised(self, name: str, x: np.ndarray, out: dict[str, np.ndarray]) -> np.ndarray:
        """``name`` set to its partner on the rows where each of its conditional equalities
        holds. Where several hold on one row, every rule can only hold if the partners agree
        (the real rows obey all at once): ``name`` takes the value of one anchor partner (the
        primary survival time, which no rule rewrites, else the first decoded), and each other
        partner is moved to it too where that keeps it inside its own range and fence; a row
        where one cannot be is left for the redraw."""
        rank = {c: i for i, c in enumerate(self.order_)}
        parts = []
        for i in self.equals_[name]:
            other, bound, cond = self._equal_rows(i, name, out)
            x = np.where(cond, bound, x)
            parts.append((other, bound, cond))
        if len(parts) < 2:
            return x
        held = np.array([cond for _, _, cond in parts])
        several = held.sum(axis=0) >= 2
        if not several.any():
            return x
        priority = np.array([-1 if other in self.fixed_ else rank.get(other, len(rank))
                             for other, _, _ in parts], dtype=float)
        anchor = np.argmin(np.where(held, priority[:, None], np.inf), axis=0)
        value = np.choose(anchor, [bound for _, bound, _ in parts])
        x = np.where(several, value, x)
        for j, (other, bound, cond) in enumerate(parts):
            rows = several & cond & (anchor != j)
            if other in self.fixed_ or not rows.any():
                continue
            moved = np.where(rows, value, bound)
            out[other] = np.where(rows & self._admits(other, moved, out), moved, out[other])
        return x

    def _equal_rows(self, i: int, name: str, values: Any
                    ) -> tuple[str, np.ndarray, np.ndarray]:
        """Conditional equality ``i`` seen from ``name``: its partner column, the partner's
        values in ``values`` (a frame, or arrays by column) and the rows where it sets ``name``
        to them (its condition holds and the partner is observed)."""
        rule = self.rules_[i]
        assert isinstance(rule, ConditionalEqual)
        other = rule.equals if rule.column == name else rule.column
        bound = floats(pd.Series(values[other]))
        return other, bound, rule.matches(pd.Series(values[rule.when])) & ~np.isnan(bound)

    def _admits(self, name: str, x: np.ndarray, out: dict[str, np.ndarray]) -> np.ndarray:
        """Rows where ``x`` lies inside ``name``'s range and the fence its bounds give."""
        lo, hi = self.bounds_[name]
        ok = np.ones(len(x), dtype=bool)
        if lo is not None:
            ok &= x >= lo
        if hi is not None:
            ok &= x <= hi
        fence = self.fences_.get(name)
        return ok if fence is None else ok & ~outside(x, envelope(fence, out))

    def _round(self, name: str, x: np.ndarray, frame: pd.DataFrame, rng: np.random.Generator,
               lo: float | None, hi: float | None) -> np.ndarray:
        """``x`` rounded to the column's recorded step, or to its mix of steps
        (:func:`round_mixed`), then written as the column is stored."""
        mix = self.mixes_.get(name)
        x = round_to(x, self.steps_.get(name, 0.0)) if mix is None else \
            round_mixed(x, mix, _class_index(frame, self.input_schema_), rng, lo, hi)
        return self._stored(name, x, lo, hi)

    def _plan(self, real: pd.DataFrame) -> None:
        schema = self.input_schema_
        post: list[tuple[str, int]] = []  # ("derive"|"missing", rule index), in order
        deps: dict[str, set[str]] = {}
        derived: set[str] = set()
        how: dict[int, str] = {}
        for i, rule in enumerate(self.rules_):
            if isinstance(rule, DERIVING) and rule.column not in derived \
                    and rule.column != schema.target \
                    and not has_path(deps, set(rule.columns[:-1]), rule.column):
                deps[rule.column] = set(rule.columns[:-1])
                derived.add(rule.column)
                post.append(("derive", i))
                how[i] = "derived from its inputs after sampling"
        blanked: dict[str, int] = {}
        for i, rule in enumerate(self.rules_):
            if isinstance(rule, ConditionalMissing) and rule.column not in derived \
                    and rule.column not in blanked and rule.column != schema.target \
                    and not has_path(deps, {rule.when}, rule.column):
                deps[rule.column] = {rule.when}
                blanked[rule.column] = i
                post.append(("missing", i))
                how[i] = "missing cells re-imposed after sampling"
        self.post_ = topological(post, self.rules_, deps)
        self.pools_ = {}
        for col in blanked:
            observed = real[col].dropna()
            take = np.unique(np.linspace(0, len(observed) - 1,
                                         num=min(POOL_SIZE, len(observed))).astype(int))
            self.pools_[col] = [jsonable(v) for v in observed.iloc[take]]
        filled = self._fill(real)
        self.fences_: dict[str, dict[str, Any]] = {}
        fenced: dict[int, str] = {}
        for i in self._inequalities(filled, derived):
            rule = self.rules_[i]
            assert isinstance(rule, InequalityRule)
            a, b = rule.left, rule.right
            child, parent, side = (a, b, "upper") if b in self.fixed_ else (b, a, "lower")
            if has_path(fence_links(self.fences_), {parent}, child):
                continue  # a fence column never depends on its column
            x = _num(filled, child)
            if np.isnan(x).all():
                continue
            fence = self.fences_.get(child)
            if fence is None:  # the tightest rule of the column: its primary column
                fence = {**new_fence(), "fill": [float(np.nanmin(x)), float(np.nanmax(x))],
                         "primary": parent,
                         "mode": choose_mode(x, _num(filled, parent), side)}
                self.fences_[child] = fence
            fence[side].append(parent)
            if rule.strict:
                fence["strict"].append(parent)
            fenced[i] = child
        values = {c: _num(filled, c) for ps in fence_links(self.fences_).values() for c in ps}
        for child, fence in self.fences_.items():
            if fence["mode"] in ("gap", "below"):
                gaps = encode(_num(filled, child), primary(fence, values), fence)
                positive = gaps[gaps > 0]
                fence["min_gap"] = float(positive.min()) if positive.size else 0.0
        for i, child in fenced.items():
            how[i] = _fence_how(self.fences_[child])
        self.equals_: dict[str, list[int]] = {}
        links = fence_links(self.fences_)
        for i, rule in enumerate(self.rules_):
            if not isinstance(rule, ConditionalEqual) or rule.when in derived:
                continue
            for child, parent in ((rule.column, rule.equals), (rule.equals, rule.column)):
                if parent in links.get(child, ()):
                    self.equals_.setdefault(child, []).append(i)
                    how[i] = f"'{child}' set to '{parent}' where the condition holds"
                    break
        self.order_ = forest_order(
            [c.name for c in schema.columns if c.is_numeric and c.name not in derived],
            links)
        self.bounds_: dict[str, list[float | None]] = {}
        for c in schema.columns:
            if c.is_numeric and c.name not in derived:
                self.bounds_[c.name] = [c.min, c.max]
        for i, rule in enumerate(self.rules_):
            if isinstance(rule, RangeRule) and rule.column in self.bounds_:
                lo, hi = self.bounds_[rule.column]
                if rule.min is not None:
                    lo = rule.min if lo is None else max(lo, rule.min)
                if rule.max is not None:
                    hi = rule.max if hi is None else min(hi, rule.max)
                self.bounds_[rule.column] = [lo, hi]
                how[i] = "clipped"
        self.how_ = {i: how.get(i, "checked; rows breaking it are redrawn")
                     for i in range(len(self.rules_))}

    def _inequalities(self, filled: pd.DataFrame, derived: set[str]) -> list[int]:
        """The inequality rules between non-derived columns, tightest first (smallest spread of
        the difference against the larger column's)."""
        candidates = []
        for i, rule in enumerate(self.rules_):
            if not isinstance(rule, InequalityRule) or rule.left in derived \
                    or rule.right in derived:
                continue
            a, b = _num(filled, rule.left), _num(filled, rule.right)
            spread = np.nanstd(b)
            tight = float(np.nanstd(b - a) / spread) if spread > 0 else np.inf
            candidates.append((tight, i))
        return [i for _, i in sorted(candidates)]

    def _model_schema(self, real: pd.DataFrame) -> TableSchema:
        model = self._transform(real, [c.name for c in self.input_schema_.columns
                                       if c.name not in self._derived()])
        columns = []
        for col in self.input_schema_.columns:
            if col.name not in model.columns:
                continue
            series = model[col.name]
            new = replace(col, missing_rate=float(series.isna().mean()), precision=None)
            fence = self.fences_.get(col.name)
            if fence is not None and fence["mode"] in ("gap", "below"):
                values = series.dropna().to_numpy(dtype=float)
                integral = col.kind == "integer" and \
                    self.input_schema_[fence["primary"]].kind == "integer"
                new = replace(new, kind="integer" if integral else "continuous",
                              dtype="float64", min=float(values.min()), max=float(values.max()))
            elif fence is not None and fence["mode"] == "share":
                new = replace(new, kind="continuous", dtype="float64", min=0.0, max=1.0)
            columns.append(new)
        kept = {c.name for c in columns} - {c for c, f in self.fences_.items()
                                             if f["mode"] != "raw"}
        pairs = [p for p in self.input_schema_.survival or []
                 if p["time"] in kept and p["event"] in kept]
        return TableSchema(columns=columns, target=self.input_schema_.target,
                           survival=pairs or None, k=self.input_schema_.k)

    # -- transform ----------------------------------------------------------------------------
    def _fill(self, frame: pd.DataFrame) -> pd.DataFrame:
        """Fill the cells that conditional-missing rules blank, with a fixed seeded draw."""
        out = frame.copy()
        for kind, i in self.post_:
            if kind != "missing":
                continue
            rule = self.rules_[i]
            assert isinstance(rule, ConditionalMissing)
            if not rule.exact:  # other gaps stay for the encoder, which keeps the missing rate
                continue
            holes = rule.condition(frame) & frame[rule.column].isna().to_numpy()
            if holes.any():
                pool = np.array(self.pools_[rule.column], dtype=object)
                rng = np.random.default_rng(_FILL_SEED + i)
                column = out[rule.column].astype(object)
                column[holes] = pool[rng.integers(len(pool), size=int(holes.sum()))]
                out[rule.column] = restore_dtype(column, self.input_schema_[rule.column])
        return out

    def transform_table(self, frame: pd.DataFrame) -> pd.DataFrame:
        self._check_fitted()
        return self._transform(frame, self.model_schema_.names)

    def _transform(self, frame: pd.DataFrame, names: list[str]) -> pd.DataFrame:
        filled = self._fill(frame)
        out = filled.copy()
        links = fence_links(self.fences_)
        values = {c: _num(filled, c) for c in {*links, *(c for cs in links.values() for c in cs)}}
        for name, fence in self.fences_.items():
            out[name] = encode(values[name], primary(fence, values), fence)
            if self.equals_.get(name):
                out[name] = self._undetermined(name, out[name].to_numpy(dtype=float), filled)
        return out[names]

    def _undetermined(self, name: str, z: np.ndarray, frame: pd.DataFrame) -> np.ndarray:
        """The encoded ``name`` with the rows its conditional equalities determine (decoding
        sets them to the partner) refilled by a fixed seeded draw of its other rows' encoded
        values: the generators learn the free rows' distribution, not an atom at the partner
        (a share of 1 on every row without the event) that they would smear over the free
        rows, where values past the fence pile up on it."""
        fixed = np.zeros(len(z), dtype=bool)
        for i in self.equals_[name]:
            fixed |= self._equal_rows(i, name, frame)[2]
        free = z[~fixed & np.isfinite(z)]
        if not fixed.any() or len(free) < MIN_FREE_ROWS:
            return z
        rng = np.random.default_rng([_FILL_SEED, self.equals_[name][0]])
        return np.where(fixed & np.isfinite(z), rng.choice(free, size=len(z)), z)

    def _derived(self) -> set[str]:
        return {self.rules_[i].column for k, i in self.post_  # type: ignore[attr-defined]
                if k == "derive"}

    def inverse_table(self, frame: pd.DataFrame, rng: np.random.Generator) -> pd.DataFrame:
        self._check_fitted()
        schema = self.input_schema_
        out = {name: frame[name].to_numpy() for name in frame.columns}
        for name in self.order_:
            x = _num(frame, name)
            fence = self.fences_.get(name)
            if fence is not None:
                bounds = envelope(fence, out)
                x = decode(x, primary(fence, out), fence)
            lo, hi = self.bounds_[name]
            x = np.clip(x, -np.inf if lo is None else lo, np.inf if hi is None else hi)
            x = self._round(name, x, frame, rng, lo, hi)
            if fence is not None:  # rounding never moves it out of its fence
                step = self.steps_.get(name, 0.0) or (
                    1.0 if schema[name].kind == "integer" else 0.0)  # stays integer
                x = fence_rounded(x, bounds, step, fence["min_gap"])
            if self.equals_.get(name):
                x = self._equalised(name, x, out)
            out[name] = x
        table = pd.DataFrame({n: pd.Series(v) for n, v in out.items()})
        for kind, i in self.post_:
            rule = self.rules_[i]
            if kind == "missing":
                assert isinstance(rule, ConditionalMissing)
                column = table[rule.column].astype(object)
                column[rule.condition(table)] = np.nan
                table[rule.column] = column
            elif isinstance(rule, FormulaRule):
                table[rule.column] = self._stored(rule.column, round_to(
                    rule.compute(table), self.steps_.get(rule.column, 0.0)))
            elif isinstance(rule, BinningRule):
                table[rule.column] = pd.Series(rule.compute(table), dtype=object)
            elif isinstance(rule, MappingRule):
                table[rule.column] = pd.Series(rule.compute(table)[0], dtype=object)
        columns = {}
        for col in schema.columns:
            series = table[col.name].reset_index(drop=True)
            if series.dtype == object:
                series = series.where(series.notna(), np.nan)
            columns[col.name] = restore_dtype(series, col)
        return pd.DataFrame(columns)

    def violations(self, frame: pd.DataFrame) -> np.ndarray:
        """Rows of a record-view table that break one of the rules."""
        self._check_fitted()
        bad = np.zeros(len(frame), dtype=bool)
        for rule in self.rules_:
            bad |= rule.violated(frame)
        return bad

    def check(self, frame: pd.DataFrame) -> Verdict:
        bad = self.violations(frame)
        return Verdict(bad, np.full(int(bad.sum()), "rule", dtype=object))

    def new_report(self) -> RulesReport:
        return RulesReport()

    def violation_counts(self, frame: pd.DataFrame) -> dict[str, int]:
        """Rows of ``frame`` breaking each rule (for reports and benchmarks)."""
        return {r.describe(): int(r.violated(frame).sum()) for r in self.rules_}

    def report(self) -> dict[str, Any]:
        self._check_fitted()
        return {
            "rules": [{"rule": r.describe(), "source": r.source, "support": r.support,
                       "holds_on_training": round(self.held_[i], 4), "enforced": self.how_[i]}
                      for i, r in enumerate(self.rules_)],
            "precision": self.steps_,
            "storage": {name: describe_storage(s) for name, s in self.storages_.items()},
            "discovery": self._discovery_dict(),
        }

    def _discovery_dict(self) -> dict[str, Any] | None:
        if self.discovery_ is not None:
            return self.discovery_.to_dict()
        return getattr(self, "_saved_discovery", None)

    # -- persistence --------------------------------------------------------------------------
    def get_state(self) -> tuple[dict[str, Any], Arrays]:
        self._check_fitted()
        meta = {
            "discover": self.discover, "precision": self.precision, "fixed": self.fixed_,
            "input_schema": self.input_schema_.to_dict(),
            "model_schema": self.model_schema_.to_dict(),
            "rules": [r.to_dict() for r in self.rules_], "steps": self.steps_,
            "held": self.held_, "post": [list(p) for p in self.post_], "pools": self.pools_,
            "fences": self.fences_, "order": self.order_, "equals": self.equals_,
            "mixes": self.mixes_, "storages": self.storages_,
            "bounds": self.bounds_,
            "how": {str(k): v for k, v in self.how_.items()},
            "discovery": self._discovery_dict(),
        }
        return copy.deepcopy(meta), {}

    @classmethod
    def from_state(cls, meta: dict[str, Any], arrays: Arrays) -> RulesStep:
        step = cls(discover=bool(meta["discover"]), precision=bool(meta["precision"]))
        step.fixed_ = list(meta["fixed"])
        step.input_schema_ = TableSchema.from_dict(meta["input_schema"])
        step.model_schema_ = TableSchema.from_dict(meta["model_schema"])
        step.rules_ = parse_rules(meta["rules"], step.input_schema_)
        step.steps_ = {k: float(v) for k, v in meta["steps"].items()}
        step.storages_ = meta.get("storages", {})  # models saved before storage: none
        step.schema_ = _annotated(step.input_schema_, step.rules_, step.steps_, step.storages_)
        step.held_ = [float(v) for v in meta["held"]]
        step.post_ = [(str(k), int(i)) for k, i in meta["post"]]
        step.pools_ = meta["pools"]
        step.fences_ = meta["fences"] if "fences" in meta else _old_fences(meta)
        step.mixes_ = meta["mixes"]
        step.order_ = list(meta["order"])
        step.equals_ = meta.get("equals", {})  # models saved before conditional equality: none
        step.bounds_ = meta["bounds"]
        step.how_ = {int(k): v for k, v in meta["how"].items()}
        step.discovery_ = None
        step._saved_discovery = meta["discovery"]
        return step


# -- helpers ----------------------------------------------------------------------------------
def _fence_how(fence: dict[str, Any]) -> str:
    """How the rules step enforces a rule of this fence, in words."""
    first = fence["primary"] if fence["mode"] != "raw" else None
    low = [c for c in fence["lower"] if c != first]
    high = [c for c in fence["upper"] if c != first]
    model = {"gap": f"modelled as a non-negative gap above {first}",
             "below": f"modelled as a non-negative gap below {first}",
             "share": f"modelled as a share of {first} (in [0, 1])",
             "raw": "modelled as it is"}[fence["mode"]]
    bounds = ([f"at least {low[0] if len(low) == 1 else 'max(' + ', '.join(low) + ')'}"]
              if low else [])
    bounds += ([f"at most {high[0] if len(high) == 1 else 'min(' + ', '.join(high) + ')'}"]
               if high else [])
    return model + (f", then moved to {' and '.join(bounds)}" if bounds else "")


def _old_fences(meta: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Fences from a model saved with one gap or share per column."""
    fences = {}
    for name, gap in meta.get("gaps", {}).items():
        fences[name] = {**new_fence(), "lower": [gap["parent"]],
                        "strict": [gap["parent"]] if gap["strict"] else [],
                        "min_gap": gap["min_gap"], "primary": gap["parent"], "mode": "gap"}
    for name, share in meta.get("shares", {}).items():
        fences[name] = {**new_fence(), "upper": [share["parent"]],
                        "strict": [share["parent"]] if share["strict"] else [],
                        "primary": share["parent"], "mode": "share"}
    return fences


def _class_index(frame: pd.DataFrame, schema: TableSchema) -> np.ndarray:
    """Each row's class as its position among the target's categories (-1: none or unknown)."""
    if schema.target is None or schema.target not in frame.columns:
        return np.full(len(frame), -1)
    cats = list(schema[schema.target].categories or [])
    codes = category_codes(frame[schema.target], cats)
    return np.where(codes == len(cats), -1, codes)


def _num(frame: pd.DataFrame, name: str) -> np.ndarray:
    return floats(frame[name])


def _annotated(schema: TableSchema, rules: list[Rule], steps: dict[str, float],
               storages: dict[str, dict[str, Any]] | None = None) -> TableSchema:
    """The user's schema with its rules, learned precisions and storages written in (to save
    and edit; a storage without the printed forms of its values)."""
    kept = {name: {k: s[k] for k in ("decimals", "bits", "mode")}
            for name, s in (storages or {}).items()}
    columns = [replace(c, precision=steps.get(c.name, c.precision),
                       storage=kept.get(c.name, c.storage)) if c.is_numeric else
               replace(c) for c in schema.columns]
    return replace(schema, columns=columns, rules=[r.to_dict() for r in rules])


def check_rules_hold(step: RulesStep, frame: pd.DataFrame) -> None:
    """Raise naming the first rule ``frame`` breaks (for tests and scripts)."""
    for rule in step.rules_:
        bad = rule.violated(frame)
        if bad.any():
            raise ClinisynthError(f"{int(bad.sum())} rows break {rule.describe()}")

