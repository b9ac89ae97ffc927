"""Table schema: what each column is, its observed range, categories and missing rate.

A schema is inferred from a DataFrame (:func:`infer_schema`), saved as JSON, edited by the user
and validated against data (:meth:`TableSchema.validate`). Every downstream step (encoding,
generators, calibration, audit) reads column types from it rather than guessing again.

Kinds
-----
``continuous``  real-valued; clipped to ``[min, max]`` on decoding.
``integer``     integer-valued count or measurement; rounded, then clipped.
``binary``      exactly two categories (flags, yes/no).
``categorical`` strings, booleans, or numeric codes with at most ``low_cardinality`` values.

Survival pair
-------------
``TableSchema.survival`` is ``None`` or ``{"time": col, "event": col, "event_values": [...]}``:
a numeric follow-up time (>= 0) and a discrete event indicator; a row is an event when its
indicator is in ``event_values`` and censored otherwise. Inferred by name and shape
(:func:`infer_survival`), editable in the JSON (set it to ``null`` to drop it).

Roles (see :mod:`clinisynth.schema_roles` for how they are inferred, :mod:`clinisynth.roles`
for what the synthesizer does with them)
-----
``identifier``        a key (patient id, MRN): never modelled nor copied; regenerated as fresh
                      values of the same shape (``strategy: "regenerate"``) or dropped (``"drop"``).
                      Its values are not listed in the schema.
``datetime``          a date or timestamp, modelled as a number from an origin; ``format`` is the
                      strftime format of text dates (``null`` for a datetime dtype).
``text``              free text: never modelled nor copied; re-emitted as missing.
``quasi_identifier``  a column an attacker may know (age, sex, dates, rare categories); the
                      privacy guard's singling-out rule matches synthetic rows on these.

``k`` (schema level, default 5): a category held by fewer than ``k`` training rows is rare, and
a quasi-identifier combination shared by fewer than ``k`` patients singles them out.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from clinisynth.errors import SchemaError
from clinisynth.io.readers import missing_markers_in, na_values_hint

KINDS = ("continuous", "integer", "binary", "categorical")
NUMERIC_KINDS = ("continuous", "integer")
DISCRETE_KINDS = ("binary", "categorical")
SCHEMA_VERSION = 1
ROLES = ("identifier", "datetime", "text", "quasi_identifier")
#: roles whose values the models never see (the roles step replaces or drops them)
UNMODELLED_ROLES = ("identifier", "datetime", "text")
ID_STRATEGIES = ("regenerate", "drop")
#: default rare-category / k-anonymity threshold
DEFAULT_K = 5
#: largest magnitude a numeric column may hold: standardisation squares the values, and
#: (1e150)^2 summed over any realistic number of rows stays below the float limit (~1.8e308)
MAX_MAGNITUDE = 1e150


def to_native(value: Any) -> Any:
    """Turn a numpy/pandas scalar into the plain Python value JSON can hold."""
    return value.item() if isinstance(value, np.generic) else value


def _sort_key(value: Any) -> tuple[int, Any]:
    if isinstance(value, bool):
        return (0, int(value))
    if isinstance(value, int | float):
        return (1, value)
    return (2, str(value))



def sorted_categories(values: list[Any]) -> list[Any]:
    """Distinct ``values`` sorted as ``astype("category")`` sorts them (first-seen order when
    their types cannot be compared): the categories of a decoded categorical column."""
    unique = pd.Index(list(values), dtype=object).unique()
    try:
        return list(unique.sort_values())
    except TypeError:
        return list(unique)

@dataclass
class ColumnSchema:
    """One column: its kind, the pandas dtype to restore, its range or categories, missing rate."""

    name: str
    kind: str
    dtype: str
    min: float | None = None
    max: float | None = None
    categories: list[Any] | None = None
    missing_rate: float = 0.0
    #: recorded resolution of a numeric column (0.1, 1, 5...); 0 = not rounded; None = learn
    #: it at fit time (see :mod:`clinisynth.rules.precision`)
    precision: float | None = None
    role: str | None = None
    format: str | None = None  # datetime: strftime format of text dates (None: datetime dtype)
    strategy: str | None = None  # identifier: "regenerate" (default) or "drop"

    @property
    def is_numeric(self) -> bool:
        return self.kind in NUMERIC_KINDS

    @property
    def is_constant(self) -> bool:
        """A column with a single observed value: it is reproduced as that value, never modelled."""
        if self.is_numeric:
            return self.min == self.max
        return len(self.categories or []) == 1

    def check(self) -> None:
        """Raise :class:`SchemaError` if this column's description is inconsistent."""
        if self.kind not in KINDS:
            raise SchemaError(
                f"column '{self.name}': kind '{self.kind}' is not one of {', '.join(KINDS)}"
            )
        if not 0.0 <= self.missing_rate < 1.0:
            raise SchemaError(f"column '{self.name}': missing_rate must be in [0, 1)")
        if self.precision is not None and (
                isinstance(self.precision, bool) or not isinstance(self.precision, int | float)
                or not self.precision >= 0 or not self.is_numeric):
            raise SchemaError(f"column '{self.name}': precision must be a number >= 0 "
                              "(numeric columns only) or null")
        if self.role is not None and self.role not in ROLES:
            raise SchemaError(f"column '{self.name}': role '{self.role}' is not one of "
                              f"{', '.join(ROLES)} (or null)")
        if self.strategy is not None and (self.role != "identifier"
                                          or self.strategy not in ID_STRATEGIES):
            raise SchemaError(f"column '{self.name}': strategy is for identifiers only, one of "
                              f"{', '.join(ID_STRATEGIES)}")
        if self.format is not None and self.role != "datetime":
            raise SchemaError(f"column '{self.name}': format is for datetime columns only")
        if self.role in UNMODELLED_ROLES:
            return  # values are handled by the roles step, not described here
        if self.is_numeric:
            if self.min is None or self.max is None or not self.min <= self.max:
                raise SchemaError(f"column '{self.name}': needs numeric min <= max")
        else:
            if not self.categories:
                raise SchemaError(f"column '{self.name}': kind '{self.kind}' needs categories")
            if len({repr(c) for c in self.categories}) != len(self.categories):
                raise SchemaError(f"column '{self.name}': categories are not unique")
            if self.kind == "binary" and len(self.categories) != 2:
                raise SchemaError(f"column '{self.name}': kind 'binary' needs exactly 2 categories")


