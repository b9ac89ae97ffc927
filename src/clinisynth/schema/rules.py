"""Rule types: small dataclasses with a JSON form, each able to say which rows break it.

JSON forms (the ``"rules"`` list of a schema file; ``source`` and ``support`` are informative)::

    {"type": "range", "column": "npreg", "min": 0, "max": null}
    {"type": "inequality", "left": "mean radius", "op": "<=", "right": "worst radius"}
    {"type": "forbidden_combination", "values": {"sex": "M", "pregnant": "yes"}}
    {"type": "conditional_missing", "column": "chapter", "when": "death", "values": [0],
     "exact": true}
    {"type": "conditional_equal", "column": "rtime", "equals": "dtime", "when": "recur",
     "values": [0]}
    {"type": "formula", "column": "bmi", "expression": "weight / (height / 100) ** 2"}
    {"type": "binning", "column": "flc.grp", "expression": "kappa + lambda",
     "cuts": [1.751, 2.081], "labels": [1, 2, 3]}
    {"type": "mapping", "column": "stage_group", "inputs": ["stage"], "table": [[1, "early"]]}

Meaning: ``range`` min <= x <= max (either bound may be null); ``inequality`` left op right with
op ``<=`` or ``<``; ``forbidden_combination`` no row takes all the given values at once;
``conditional_missing`` ``column`` is missing whenever ``when`` takes one of ``values`` (JSON
null stands for "missing"), and with ``exact`` it is present otherwise; ``conditional_equal``
``column`` equals ``equals`` whenever ``when`` takes one of ``values`` (a recurrence time with
no recurrence is censored at the follow-up time); ``formula`` column =
expression, within the column's recorded precision; ``binning`` column = ``labels[i]`` where
``cuts[i-1] <= expression < cuts[i]``; ``mapping`` column = the last entry of the table row whose
first entries equal the inputs. Missing inputs leave comparisons unjudged (not a violation), and
make a derived column missing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar, Protocol

import numpy as np
import pandas as pd

from clinisynth.errors import ClinisynthError
from clinisynth.expressions import Expression, ExpressionError, parse, quote
from clinisynth.schema.columns import ColumnSchema
from clinisynth.values import category_key, to_native


class Columns(Protocol):
    """What a rule is checked against: the table's columns by name, and its target (a
    :class:`~clinisynth.schema.TableSchema` is one)."""

    target: str

    @property
    def names(self) -> list[str]: ...

    def __getitem__(self, name: str) -> ColumnSchema: ...

#: absolute slack on comparisons of float columns (values are rounded to their precision)
EPS = 1e-9


class RuleError(ClinisynthError):
    """A rule in the schema that is malformed or refers to an unknown column."""


@dataclass
class Rule:
    """Base class: ``violated(frame)`` marks the rows that break the rule."""

    type: ClassVar[str]
    source: str = field(default="declared", kw_only=True)
    support: int | None = field(default=None, kw_only=True)

    @property
    def columns(self) -> tuple[str, ...]:
        raise NotImplementedError

    def describe(self) -> str:
        raise NotImplementedError

    def violated(self, frame: pd.DataFrame) -> np.ndarray:
        raise NotImplementedError

    def to_dict(self) -> dict[str, Any]:
        body = {k: v for k, v in self.__dict__.items()
                if not k.startswith("_") and k not in ("source", "support")}
        out: dict[str, Any] = {"type": self.type, **body, "source": self.source}
        if self.support is not None:
            out["support"] = self.support
        return out


def _num(frame: pd.DataFrame, name: str) -> np.ndarray:
    return pd.to_numeric(frame[name], errors="coerce").to_numpy(dtype=float)


def _ids(series: pd.Series, index: dict[Any, int]) -> np.ndarray:
    """Per row, ``index[category_key(value)]``: -1 for a missing cell, -2 for a key not in
    ``index`` (a ``None`` key in ``index`` stands for missing). Keys are made per distinct value
    only, so this is fast on long columns."""
    codes, uniques = pd.factorize(series, use_na_sentinel=True)
    per_unique = [index.get(category_key(u), -2) for u in uniques]
    lookup = np.array(per_unique + [index.get(None, -1)], dtype=np.int64)
    return lookup[codes]


def equal_values(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Cells where both are present and ``|a - b| <= EPS * max(1, |b|)``."""
    with np.errstate(invalid="ignore"):
        return np.abs(a - b) <= EPS * np.maximum(1.0, np.abs(b))


def _match(series: pd.Series, values: list[Any]) -> np.ndarray:
    """Rows whose value is one of ``values`` (``None`` matches a missing cell)."""
    index = {None if v is None else category_key(v): 0 for v in values}
    return _ids(series, index) == 0


