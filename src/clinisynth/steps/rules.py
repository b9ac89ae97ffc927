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
* **inequalities** ``a <= b`` (``a < b``): ``b`` is replaced by the gap ``b - a`` and restored
  as ``b = a + max(gap, 0)`` (``max(gap, g)`` with ``g`` the smallest positive gap seen, when
  strict). Each column is rewritten at most once and the rewrites form a forest, chosen greedily
  tightest first (smallest ``std(b - a) / std(b)``); ``a`` must be fully observed;
* **ranges**: values clipped to the schema's observed range and every declared range;
* **precision**: every numeric column rounded to its step, parents before children, and a child
  that rounding pushed below its parent set to its parent rounded up to the child's step (so
  rounding never breaks an inequality); derived columns are computed from rounded inputs and
  rounded to their own step (a formula holds within half a step).

Every rule (including those enforced by construction) is checked by :meth:`violations`; the
forbidden combinations, inequalities left out of the forest, unseen inputs of a mapping and
declared rules the real data break are the ones that can fire, and the synthesizer redraws those
rows a bounded number of times and reports what is left.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, replace
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from clinisynth.encoding import restore_dtype
from clinisynth.errors import ClinisynthError
from clinisynth.rules.discovery import discover_rules, learn_precisions
from clinisynth.rules.mixed_precision import learn_mix, round_mixed
from clinisynth.rules.options import Discovery, DiscoveryOptions
from clinisynth.rules.plan import ancestor, forest_order, has_path, topological
from clinisynth.rules.precision import ceil_to, floor_to, round_to
from clinisynth.schema import TableSchema, primary_pair
from clinisynth.schema.rules import (
    DERIVING,
    BinningRule,
    ConditionalMissing,
    FormulaRule,
    InequalityRule,
    MappingRule,
    RangeRule,
    Rule,
    jsonable,
    parse_rules,
)
from clinisynth.steps.base import Arrays, TableStep, Verdict
from clinisynth.values import category_codes