@dataclass
class TableSchema:
    """The columns of a table, in order, and which one is the target (the class label).

    ``rules`` is the list of rules in JSON form (see :mod:`clinisynth.rules.types`): ``None``
    means "discover them at fit time"; a list (even empty) is used as given and nothing is
    discovered.
    """

    columns: list[ColumnSchema]
    target: str
    version: int = field(default=SCHEMA_VERSION)
    #: the survival pair ``{"time", "event", "event_values"}`` or None (see the module doc)
    survival: dict[str, Any] | None = None
    rules: list[dict[str, Any]] | None = None
    k: int = DEFAULT_K

    def __post_init__(self) -> None:
        names = [c.name for c in self.columns]
        if len(set(names)) != len(names):
            dup = next(n for n in names if names.count(n) > 1)
            raise SchemaError(f"duplicate column name '{dup}' in schema")
        if self.target not in names:
            raise SchemaError(f"target column '{self.target}' is not in the schema")
        for col in self.columns:
            col.check()
        if isinstance(self.k, bool) or not isinstance(self.k, int) or self.k < 1:
            raise SchemaError(f"schema k must be a positive integer, got {self.k!r}")
        if self[self.target].role in UNMODELLED_ROLES:
            raise SchemaError(f"target column '{self.target}' cannot have role "
                              f"'{self[self.target].role}'")
        if self[self.target].kind not in DISCRETE_KINDS:
            raise SchemaError(
                f"target column '{self.target}' must be binary or categorical, "
                f"not {self[self.target].kind}"
            )
        if self.survival is not None:
            self.survival = check_survival(self, self.survival)
        if self.rules is not None:  # checked here so a bad edit fails when the file is read
            from clinisynth.rules.types import parse_rules

            parse_rules(self.rules, self)

    # -- access -------------------------------------------------------------------------------
    def __getitem__(self, name: str) -> ColumnSchema:
        for col in self.columns:
            if col.name == name:
                return col
        raise KeyError(name)

    @property
    def names(self) -> list[str]:
        return [c.name for c in self.columns]

    @property
    def features(self) -> list[ColumnSchema]:
        """All columns but the target."""
        return [c for c in self.columns if c.name != self.target]

    @property
    def classes(self) -> list[Any]:
        return list(self[self.target].categories or [])

    # -- serialisation ------------------------------------------------------------------------
    def with_role(self, role: str) -> list[ColumnSchema]:
        """The columns that have ``role``."""
        return [c for c in self.columns if c.role == role]

    def to_dict(self) -> dict[str, Any]:
        columns = []
        for c in self.columns:
            item = asdict(c)
            for key in ("format", "strategy"):  # only where they apply
                if item[key] is None:
                    del item[key]
            columns.append(item)
        out = {"version": self.version, "target": self.target, "k": self.k,
               "columns": columns, "survival": self.survival}
        if self.rules is not None:
            out["rules"] = self.rules
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TableSchema:
        try:
            columns = [ColumnSchema(**c) for c in data["columns"]]
            return cls(columns=columns, target=data["target"],
                       version=int(data.get("version", SCHEMA_VERSION)),
                       survival=data.get("survival"), rules=data.get("rules"),
                       k=data.get("k", DEFAULT_K))
        except (KeyError, TypeError) as exc:
            raise SchemaError(f"schema is malformed: {exc}") from None

    def to_json(self, path: str | Path | None = None) -> str:
        text = json.dumps(self.to_dict(), indent=2)
        if path is not None:
            from clinisynth.io import write_text_atomic

            write_text_atomic(Path(path), text)
        return text

    @classmethod
    def from_json(cls, path_or_text: str | Path) -> TableSchema:
        text = str(path_or_text)
        if not text.lstrip().startswith("{"):
            try:
                text = Path(path_or_text).read_text()
            except OSError as exc:
                raise SchemaError(
                    f"cannot read schema file '{path_or_text}': {exc.strerror}") from None
        try:
            return cls.from_dict(json.loads(text))
        except json.JSONDecodeError as exc:
            raise SchemaError(f"schema is not valid JSON: {exc.msg} (line {exc.lineno})") from None

    # -- validation ---------------------------------------------------------------------------
    def validate(self, df: pd.DataFrame) -> None:
        """Raise :class:`SchemaError` naming the first column where ``df`` breaks this schema."""
        check_frame(df)
        for name in self.names:
            if name not in df.columns:
                raise SchemaError(f"column '{name}' is in the schema but not in the data")
        for name in df.columns:
            if name not in self.names:
                raise SchemaError(f"column '{name}' is in the data but not in the schema")
        for col in self.columns:
            series = df[col.name]
            if col.role in ("identifier", "text"):
                continue
            if col.role == "datetime":
                from clinisynth.schema_roles import parse_dates

                parse_dates(series, col.format, col.name)  # raises naming the bad value
                continue
            if col.name == self.target and series.isna().any():
                raise SchemaError(
                    f"target column '{col.name}' has {int(series.isna().sum())} missing values"
                )
            if col.is_numeric:
                _numeric_values(series, col.name)
            else:
                known = {category_key(c) for c in col.categories or []}
                for value in pd.unique(series.dropna()):
                    if category_key(value) not in known:
                        raise SchemaError(
                            f"column '{col.name}' has value {to_native(value)!r} "
                            "that is not among the schema's categories"
                        )


