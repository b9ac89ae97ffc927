"""Conditions on any column: ``age>=65``, ``diabetes=yes``, ``sex in F,M``, ``40<=age<=65``.

Grammar (one condition per string; a column name may hold dots and spaces):

    column = value | column == value | column != value        equality / inequality
    column in v1,v2,...  |  column not in v1,v2,...            set membership
    column < x | <= x | > x | >= x                             one-sided range (numeric)
    a < column < b  (each side < or <=)                        two-sided range (numeric)

Values are matched against the schema: a category by its text (``1`` matches ``1``, ``1.0`` and
``"1"``; ``true`` matches ``True``), a number as a float. A condition is rejected with a one-line
:class:`~clinisynth.errors.ClinisynthError` naming it when its column is unknown, a value is not
a category, a range or value lies outside the column's observed ``[min, max]`` (or holds no whole
number for an integer column), or the conditions on one column together leave no value. A
missing cell satisfies no condition.

Sampling: :func:`draw_conditioned` turns any per-class sampler ``draw(counts, rng) -> frame``
into exactly ``n`` rows that satisfy every condition, by bounded rejection: each round asks
every class for ``need / acceptance`` rows (acceptance estimated per class from all rows drawn
so far, the first round being the pilot), at most ``max_rounds`` rounds, and raises a one-line
error with the achieved acceptance rate when a condition is too rare for the model (never a
silent shortfall). Numeric ranges on modelled columns are met by rejection too; conditioning by
construction (e.g. sampling the column from its truncated conditional) is left for later.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any, Protocol

import numpy as np
import pandas as pd

from clinisynth.errors import ClinisynthError
from clinisynth.schema import ColumnSchema, TableSchema, category_key, to_native
from clinisynth.values import apportion

#: rounds of rejection sampling before a condition is declared too rare
MAX_ROUNDS = 8
#: most rows one round may ask per row still needed
MAX_FACTOR = 1000

_RANGE2 = re.compile(r"^\s*(?P<lo>[^<>=!]+?)\s*(?P<op1><=?)\s*(?P<col>[^<>=!]+?)\s*"
                     r"(?P<op2><=?)\s*(?P<hi>[^<>=!]+?)\s*$")
_MEMBER = re.compile(r"^\s*(?P<col>.+?)\s+(?P<neg>not\s+)?in\s+(?P<vals>.+?)\s*$", re.I)
_COMPARE = re.compile(r"^\s*(?P<col>[^<>=!]+?)\s*(?P<op>>=|<=|==|!=|=|<|>)\s*(?P<val>.*?)\s*$")


@dataclass(frozen=True)
class Condition:
    """One parsed condition.

    ``kind`` is ``"in"`` (value in ``values``), ``"not_in"`` or ``"range"`` (``low``/``high``
    bounds, ``None`` = open, with inclusivity flags). ``values`` are category values for
    discrete columns and floats for numeric ones.
    """

    text: str
    column: str
    kind: str
    values: tuple[Any, ...] = ()
    low: float | None = None
    high: float | None = None
    low_inclusive: bool = True
    high_inclusive: bool = True

    def mask(self, frame: pd.DataFrame) -> np.ndarray:
        """Boolean array: the rows of ``frame`` that satisfy this condition."""
        if self.column not in frame.columns:
            raise ClinisynthError(f"condition '{self.text}': column '{self.column}' is not in "
                                  "the table")
        series = frame[self.column]
        present = series.notna().to_numpy()
        if self.kind == "range":
            x = pd.to_numeric(series, errors="coerce").to_numpy(dtype=float)
            ok = np.isfinite(x)
            if self.low is not None:
                ok &= (x >= self.low) if self.low_inclusive else (x > self.low)
            if self.high is not None:
                ok &= (x <= self.high) if self.high_inclusive else (x < self.high)
            return ok
        keys = {category_key(v) for v in self.values}
        inside = np.array([category_key(v) in keys if p else False
                           for v, p in zip(series, present, strict=True)], dtype=bool)
        return inside if self.kind == "in" else present & ~inside


@dataclass(frozen=True)
class ConditionSet:
    """Conditions that must all hold; parse with :func:`parse_conditions`."""

    conditions: tuple[Condition, ...]

    def mask(self, frame: pd.DataFrame) -> np.ndarray:
        out = np.ones(len(frame), dtype=bool)
        for cond in self.conditions:
            out &= cond.mask(frame)
        return out

    def __bool__(self) -> bool:
        return bool(self.conditions)

    @property
    def text(self) -> str:
        return " and ".join(f"'{c.text}'" for c in self.conditions)

    def to_json(self) -> str:
        return json.dumps([{**asdict(c), "values": [to_native(v) for v in c.values]}
                           for c in self.conditions])

    @classmethod
    def from_json(cls, text: str, schema: TableSchema | None = None) -> ConditionSet:
        """Rebuild from :meth:`to_json`; re-checked against ``schema`` when given."""
        try:
            items = json.loads(text)
            conds = tuple(Condition(**{**d, "values": tuple(d.get("values", ()))})
                          for d in items)
        except (json.JSONDecodeError, TypeError) as exc:
            raise ClinisynthError(f"conditions are not valid JSON: {exc}") from None
        out = cls(conds)
        if schema is not None:
            for cond in conds:
                if cond.column not in schema.names:
                    raise ClinisynthError(f"condition '{cond.text}': unknown column "
                                          f"'{cond.column}'")
            _check_feasible(out, schema)
        return out


def parse_conditions(texts: Iterable[str | Condition] | ConditionSet | None,
                     schema: TableSchema) -> ConditionSet:
    """Parse and check condition strings against ``schema`` (see the module doc)."""
    if texts is None:
        return ConditionSet(())
    if isinstance(texts, ConditionSet):
        conds = texts.conditions
    else:
        if isinstance(texts, str):
            texts = [texts]
        conds = tuple(t if isinstance(t, Condition) else parse_condition(t, schema)
                      for t in texts)
    out = ConditionSet(conds)
    _check_feasible(out, schema)
    return out


def parse_condition(text: str, schema: TableSchema) -> Condition:
    """One condition string -> :class:`Condition`, checked against the column's values."""
    if not isinstance(text, str) or not text.strip():
        raise ClinisynthError(f"condition {text!r}: empty")
    text = text.strip()
    match = _MEMBER.match(text)
    if match and match["col"].strip() in schema.names:
        col = schema[match["col"].strip()]
        values = tuple(_value(text, col, v) for v in _split(match["vals"]))
        return Condition(text, col.name, "not_in" if match["neg"] else "in", values)
    match = _RANGE2.match(text)
    if match:
        col = _column(text, match["col"], schema, numeric=True)
        low, high = _number(text, col, match["lo"]), _number(text, col, match["hi"])
        return _range(text, col, low, high, match["op1"] == "<=", match["op2"] == "<=")
    match = _COMPARE.match(text)
    if not match:
        raise ClinisynthError(f"condition '{text}': not understood; write e.g. 'age>=65', "
                              "'sex=F', 'stage in 3,4' or '40<=age<=65'")
    op, raw = match["op"], match["val"]
    col = _column(text, match["col"], schema, numeric=op in ("<", "<=", ">", ">="))
    if op in ("=", "==", "!="):
        if not raw:
            raise ClinisynthError(f"condition '{text}': no value after '{op}'")
        return Condition(text, col.name, "not_in" if op == "!=" else "in",
                         (_value(text, col, raw),))
    x = _number(text, col, raw)
    if op in ("<", "<="):
        return _range(text, col, None, x, True, op == "<=")
    return _range(text, col, x, None, op == ">=", True)


