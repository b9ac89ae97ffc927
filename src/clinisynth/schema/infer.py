"""Inferring a schema from a table: kinds, ranges, categories, roles and the survival pair.

Numeric columns with at most ``low_cardinality`` distinct values are codes (binary/categorical);
other numeric columns are ``integer`` when every value is whole, else ``continuous``. Text and
boolean columns are categorical. Roles come from :mod:`clinisynth.schema.roles`.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from clinisynth.errors import SchemaError
from clinisynth.io.readers import missing_markers_in
from clinisynth.schema.columns import DISCRETE_KINDS, ColumnSchema
from clinisynth.schema.pairs import infer_survival
from clinisynth.schema.roles import detect_role, has_rare_category, qi_like_name
from clinisynth.schema.table import (
    DEFAULT_K,
    TableSchema,
    check_finite,
    check_frame,
    numeric_values,
)
from clinisynth.values import sort_key, to_native


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
        check_finite(values, name)
    if not is_num and not is_bool:
        if _looks_numeric_with_junk(series):
            numeric_values(series, name)  # raises, naming the junk
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
    categories = sorted({to_native(v) for v in uniques}, key=sort_key)
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
    text, quasi-identifier) are inferred by :mod:`clinisynth.schema.roles`; ``k`` is the
    rare-category threshold stored in the schema.
    """
    check_frame(df)
    if target not in df.columns:
        raise SchemaError(
            f"target column '{target}' not found; columns are: {', '.join(map(str, df.columns))}"
        )
    columns = []
    for name in df.columns:
        series = df[name]
        guess = detect_role(series, str(name), k) if name != target else None
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
        cats = sorted({to_native(v) for v in pd.unique(tcol)}, key=sort_key)
        by_name[str(target)] = ColumnSchema(
            name=str(target), kind="binary" if len(cats) == 2 else "categorical",
            dtype=tschema.dtype, categories=cats, missing_rate=0.0,
        )
    schema = TableSchema(columns=[by_name[str(n)] for n in df.columns], target=str(target),
                         k=k)
    schema.survival = infer_survival(schema, df) or None
    return schema

def _role_column(series: pd.Series, name: str, role: str, fmt: str | None) -> ColumnSchema:
    """A column handled by the roles step: kind, dtype and missing rate; values not listed."""
    is_int = pd.api.types.is_integer_dtype(series.dtype) or (
        pd.api.types.is_float_dtype(series.dtype) and role == "identifier")
    kind = "integer" if role == "datetime" or is_int else "categorical"
    return ColumnSchema(name=name, kind=kind, dtype=str(series.dtype),
                        missing_rate=float(series.isna().mean()), role=role, format=fmt,
                        strategy="regenerate" if role == "identifier" else None)