def category_key(value: Any) -> Any:
    """Equality key for a category: 1, 1.0 and np.int64(1) are the same code."""
    value = to_native(value)
    if isinstance(value, bool):
        return ("b", value)
    if isinstance(value, int | float):
        return ("n", float(value))
    return ("s", str(value))


def check_frame(df: pd.DataFrame) -> None:
    """Reject what is not a usable table: no rows, no columns, duplicate names."""
    if not isinstance(df, pd.DataFrame):
        raise SchemaError(f"expected a pandas DataFrame, got {type(df).__name__}")
    if df.shape[1] == 0:
        raise SchemaError("the table has no columns")
    if df.shape[0] == 0:
        raise SchemaError("the table has no rows")
    dup = df.columns[df.columns.duplicated()]
    if len(dup):
        raise SchemaError(f"duplicate column name '{dup[0]}'")


def _numeric_values(series: pd.Series, name: str) -> pd.Series:
    """The column as finite floats; raise if it holds non-numeric junk, infinities or values
    too large to standardise."""
    if pd.api.types.is_bool_dtype(series.dtype):
        return series.astype(float)
    if pd.api.types.is_numeric_dtype(series.dtype):
        return _check_finite(series.astype(float), name)
    parsed = pd.to_numeric(series, errors="coerce")
    bad = series[parsed.isna() & series.notna()]
    if len(bad):
        row = bad.index[0]
        markers = missing_markers_in(series)
        hint = (f"; if {', '.join(map(repr, markers))} marks a missing value, read the file "
                f"with {na_values_hint(markers)}") if markers else ""
        raise SchemaError(
            f"column '{name}' should be numeric but has non-numeric value {bad.iloc[0]!r} "
            f"(row {row}, {len(bad)} such cells){hint}"
        )
    return _check_finite(parsed.astype(float), name)


