"""The table schema: its columns in order, the target, the survival pair, rules and ``k``.

A schema is inferred from a DataFrame (:func:`clinisynth.schema.infer_schema`), saved as JSON,
edited by the user and validated against data (:meth:`TableSchema.validate`). Every downstream
step (encoding, generators, calibration, audit) reads column types from it rather than guessing
again.

Survival pairs
--------------
``TableSchema.survival`` is ``None`` or a list of pairs ``{"time": col, "event": col,
"event_values": [...]}``: a numeric duration (>= 0) and a discrete event indicator; a row is an
event when its indicator is in ``event_values`` and censored otherwise. The first pair is the
primary one (the follow-up the survival step models per cell); others are further durations of
the same patients (time to progression, length of stay, a competing cause). Inferred from the
data's structure, with names as hints (:func:`clinisynth.schema.infer.infer_survival`), and
editable in the JSON (``null`` drops them; a single mapping is one pair).

``k`` (schema level, default 5): a category held by fewer than ``k`` training rows is rare, and
a quasi-identifier combination shared by fewer than ``k`` patients singles them out.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from clinisynth.errors import SchemaError
from clinisynth.io.atomic import write_text_atomic
from clinisynth.io.readers import missing_markers_in, na_values_hint
from clinisynth.schema.columns import DISCRETE_KINDS, UNMODELLED_ROLES, ColumnSchema
from clinisynth.schema.dates import parse_dates
from clinisynth.schema.rules import parse_rules
from clinisynth.values import category_key, to_native

SCHEMA_VERSION = 1

#: default rare-category / k-anonymity threshold
DEFAULT_K = 5

#: largest magnitude a numeric column may hold: standardisation squares the values, and
#: (1e150)^2 summed over any realistic number of rows stays below the float limit (~1.8e308)
MAX_MAGNITUDE = 1e150


@dataclass
class TableSchema:
    """The columns of a table, in order, and which one is the target (the class label).

    ``rules`` is the list of rules in JSON form (see :mod:`clinisynth.schema.rules`): ``None``
    means "discover them at fit time"; a list (even empty) is used as given and nothing is
    discovered.
    """

    columns: list[ColumnSchema]
    target: str
    version: int = field(default=SCHEMA_VERSION)
    #: the survival pairs ``[{"time", "event", "event_values"}, ...]`` or None (see the module
    #: doc); a single mapping is taken as one pair
    survival: list[dict[str, Any]] | None = None
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
            self.survival = check_pairs(self, self.survival)
        if self.rules is not None:  # checked here so a bad edit fails when the file is read
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
            for key in ("format", "strategy", "public_min", "public_max",
                        "public_categories", "storage"):  # only where they apply
                if item[key] is None:
                    del item[key]
            if not item["score"]:
                del item["score"]
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
                parse_dates(series, col.format, col.name)  # raises naming the bad value
                continue
            if col.name == self.target and series.isna().any():
                raise SchemaError(
                    f"target column '{col.name}' has {int(series.isna().sum())} missing values"
                )
            if col.is_numeric:
                numeric_values(series, col.name)
            else:
                known = {category_key(c) for c in col.categories or []}
                for value in pd.unique(series.dropna()):
                    if category_key(value) not in known:
                        raise SchemaError(
                            f"column '{col.name}' has value {to_native(value)!r} "
                            "that is not among the schema's categories"
                        )

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

def numeric_values(series: pd.Series, name: str) -> pd.Series:
    """The column as finite floats; raise if it holds non-numeric junk, infinities or values
    too large to standardise."""
    if pd.api.types.is_bool_dtype(series.dtype):
        return series.astype(float)
    if pd.api.types.is_numeric_dtype(series.dtype):
        return check_finite(series.astype(float), name)
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
    return check_finite(parsed.astype(float), name)

def check_finite(values: pd.Series, name: str) -> pd.Series:
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

def check_pairs(schema: TableSchema, pairs: Any) -> list[dict[str, Any]] | None:
    """Validate the survival pairs (a mapping is one pair; an empty list is none): each pair
    checked, no column the time of two pairs."""
    if isinstance(pairs, dict):
        pairs = [pairs]
    if not isinstance(pairs, list):
        raise SchemaError("survival must be null, a pair {\"time\": column, \"event\": "
                          "column} or a list of such pairs")
    checked = [check_survival(schema, pair) for pair in pairs]
    times = [p["time"] for p in checked]
    if len(set(times)) != len(times):
        twice = next(t for t in times if times.count(t) > 1)
        raise SchemaError(f"survival: column '{twice}' is the time of two pairs")
    return checked or None


def primary_pair(schema: TableSchema) -> dict[str, Any] | None:
    """The first survival pair (the follow-up the survival step models), or None."""
    return schema.survival[0] if schema.survival else None


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