def _same(want: np.ndarray, series: pd.Series) -> np.ndarray:
    """Rows where the object array ``want`` (None = missing) equals the column's value."""
    keys: dict[Any, int] = {}
    for v in pd.unique(pd.Series(want, dtype=object).dropna()):
        keys.setdefault(category_key(v), len(keys))
    w = _ids(pd.Series(want, dtype=object), keys)
    return w == _ids(series, keys)


@dataclass
class RangeRule(Rule):
    type: ClassVar[str] = "range"
    column: str
    min: float | None = None
    max: float | None = None

    @property
    def columns(self) -> tuple[str, ...]:
        return (self.column,)

    def describe(self) -> str:
        lo = "-inf" if self.min is None else f"{self.min:g}"
        hi = "inf" if self.max is None else f"{self.max:g}"
        return f"range: {quote(self.column)} in [{lo}, {hi}]"

    def violated(self, frame: pd.DataFrame) -> np.ndarray:
        x = _num(frame, self.column)
        bad = np.zeros(len(x), dtype=bool)
        if self.min is not None:
            bad |= x < self.min - EPS
        if self.max is not None:
            bad |= x > self.max + EPS
        return bad


@dataclass
class InequalityRule(Rule):
    type: ClassVar[str] = "inequality"
    left: str
    right: str
    op: str = "<="

    @property
    def columns(self) -> tuple[str, ...]:
        return (self.left, self.right)

    @property
    def strict(self) -> bool:
        return self.op == "<"

    def describe(self) -> str:
        return f"inequality: {quote(self.left)} {self.op} {quote(self.right)}"

    def violated(self, frame: pd.DataFrame) -> np.ndarray:
        a, b = _num(frame, self.left), _num(frame, self.right)
        with np.errstate(invalid="ignore"):
            return (a >= b) if self.strict else (a > b + EPS * np.maximum(1.0, np.abs(b)))


@dataclass
class ForbiddenCombination(Rule):
    type: ClassVar[str] = "forbidden_combination"
    values: dict[str, Any] = field(default_factory=dict)

    @property
    def columns(self) -> tuple[str, ...]:
        return tuple(self.values)

    def describe(self) -> str:
        parts = " and ".join(f"{quote(c)} = {v!r}" for c, v in self.values.items())
        return f"forbidden: {parts}"

    def violated(self, frame: pd.DataFrame) -> np.ndarray:
        bad = np.ones(len(frame), dtype=bool)
        for col, value in self.values.items():
            bad &= _match(frame[col], [value])
        return bad


class _WhenValues:
    """What the conditional rules share: a condition ``when`` in ``values``."""

    when: str
    values: list[Any]

    def condition(self, frame: pd.DataFrame) -> np.ndarray:
        """Rows where ``when`` takes one of ``values`` (None matches a missing cell)."""
        return self.matches(frame[self.when])

    def matches(self, when: pd.Series) -> np.ndarray:
        """Cells of the ``when`` column holding one of ``values``."""
        return _match(when, list(self.values))

    def listed(self) -> str:
        """``values`` as the rule's description prints them: ``{'a', missing}``."""
        return "{" + ", ".join("missing" if v is None else repr(v) for v in self.values) + "}"


@dataclass
class ConditionalMissing(_WhenValues, Rule):
    type: ClassVar[str] = "conditional_missing"
    column: str
    when: str
    values: list[Any] = field(default_factory=list)
    exact: bool = False

    @property
    def columns(self) -> tuple[str, ...]:
        return (self.when, self.column)

    def describe(self) -> str:
        how = "exactly when" if self.exact else "whenever"
        return (f"missing: {quote(self.column)} is missing {how} {quote(self.when)} in "
                f"{self.listed()}")

    def violated(self, frame: pd.DataFrame) -> np.ndarray:
        cond = self.condition(frame)
        missing = frame[self.column].isna().to_numpy()
        bad = cond & ~missing
        return bad | (~cond & missing) if self.exact else bad


@dataclass
class ConditionalEqual(_WhenValues, Rule):
    type: ClassVar[str] = "conditional_equal"
    column: str
    equals: str
    when: str
    values: list[Any] = field(default_factory=list)

    @property
    def columns(self) -> tuple[str, ...]:
        return (self.when, self.equals, self.column)

    def describe(self) -> str:
        return (f"equal: {quote(self.column)} = {quote(self.equals)} whenever {quote(self.when)} "
                f"in {self.listed()}")

    def violated(self, frame: pd.DataFrame) -> np.ndarray:
        a, b = _num(frame, self.column), _num(frame, self.equals)
        both = ~np.isnan(a) & ~np.isnan(b)
        return self.condition(frame) & both & ~equal_values(a, b)