# -- parsing helpers ---------------------------------------------------------------------------
def _split(values: str) -> list[str]:
    parts = [p.strip() for p in values.split(",")]
    return [p for p in parts if p]


def _column(text: str, name: str, schema: TableSchema, numeric: bool) -> ColumnSchema:
    name = name.strip()
    if name not in schema.names:
        raise ClinisynthError(f"condition '{text}': unknown column '{name}'; columns are: "
                              f"{', '.join(schema.names)}")
    col = schema[name]
    if numeric and not col.is_numeric:
        raise ClinisynthError(f"condition '{text}': column '{name}' is {col.kind}; ranges need "
                              "a numeric column (use '=' or 'in')")
    return col


def _number(text: str, col: ColumnSchema, raw: str) -> float:
    try:
        value = float(raw.strip())
    except ValueError:
        raise ClinisynthError(f"condition '{text}': {raw.strip()!r} is not a number") from None
    if not math.isfinite(value):
        raise ClinisynthError(f"condition '{text}': {raw.strip()!r} is not a finite number")
    return value


def _value(text: str, col: ColumnSchema, raw: str) -> Any:
    """A category of ``col`` matching ``raw``, or a float for a numeric column."""
    raw = raw.strip().strip("'\"")
    if col.is_numeric:
        value = _number(text, col, raw)
        assert col.min is not None and col.max is not None
        if not col.min <= value <= col.max:
            raise ClinisynthError(f"condition '{text}': {raw} is outside column '{col.name}''s "
                                  f"observed range [{col.min:g}, {col.max:g}]")
        if col.kind == "integer" and not value.is_integer():
            raise ClinisynthError(f"condition '{text}': column '{col.name}' holds whole "
                                  f"numbers, not {raw}")
        return value
    for cat in col.categories or []:
        if _same(raw, cat):
            return cat
    shown = ", ".join(str(c) for c in (col.categories or [])[:12])
    raise ClinisynthError(f"condition '{text}': {raw!r} is not a category of '{col.name}' "
                          f"(categories: {shown})")