def _check_finite(values: pd.Series, name: str) -> pd.Series:
    """Raise if a numeric column holds inf/-inf or a magnitude above :data:`MAX_MAGNITUDE`."""
    array = values.to_numpy(dtype=float, na_value=np.nan)
    n_inf = int(np.isinf(array).sum())
    if n_inf:
        raise SchemaError(f"column '{name}' has {n_inf} infinite value(s); make them missing "
                          "or remove those rows")
    finite = np.abs(array[~np.isnan(array)])
    if finite.size and finite.max() > MAX_MAGNITUDE:
        raise SchemaError(f"column '{name}' holds values as large as {finite.max():.3g}; "
                          f"magnitudes above {MAX_MAGNITUDE:g} cannot be modelled, rescale it")
    return values


def _looks_numeric_with_junk(series: pd.Series) -> bool:
    """A text column whose values are nearly all numbers: the rest are junk, not categories."""
    values = series.dropna()
    if values.empty:
        return False
    parsed = pd.to_numeric(values, errors="coerce")
    share = parsed.notna().mean()
    return (0.9 <= share < 1.0 or bool(missing_markers_in(series))) and parsed.nunique() > 2


def infer_column(series: pd.Series, name: str, low_cardinality: int = 5) -> ColumnSchema:
    """Infer one column's kind, dtype, range or categories, and missing rate."""
    values = series.dropna()
    if values.empty:
        raise SchemaError(f"column '{name}' is entirely missing")
    missing_rate = float(series.isna().mean())
    dtype = str(series.dtype)
    is_bool = pd.api.types.is_bool_dtype(series.dtype)
    is_num = pd.api.types.is_numeric_dtype(series.dtype) and not is_bool
    if is_num:
        _check_finite(values, name)
    if not is_num and not is_bool:
        if _looks_numeric_with_junk(series):
            _numeric_values(series, name)  # raises, naming the junk
        parsed = pd.to_numeric(values, errors="coerce")
        if parsed.notna().all() and parsed.nunique() > low_cardinality:
            raise SchemaError(
                f"column '{name}' holds numbers stored as text; convert it to a numeric type"
            )
    uniques = pd.unique(values)
    if is_num and len(uniques) > low_cardinality:
        numeric = values.astype(float).to_numpy()
        integral = bool(np.all(np.mod(numeric, 1.0) == 0.0))
        return ColumnSchema(
            name=name, kind="integer" if integral else "continuous", dtype=dtype,
            min=float(numeric.min()), max=float(numeric.max()), missing_rate=missing_rate,
        )
    categories = sorted({to_native(v) for v in uniques}, key=_sort_key)
    kind = "binary" if len(categories) == 2 else "categorical"
    if len(categories) == 1 and is_num:
        value = float(categories[0])
        integral = math.isfinite(value) and value.is_integer()
        return ColumnSchema(name=name, kind="integer" if integral else "continuous", dtype=dtype,
                            min=value, max=value, missing_rate=missing_rate)
    return ColumnSchema(name=name, kind=kind, dtype=dtype, categories=categories,
                        missing_rate=missing_rate)