@dataclass
class FormulaRule(Rule):
    type: ClassVar[str] = "formula"
    column: str
    expression: str
    tolerance: float = 0.0
    _parsed: Expression | None = field(default=None, repr=False, compare=False)

    @property
    def parsed(self) -> Expression:
        if self._parsed is None:
            self._parsed = parse(self.expression, where=f"formula for '{self.column}'")
        return self._parsed

    @property
    def columns(self) -> tuple[str, ...]:
        return (*self.parsed.columns, self.column)

    @property
    def inputs(self) -> tuple[str, ...]:
        return self.parsed.columns

    def describe(self) -> str:
        return f"formula: {quote(self.column)} = {self.expression}"

    def compute(self, frame: pd.DataFrame) -> np.ndarray:
        return self.parsed.evaluate(frame)

    def violated(self, frame: pd.DataFrame) -> np.ndarray:
        want, got = self.compute(frame), _num(frame, self.column)
        slack = self.tolerance + EPS * np.maximum(1.0, np.abs(want))
        with np.errstate(invalid="ignore"):
            return (np.abs(got - want) > slack) | (np.isnan(want) != np.isnan(got))


@dataclass
class BinningRule(Rule):
    type: ClassVar[str] = "binning"
    column: str
    expression: str
    cuts: list[float] = field(default_factory=list)
    labels: list[Any] = field(default_factory=list)
    _parsed: Expression | None = field(default=None, repr=False, compare=False)

    @property
    def parsed(self) -> Expression:
        if self._parsed is None:
            self._parsed = parse(self.expression, where=f"binning for '{self.column}'")
        return self._parsed

    @property
    def inputs(self) -> tuple[str, ...]:
        return self.parsed.columns

    @property
    def columns(self) -> tuple[str, ...]:
        return (*self.parsed.columns, self.column)

    def describe(self) -> str:
        return (f"binning: {quote(self.column)} = bins of {self.expression} at "
                f"{', '.join(f'{c:g}' for c in self.cuts)}")

    def compute(self, frame: pd.DataFrame) -> np.ndarray:
        x = self.parsed.evaluate(frame)
        idx = np.searchsorted(np.asarray(self.cuts, dtype=float), x, side="right")
        labels = np.array(self.labels, dtype=object)
        out = labels[np.minimum(idx, len(labels) - 1)]
        out[np.isnan(x)] = None
        return out

    def violated(self, frame: pd.DataFrame) -> np.ndarray:
        return ~_same(self.compute(frame), frame[self.column])