def _same(raw: str, cat: Any) -> bool:
    if isinstance(cat, bool):
        return raw.lower() in (("true", "1", "yes") if cat else ("false", "0", "no"))
    if isinstance(cat, int | float):
        try:
            return float(raw) == float(cat)
        except ValueError:
            return False
    return raw == str(cat)


def _range(text: str, col: ColumnSchema, low: float | None, high: float | None,
           low_inc: bool, high_inc: bool) -> Condition:
    cond = Condition(text, col.name, "range", (), low, high, low_inc, high_inc)
    if _empty_range(col, low, high, low_inc, high_inc):
        assert col.min is not None and col.max is not None
        raise ClinisynthError(f"condition '{text}': no value of '{col.name}' can satisfy it "
                              f"(observed range [{col.min:g}, {col.max:g}])")
    return cond


def _empty_range(col: ColumnSchema, low: float | None, high: float | None, low_inc: bool,
                 high_inc: bool) -> bool:
    """Does ``[low, high]`` (with its inclusivity) miss ``[min, max]``, or hold no integer?"""
    lo, hi = float(col.min), float(col.max)  # type: ignore[arg-type]
    lo_inc = hi_inc = True
    if low is not None and (low > lo or (low == lo and not low_inc)):
        lo, lo_inc = low, low_inc
    if high is not None and (high < hi or (high == hi and not high_inc)):
        hi, hi_inc = high, high_inc
    if col.kind == "integer":
        first = math.ceil(lo) if lo_inc else math.floor(lo) + 1
        last = math.floor(hi) if hi_inc else math.ceil(hi) - 1
        return first > last
    return lo > hi or (lo == hi and not (lo_inc and hi_inc))


def _check_feasible(conditions: ConditionSet, schema: TableSchema) -> None:
    """Reject conditions that together leave a column no value."""
    by_column: dict[str, list[Condition]] = {}
    for cond in conditions.conditions:
        by_column.setdefault(cond.column, []).append(cond)
    for name, conds in by_column.items():
        col = schema[name]
        names = " and ".join(f"'{c.text}'" for c in conds)
        if col.is_numeric:
            low, high, low_inc, high_inc = None, None, True, True
            allowed: set[float] | None = None
            banned: set[float] = set()
            for c in conds:
                if c.kind == "range":
                    if c.low is not None and (low is None or c.low > low
                                              or (c.low == low and not c.low_inclusive)):
                        low, low_inc = c.low, c.low_inclusive
                    if c.high is not None and (high is None or c.high < high
                                               or (c.high == high and not c.high_inclusive)):
                        high, high_inc = c.high, c.high_inclusive
                elif c.kind == "in":
                    vals = {float(v) for v in c.values}
                    allowed = vals if allowed is None else allowed & vals
                else:
                    banned |= {float(v) for v in c.values}
            empty = _empty_range(col, low, high, low_inc, high_inc)
            if allowed is not None:
                probe = Condition("", name, "range", (), low, high, low_inc, high_inc)
                kept = [v for v in allowed - banned
                        if probe.mask(pd.DataFrame({name: [v]}))[0]]
                empty = empty or not kept
        else:
            keys = {category_key(c) for c in col.categories or []}
            for c in conds:
                vals = {category_key(v) for v in c.values}
                keys = keys & vals if c.kind == "in" else keys - vals
            empty = not keys
        if empty:
            raise ClinisynthError(f"conditions {names} on column '{name}' leave no possible "
                                  "value")


# -- sampling ----------------------------------------------------------------------------------
Draw = Callable[[dict[Any, int], np.random.Generator], pd.DataFrame]