def infer_schema(df: pd.DataFrame, target: str, low_cardinality: int = 5,
                 k: int = DEFAULT_K) -> TableSchema:
    """Infer a :class:`TableSchema` from ``df`` with ``target`` as the class label.

    Numeric columns with at most ``low_cardinality`` distinct values are treated as codes
    (binary/categorical); other numeric columns are ``integer`` when every value is whole,
    else ``continuous``. Text and boolean columns are categorical. Roles (identifier, datetime,
    text, quasi-identifier) are inferred by :mod:`clinisynth.schema_roles`; ``k`` is the
    rare-category threshold stored in the schema.
    """
    from clinisynth.schema_roles import detect_role, has_rare_category, qi_like_name

    check_frame(df)
    if target not in df.columns:
        raise SchemaError(
            f"target column '{target}' not found; columns are: {', '.join(map(str, df.columns))}"
        )
    columns = []
    for name in df.columns:
        series = df[name]
        guess = detect_role(series, str(name)) if name != target else None
        if guess is not None:
            columns.append(_role_column(series, str(name), *guess))
            continue
        col = infer_column(series, str(name), low_cardinality)
        if name != target and (qi_like_name(str(name)) or (
                col.kind in DISCRETE_KINDS and has_rare_category(series, k))):
            col.role = "quasi_identifier"
        columns.append(col)
    by_name = {c.name: c for c in columns}
    tcol = df[target]
    if tcol.isna().any():
        raise SchemaError(f"target column '{target}' has {int(tcol.isna().sum())} missing values")
    n_classes = tcol.nunique()
    if n_classes < 2:
        raise SchemaError(
            f"target column '{target}' has a single class ({to_native(tcol.iloc[0])!r}); "
            "at least two needed"
        )
    tschema = by_name[str(target)]
    if tschema.kind not in DISCRETE_KINDS:
        if n_classes > 20:
            raise SchemaError(
                f"target column '{target}' has {n_classes} distinct values; "
                "it must be a class label (at most 20 classes)"
            )
        cats = sorted({to_native(v) for v in pd.unique(tcol)}, key=_sort_key)
        by_name[str(target)] = ColumnSchema(
            name=str(target), kind="binary" if len(cats) == 2 else "categorical",
            dtype=tschema.dtype, categories=cats, missing_rate=0.0,
        )
    schema = TableSchema(columns=[by_name[str(n)] for n in df.columns], target=str(target),
                         k=k)
    schema.survival = infer_survival(schema)
    return schema


# -- the survival pair -------------------------------------------------------------------------
#: name tokens of a follow-up time, best first (a token matches when it starts with one)
TIME_NAMES = ("futime", "time", "survival", "surv", "follow", "fu", "tte", "days", "los",
              "stay", "duration", "months")
#: name tokens of an event indicator, best first
EVENT_NAMES = ("death", "died", "dead", "deceased", "status", "event", "censor", "cens",
               "fustat", "vital", "mortality")