@dataclass
class MappingRule(Rule):
    type: ClassVar[str] = "mapping"
    column: str
    inputs: list[str] = field(default_factory=list)
    table: list[list[Any]] = field(default_factory=list)

    @property
    def columns(self) -> tuple[str, ...]:
        return (*self.inputs, self.column)

    def describe(self) -> str:
        return (f"mapping: {quote(self.column)} is a function of "
                f"{', '.join(quote(c) for c in self.inputs)} ({len(self.table)} entries)")

    def lookup(self) -> dict[tuple[Any, ...], Any]:
        return {tuple(None if v is None else category_key(v) for v in row[:-1]): row[-1]
                for row in self.table}

    def compute(self, frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        """The mapped values and a mask of rows whose input combination is not in the table."""
        table = self.lookup()
        ids, radix = np.zeros(len(frame), dtype=np.int64), 1
        per_input = []
        for pos, col in enumerate(self.inputs):
            index: dict[Any, int] = {}
            for key in table:
                index.setdefault(key[pos], len(index))
            per_input.append(index)
            part = _ids(frame[col], index)
            ids = np.where((part < 0) | (ids < 0), -1, ids * (len(index) + 1) + part)
            radix *= len(index) + 1
        outputs: dict[int, Any] = {}
        for key, value in table.items():
            code = 0
            for pos, index in enumerate(per_input):
                code = code * (len(index) + 1) + index[key[pos]]
            outputs[code] = value
        distinct, inverse = np.unique(ids, return_inverse=True)
        known = np.array([int(d) in outputs for d in distinct], dtype=bool)
        values = np.array([outputs.get(int(d)) for d in distinct] + [None], dtype=object)
        unknown = ~known[inverse]
        return values[np.where(unknown, len(distinct), inverse)], unknown

    def violated(self, frame: pd.DataFrame) -> np.ndarray:
        want, unknown = self.compute(frame)
        return unknown | ~_same(want, frame[self.column])


RULE_TYPES: dict[str, type[Rule]] = {cls.type: cls for cls in (
    RangeRule, InequalityRule, ForbiddenCombination, ConditionalMissing, ConditionalEqual,
    FormulaRule, BinningRule, MappingRule)}
DERIVING = (FormulaRule, BinningRule, MappingRule)


def rule_from_dict(data: Any, schema: Columns | None = None, index: int = 0) -> Rule:
    """Build and check one rule from its JSON form; errors name the rule by its position."""
    where = f"rule {index + 1}"
    if not isinstance(data, dict):
        raise RuleError(f"{where}: must be an object, got {type(data).__name__}")
    kind = data.get("type")
    if kind not in RULE_TYPES:
        raise RuleError(f"{where}: unknown type {kind!r}; types: {', '.join(RULE_TYPES)}")
    where = f"rule {index + 1} ({kind})"
    cls = RULE_TYPES[kind]
    body = {k: v for k, v in data.items() if k != "type"}
    try:
        rule = cls(**body)
    except TypeError as exc:
        msg = str(exc).split("() ", 1)[-1]
        raise RuleError(f"{where}: {msg}") from None
    _check(rule, schema, where)
    return rule


def parse_rules(data: Any, schema: Columns | None = None) -> list[Rule]:
    """The rules of a schema's ``"rules"`` list, each checked against ``schema``."""
    if data is None:
        return []
    if not isinstance(data, list):
        raise RuleError(f"'rules' must be a list, got {type(data).__name__}")
    return [rule_from_dict(item, schema, i) for i, item in enumerate(data)]


def _check(rule: Rule, schema: Columns | None, where: str) -> None:
    names = set(schema.names) if schema is not None else None
    if isinstance(rule, FormulaRule | BinningRule):
        try:
            rule._parsed = parse(rule.expression, names, where)
        except ExpressionError as exc:
            raise RuleError(str(exc)) from None
        if rule.column in rule.inputs:
            raise RuleError(f"{where}: '{rule.column}' cannot be computed from itself")
    if isinstance(rule, InequalityRule) and rule.op not in ("<=", "<"):
        raise RuleError(f"{where}: op must be '<=' or '<', got {rule.op!r}")
    if isinstance(rule, RangeRule):
        for bound in (rule.min, rule.max):
            if bound is not None and not isinstance(bound, int | float):
                raise RuleError(f"{where}: bounds must be numbers or null")
        if rule.min is not None and rule.max is not None and rule.min > rule.max:
            raise RuleError(f"{where}: min {rule.min} is above max {rule.max}")
    if isinstance(rule, ConditionalEqual) and (
            not isinstance(rule.values, list) or not rule.values):
        raise RuleError(f"{where}: 'values' must be a non-empty list")
    if isinstance(rule, ConditionalEqual) and rule.column == rule.equals:
        raise RuleError(f"{where}: '{rule.column}' cannot equal itself")
    if isinstance(rule, ForbiddenCombination) and (
            not isinstance(rule.values, dict) or len(rule.values) < 1):
        raise RuleError(f"{where}: 'values' must map columns to values")
    if isinstance(rule, BinningRule):
        cuts = np.asarray(rule.cuts, dtype=float)
        if len(rule.labels) != len(cuts) + 1 or np.any(np.diff(cuts) <= 0):
            raise RuleError(f"{where}: needs increasing cuts and one more label than cuts")
    if isinstance(rule, MappingRule) and any(
            not isinstance(row, list) or len(row) != len(rule.inputs) + 1 for row in rule.table):
        raise RuleError(f"{where}: each table row needs one value per input, then the output")
    if names is None:
        return
    for col in rule.columns:
        if col not in names:
            raise RuleError(f"{where}: unknown column '{col}'")
    if schema is None:
        return
    numeric_cols: tuple[str, ...] = ()
    if isinstance(rule, InequalityRule):
        numeric_cols = rule.columns
    elif isinstance(rule, ConditionalEqual):
        numeric_cols = (rule.column, rule.equals)
    elif isinstance(rule, RangeRule | FormulaRule):
        numeric_cols = (rule.column,) + (rule.inputs if isinstance(rule, FormulaRule) else ())
    for col in numeric_cols:
        if not schema[col].is_numeric:
            raise RuleError(f"{where}: column '{col}' is {schema[col].kind}, not numeric")
    if isinstance(rule, DERIVING) and rule.column == schema.target:
        raise RuleError(f"{where}: the target '{schema.target}' cannot be a derived column")


def jsonable(value: Any) -> Any:
    """A cell value as plain JSON (numpy scalars unwrapped, NaN as None)."""
    value = to_native(value)
    if isinstance(value, float) and np.isnan(value):
        return None
    return value