def draw_conditioned(draw: Draw, counts: Mapping[Any, int], conditions: ConditionSet,
                     target: str, rng: np.random.Generator, max_rounds: int = MAX_ROUNDS,
                     max_factor: int = MAX_FACTOR) -> pd.DataFrame:
    """Exactly ``counts[label]`` rows of each class that satisfy ``conditions``.

    ``draw(counts, rng)`` returns a frame with ``counts[label]`` rows of each class (column
    ``target``). Each round asks class ``k`` for ``(need_k + 3·sqrt(need_k) + 2) / â_k`` rows
    (enough that a shortfall is about a 3-sigma event), with ``â_k = (accepted_k + 1) /
    (drawn_k + 2)`` over every earlier round (the first is the pilot, at acceptance 1/2), capped
    at ``max_factor · need_k``. Raises a one-line error naming the
    conditions and the acceptance rate if rows are still missing after ``max_rounds`` rounds.
    The result's rows are shuffled with ``rng``.
    """
    need = {label: int(c) for label, c in counts.items() if int(c) > 0}
    drawn = dict.fromkeys(need, 0)
    accepted = dict.fromkeys(need, 0)
    parts: list[pd.DataFrame] = []
    for _ in range(max_rounds):
        if not any(need.values()):
            break
        ask = {}
        for label, k in need.items():
            if k:
                rate = (accepted[label] + 1) / (drawn[label] + 2)
                ask[label] = min(math.ceil((k + 3 * math.sqrt(k) + 2) / rate), max_factor * k)
        frame = draw(ask, rng).reset_index(drop=True)
        ok = conditions.mask(frame)
        labels = frame[target].map(category_key)
        for label, asked in ask.items():
            rows = labels == category_key(label)
            drawn[label] += asked
            hits = frame[rows.to_numpy() & ok]
            accepted[label] += len(hits)
            take = hits.iloc[: need[label]]
            need[label] -= len(take)
            parts.append(take)
    missing = sum(need.values())
    if missing:
        total_drawn, total_ok = sum(drawn.values()), sum(accepted.values())
        raise ClinisynthError(
            f"condition {conditions.text} is too rare for the model: {total_ok} of "
            f"{total_drawn} drawn rows satisfied it (acceptance {total_ok / total_drawn:.3%}) "
            f"after {max_rounds} rounds; {missing} of {sum(int(c) for c in counts.values())} "
            "rows are missing")
    out = pd.concat(parts, ignore_index=True) if parts else draw({}, rng).iloc[:0]
    return out.iloc[rng.permutation(len(out))].reset_index(drop=True)


class Sampler(Protocol):
    """A fitted synthesizer as :func:`sample_conditioned` uses it (a
    :class:`~clinisynth.synthesizer.HybridSynthesizer` is one)."""

    schema_: TableSchema
    class_counts_: np.ndarray

    def sample(self, n: int, class_counts: Mapping[Any, int] | None = None,
               seed: int | None = None) -> pd.DataFrame: ...


def sample_conditioned(syn: Sampler, n: int,
                       conditions: Sequence[str | Condition] | ConditionSet,
                       class_counts: Mapping[Any, int] | None = None, seed: int = 0,
                       max_rounds: int = MAX_ROUNDS) -> pd.DataFrame:
    """``n`` rows of a fitted synthesizer that satisfy every condition, through its public
    ``sample`` (see :func:`draw_conditioned`).

    ``class_counts`` as in ``sample``; by default ``n`` is split by the training class shares
    among the classes the conditions allow. A class that the conditions exclude cannot be asked.
    """
    schema: TableSchema = syn.schema_
    conds = parse_conditions(conditions, schema)
    if isinstance(n, bool) or not isinstance(n, int | np.integer) or n < 1:
        raise ClinisynthError(f"number of rows must be a positive integer, got {n!r}")
    target = schema.target
    on_target = ConditionSet(tuple(c for c in conds.conditions if c.column == target))
    allowed = [c for c in schema.classes if on_target.mask(pd.DataFrame({target: [c]}))[0]]
    if class_counts is None:
        shares = np.array([float(syn.class_counts_[schema.classes.index(c)]) for c in allowed])
        counts = dict(zip(allowed, apportion(int(n), shares).tolist(), strict=True))
    else:
        counts = dict(class_counts)
        if sum(int(v) for v in counts.values()) != n:
            raise ClinisynthError(f"class_counts sum to {sum(counts.values())} but {n} rows "
                                  "were asked")
        allowed_keys = {category_key(c) for c in allowed}
        for label, count in counts.items():
            if int(count) > 0 and category_key(label) not in allowed_keys:
                raise ClinisynthError(f"class_counts ask for class {label!r} but the "
                                      f"conditions {conds.text} exclude it")
    def draw(ask: dict[Any, int], rng: np.random.Generator) -> pd.DataFrame:
        total = sum(ask.values())
        if total == 0:
            return syn.sample(1).iloc[:0]
        return syn.sample(total, class_counts=ask, seed=int(rng.integers(2**31 - 1)))

    return draw_conditioned(draw, counts, conds, target, np.random.default_rng(seed),
                            max_rounds=max_rounds)