def _name_rank(name: str, patterns: tuple[str, ...]) -> int | None:
    """Index of the first pattern some token of ``name`` starts with, or None."""
    tokens = [t for t in re.split(r"[^a-z0-9]+", name.lower()) if t]
    ranks = [i for i, p in enumerate(patterns) for t in tokens if t.startswith(p)]
    return min(ranks) if ranks else None


def infer_survival(schema: TableSchema) -> dict[str, Any] | None:
    """The survival pair a table's names and shapes suggest, or None.

    Time: a numeric column with min >= 0 whose name matches :data:`TIME_NAMES` (``futime``,
    ``time``, ``follow_up``, ``los`` ...). Event: a binary or categorical column (at most 4
    codes) named like :data:`EVENT_NAMES` (``death``, ``status``, ``event`` ...), else the
    target when it is binary. ``event_values`` is the last category (1 of 0/1, ``True``,
    ``"yes"``; 2 of liver's 0/1/2, i.e. death with transplant as censoring).
    """
    times = [(r, c.name) for c in schema.columns if c.is_numeric and c.min is not None
             and c.min >= 0 and not c.is_constant
             and (r := _name_rank(c.name, TIME_NAMES)) is not None]
    if not times:
        return None
    time_col = min(times)[1]
    events = [(r, c.name != schema.target, c.name) for c in schema.columns
              if c.kind in DISCRETE_KINDS and len(c.categories or []) <= 4
              and (r := _name_rank(c.name, EVENT_NAMES)) is not None]
    if events:
        event = min(events)[2]
    elif schema[schema.target].kind == "binary":
        event = schema.target
    else:
        return None
    return {"time": time_col, "event": event,
            "event_values": [schema[event].categories[-1]]}  # type: ignore[index]


def check_survival(schema: TableSchema, pair: Any) -> dict[str, Any]:
    """Validate a survival pair against the schema; return it with ``event_values`` filled."""
    if not isinstance(pair, dict) or not {"time", "event"} <= set(pair):
        raise SchemaError("survival must be null or {\"time\": column, \"event\": column}")
    extra = set(pair) - {"time", "event", "event_values"}
    if extra:
        raise SchemaError(f"survival: unknown key '{sorted(extra)[0]}'")
    time_col, event = pair["time"], pair["event"]
    for role, name in (("time", time_col), ("event", event)):
        if name not in schema.names:
            raise SchemaError(f"survival {role} column '{name}' is not in the schema")
    if time_col == event:
        raise SchemaError(f"survival: column '{time_col}' cannot be both time and event")
    tcol, ecol = schema[time_col], schema[event]
    if not tcol.is_numeric or tcol.min is None or tcol.min < 0:
        raise SchemaError(f"survival time column '{time_col}' must be numeric with min >= 0")
    if ecol.kind not in DISCRETE_KINDS:
        raise SchemaError(f"survival event column '{event}' must be binary or categorical")
    cats = list(ecol.categories or [])
    values = pair.get("event_values")
    values = [cats[-1]] if values is None else values
    if not isinstance(values, list) or not values:
        raise SchemaError(f"survival event_values for '{event}' must be a non-empty list")
    known = {category_key(c): c for c in cats}
    for value in values:
        if category_key(value) not in known:
            raise SchemaError(f"survival event value {value!r} is not a category of '{event}'")
    return {"time": time_col, "event": event,
            "event_values": [known[category_key(v)] for v in values]}

def _role_column(series: pd.Series, name: str, role: str, fmt: str | None) -> ColumnSchema:
    """A column handled by the roles step: kind, dtype and missing rate; values not listed."""
    is_int = pd.api.types.is_integer_dtype(series.dtype) or (
        pd.api.types.is_float_dtype(series.dtype) and role == "identifier")
    kind = "integer" if role == "datetime" or is_int else "categorical"
    return ColumnSchema(name=name, kind=kind, dtype=str(series.dtype),
                        missing_rate=float(series.isna().mean()), role=role, format=fmt,
                        strategy="regenerate" if role == "identifier" else None)