#: observed values kept per column to fill the cells a conditional-missing rule blanks
POOL_SIZE = 64
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
    the inner column as a share of it in ``[0, 1]``.
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
    def fit_table(self, real: pd.DataFrame, schema: TableSchema) -> RulesStep:
        pair = primary_pair(schema)
        self.fixed_ = [pair["time"]] if pair is not None else []
        steps = learn_precisions(real, schema) if self.precision else {}
        self.discovery_: Discovery | None = None
        if schema.rules is not None:
            rules = parse_rules(schema.rules, schema)
        elif self.discover:
            self.discovery_ = discover_rules(real[schema.names], schema, self.options, steps)
            rules = list(self.discovery_.rules)
        else:
            rules = []
        for rule in rules:
            if isinstance(rule, FormulaRule):
                rule.tolerance = max(rule.tolerance, steps.get(rule.column, 0.0) / 2.0)
        self.rules_ = rules
        self.steps_ = steps
        self.input_schema_ = schema
        self.schema_ = _annotated(schema, rules, steps)
        self.held_ = [float(1.0 - r.violated(real).mean()) for r in rules]
        self.mixes_ = self._mixes(real) if self.precision else {}
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

    def _round(self, name: str, x: np.ndarray, frame: pd.DataFrame, rng: np.random.Generator,
               lo: float | None, hi: float | None) -> np.ndarray:
        """``x`` rounded to the column's recorded step, or to its mix of steps
        (:func:`round_mixed`)."""
        mix = self.mixes_.get(name)
        if mix is None:
            return round_to(x, self.steps_.get(name, 0.0))
        return round_mixed(x, mix, _class_index(frame, self.input_schema_), rng, lo, hi)

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
        self.gaps_: dict[str, dict[str, Any]] = {}
        self.shares_: dict[str, dict[str, Any]] = {}
        parents: dict[str, str] = {}
        for i in self._inequalities(filled, derived):
            rule = self.rules_[i]
            assert isinstance(rule, InequalityRule)
            a, b = rule.left, rule.right
            child, parent = (a, b) if b in self.fixed_ else (b, a)
            if child in parents or child in self.fixed_ or ancestor(parents, parent, child):
                continue
            if child == a and not (np.nanmin(_num(filled, a)) >= 0
                                   and not np.isnan(_num(filled, b)).any()):
                continue  # a share of the fixed column needs a >= 0 and b always present
            if child == b and np.isnan(_num(filled, a)).any():
                continue  # a gap needs its parent on every row
            parents[child] = parent
            if child == a:
                self.shares_[a] = {"parent": b, "strict": rule.strict}
                how[i] = f"modelled as a share of {b} (in [0, 1])"
            else:
                gaps = _num(filled, b) - _num(filled, a)
                positive = gaps[gaps > 0]
                self.gaps_[b] = {"parent": a, "strict": rule.strict,
                                 "min_gap": float(positive.min()) if positive.size else 0.0}
                how[i] = "modelled as a non-negative gap"
        self.order_ = forest_order(
            [c.name for c in schema.columns if c.is_numeric and c.name not in derived], parents)
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
            if col.name in self.gaps_:
                values = series.dropna().to_numpy(dtype=float)
                parent = self.input_schema_[self.gaps_[col.name]["parent"]]
                integral = col.kind == "integer" and parent.kind == "integer"
                new = replace(new, kind="integer" if integral else "continuous",
                              dtype="float64", min=float(values.min()), max=float(values.max()))
            elif col.name in self.shares_:
                new = replace(new, kind="continuous", dtype="float64", min=0.0, max=1.0)
            columns.append(new)
        kept = {c.name for c in columns} - set(self.gaps_) - set(self.shares_)
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
        for b, gap in self.gaps_.items():
            out[b] = _num(filled, b) - _num(filled, gap["parent"])
        for a, share in self.shares_.items():
            parent = _num(filled, share["parent"])
            with np.errstate(divide="ignore", invalid="ignore"):
                out[a] = np.where(parent > 0, _num(filled, a) / parent, 0.0)
            out.loc[filled[a].isna().to_numpy(), a] = np.nan
        return out[names]

    def _derived(self) -> set[str]:
        return {self.rules_[i].column for k, i in self.post_  # type: ignore[attr-defined]
                if k == "derive"}

    def inverse_table(self, frame: pd.DataFrame, rng: np.random.Generator) -> pd.DataFrame:
        self._check_fitted()
        schema = self.input_schema_
        out = {name: frame[name].to_numpy() for name in frame.columns}
        for name in self.order_:
            x = _num(frame, name)
            gap, share = self.gaps_.get(name), self.shares_.get(name)
            if gap is not None:
                parent = out[gap["parent"]]
                floor = gap["min_gap"] if gap["strict"] else 0.0
                x = parent + np.maximum(x, floor)
            elif share is not None:
                x = np.clip(x, 0.0, 1.0) * out[share["parent"]]
            lo, hi = self.bounds_[name]
            x = np.clip(x, -np.inf if lo is None else lo, np.inf if hi is None else hi)
            step = self.steps_.get(name, 0.0)
            x = self._round(name, x, frame, rng, lo, hi)
            if gap is not None:
                parent = out[gap["parent"]]
                if gap["strict"]:
                    low = (floor_to(parent, step) + step) if step else parent + gap["min_gap"]
                    x = np.where(x <= parent, low, x)
                else:
                    x = np.where(x < parent, ceil_to(parent, step), x)
            elif share is not None:  # rounding never lifts it above the column it is a share of
                parent = out[share["parent"]]
                top = floor_to(parent, step) if step else parent
                if share["strict"]:
                    top = top - step if step else np.nextafter(parent, -np.inf)
                x = np.where(x > top, top, x)
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
                table[rule.column] = round_to(rule.compute(table),
                                              self.steps_.get(rule.column, 0.0))
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
            "gaps": self.gaps_, "shares": self.shares_, "order": self.order_,
            "mixes": self.mixes_,
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
        step.schema_ = _annotated(step.input_schema_, step.rules_, step.steps_)
        step.held_ = [float(v) for v in meta["held"]]
        step.post_ = [(str(k), int(i)) for k, i in meta["post"]]
        step.pools_ = meta["pools"]
        step.gaps_ = meta["gaps"]
        step.shares_ = meta["shares"]
        step.mixes_ = meta["mixes"]
        step.order_ = list(meta["order"])
        step.bounds_ = meta["bounds"]
        step.how_ = {int(k): v for k, v in meta["how"].items()}
        step.discovery_ = None
        step._saved_discovery = meta["discovery"]
        return step


# -- helpers ----------------------------------------------------------------------------------
def _class_index(frame: pd.DataFrame, schema: TableSchema) -> np.ndarray:
    """Each row's class as its position among the target's categories (-1: none or unknown)."""
    if schema.target is None or schema.target not in frame.columns:
        return np.full(len(frame), -1)
    cats = list(schema[schema.target].categories or [])
    codes = category_codes(frame[schema.target], cats)
    return np.where(codes == len(cats), -1, codes)


def _num(frame: pd.DataFrame, name: str) -> np.ndarray:
    return pd.to_numeric(frame[name], errors="coerce").to_numpy(dtype=float)


def _annotated(schema: TableSchema, rules: list[Rule], steps: dict[str, float]) -> TableSchema:
    """The user's schema with its rules and learned precisions written in (to save and edit)."""
    columns = [replace(c, precision=steps.get(c.name, c.precision)) if c.is_numeric else
               replace(c) for c in schema.columns]
    return replace(schema, columns=columns, rules=[r.to_dict() for r in rules])


def check_rules_hold(step: RulesStep, frame: pd.DataFrame) -> None:
    """Raise naming the first rule ``frame`` breaks (for tests and scripts)."""
    for rule in step.rules_:
        bad = rule.violated(frame)
        if bad.any():
            raise ClinisynthError(f"{int(bad.sum())} rows break {rule.describe()}")

