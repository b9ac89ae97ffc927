"""Checking and aligning the three tables an audit compares; shared helpers for the metrics."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager

import numpy as np
import pandas as pd

from clinisynth.errors import ClinisynthError
from clinisynth.schema import TableSchema, category_key, check_frame, infer_schema
from clinisynth.threads import blas_limits

MIN_HOLDOUT_ROWS = 10
MIN_ROWS = 10


def check_inputs(train: pd.DataFrame, holdout: pd.DataFrame, synthetic: pd.DataFrame,
                 target: str, schema: TableSchema | None = None
                 ) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame, TableSchema]:
    """Validate the tables and return them with train's column order, plus the schema.

    Raises :class:`ClinisynthError` (one line) naming the table and column at fault.
    """
    frames = {"train": train, "holdout": holdout, "synthetic": synthetic}
    for name, df in frames.items():
        if not isinstance(df, pd.DataFrame):
            raise ClinisynthError(f"{name}: expected a pandas DataFrame, got {type(df).__name__}")
        try:
            check_frame(df)
        except ClinisynthError as exc:
            raise ClinisynthError(f"{name}: {exc}") from None
    for name, df in frames.items():
        if target not in df.columns:
            raise ClinisynthError(f"target column '{target}' is missing from {name}")
    _check_same_columns(frames)
    if schema is None:
        schema = infer_schema(train, target)
    elif schema.target != target:
        raise ClinisynthError(f"target '{target}' differs from the schema's '{schema.target}'")
    missing = [n for n in schema.names if n not in train.columns]
    if missing:
        raise ClinisynthError(f"column '{missing[0]}' is in the schema but not in the data")
    unknown = [n for n in train.columns if n not in schema.names]
    if unknown:
        raise ClinisynthError(f"column '{unknown[0]}' is in the data but not in the schema")
    order = schema.names
    train, holdout, synthetic = (df[order].reset_index(drop=True) for df in frames.values())
    _check_sizes(train, holdout, synthetic, target)
    for name, df in (("train", train), ("holdout", holdout), ("synthetic", synthetic)):
        _check_numeric(df, schema, name)
    return train, holdout, synthetic, schema


def _check_same_columns(frames: dict[str, pd.DataFrame]) -> None:
    names = list(frames)
    reference = list(frames["train"].columns)
    for name in names[1:]:
        cols = list(frames[name].columns)
        extra = [c for c in cols if c not in reference]
        if extra:
            raise ClinisynthError(f"column '{extra[0]}' is in {name} but not in train")
        lacking = [c for c in reference if c not in cols]
        if lacking:
            raise ClinisynthError(f"column '{lacking[0]}' is in train but not in {name}")


def _check_sizes(train: pd.DataFrame, holdout: pd.DataFrame, synthetic: pd.DataFrame,
                 target: str) -> None:
    if len(holdout) < MIN_HOLDOUT_ROWS:
        raise ClinisynthError(
            f"holdout has {len(holdout)} rows; at least {MIN_HOLDOUT_ROWS} are needed"
        )
    for name, df in (("train", train), ("synthetic", synthetic)):
        if len(df) < MIN_ROWS:
            raise ClinisynthError(f"{name} has {len(df)} rows; at least {MIN_ROWS} are needed")
    for name, df in (("train", train), ("holdout", holdout)):
        labels = df[target]
        if labels.isna().any():
            raise ClinisynthError(
                f"target column '{target}' has {int(labels.isna().sum())} missing values in {name}"
            )
        if labels.nunique() < 2:
            raise ClinisynthError(
                f"{name} has a single class ({labels.iloc[0]!r}) in target column '{target}'; "
                "at least two are needed"
            )


def _check_numeric(df: pd.DataFrame, schema: TableSchema, name: str) -> None:
    for col in schema.columns:
        if not col.is_numeric:
            continue
        series = df[col.name]
        if pd.api.types.is_numeric_dtype(series.dtype) or pd.api.types.is_bool_dtype(series.dtype):
            continue
        parsed = pd.to_numeric(series, errors="coerce")
        bad = series[parsed.isna() & series.notna()]
        if len(bad):
            raise ClinisynthError(
                f"{name}: column '{col.name}' should be numeric but has non-numeric value "
                f"{bad.iloc[0]!r} ({len(bad)} such cells)"
            )


#: schema roles the audit never scores: identifiers are regenerated, free text is dropped
UNSCORED_ROLES = ("identifier", "text")


def drop_unscored(frames: Sequence[pd.DataFrame], schema: TableSchema
                  ) -> tuple[list[pd.DataFrame], TableSchema, list[str]]:
    """The frames and schema without identifier and free-text columns (by ``col.role``), and
    the names left out. Such columns are unique per patient: every score would be noise, and
    one-hot encoding them costs rows² memory."""
    skipped = [c.name for c in schema.columns
               if getattr(c, "role", None) in UNSCORED_ROLES and c.name != schema.target]
    if not skipped:
        return list(frames), schema, []
    kept = [c for c in schema.columns if c.name not in skipped]
    reduced = TableSchema(columns=kept, target=schema.target, version=schema.version)
    return [df.drop(columns=skipped) for df in frames], reduced, skipped


# -- helpers shared by the metric modules ------------------------------------------------------
def numeric_names(schema: TableSchema) -> list[str]:
    """Columns of kind continuous or integer."""
    return [c.name for c in schema.columns if c.is_numeric]


def discrete_names(schema: TableSchema) -> list[str]:
    """Columns of kind binary or categorical (the target included)."""
    return [c.name for c in schema.columns if not c.is_numeric]


def as_float(series: pd.Series) -> np.ndarray:
    """A column as a float array; non-numbers and missing cells become NaN."""
    return pd.to_numeric(series, errors="coerce").astype(float).to_numpy()


def category_codes(values: Sequence[pd.Series]) -> tuple[list[np.ndarray], int]:
    """Integer codes shared across several versions of one categorical column.

    Values are compared by :func:`clinisynth.schema.category_key` (so ``1``, ``1.0`` and
    ``np.int64(1)`` are one category); a missing cell is a category of its own.
    """
    keys = [category_key_text(s) for s in values]
    codes, uniques = pd.factorize(pd.concat(keys, ignore_index=True))
    out, start = [], 0
    for s in keys:
        out.append(codes[start:start + len(s)])
        start += len(s)
    return out, len(uniques)


def category_key_text(series: pd.Series) -> pd.Series:
    """One string per cell, equal exactly when :func:`clinisynth.schema.category_key` is.

    Vectorised by column type (numbers ``n:<float>``, booleans ``b:<bool>``, text ``s:<str>``,
    missing ``<NA>``); only a column mixing those types falls back to a per-cell loop.
    """
    series = pd.Series(series).reset_index(drop=True)
    if isinstance(series.dtype, pd.CategoricalDtype):
        series = series.astype(object)
    missing = series.isna().to_numpy()
    kind = pd.api.types.infer_dtype(series, skipna=True)
    if pd.api.types.is_bool_dtype(series.dtype) or kind == "boolean":
        body = "b:" + series.map({True: "True", False: "False"}, na_action="ignore").astype(str)
    elif kind in ("integer", "floating", "mixed-integer-float", "decimal"):
        numbers = pd.to_numeric(series, errors="coerce").astype(float) + 0.0  # -0.0 -> 0.0
        body = "n:" + numbers.astype(str)
    elif kind in ("string", "empty"):
        body = "s:" + series.astype(str)
    else:
        body = pd.Series([_key_text(v) for v in series], dtype=object)
    return pd.Series(np.where(missing, "<NA>", body.to_numpy(dtype=object)), dtype=object)


def _key_text(value: object) -> str:
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return "<NA>"
    key = category_key(value)
    if key[0] == "n":
        return "n:" + str(float(key[1]) + 0.0)
    return f"{key[0]}:{key[1]}"


def rng_for(seed: int, purpose: int) -> np.random.Generator:
    """An independent generator per purpose, so results do not depend on call order."""
    return np.random.default_rng([int(seed), int(purpose)])


def sample_index(n_rows: int, size: int, rng: np.random.Generator) -> np.ndarray:
    """``size`` distinct row positions out of ``n_rows`` (all rows, shuffled, if size >= n)."""
    return rng.choice(n_rows, size=min(size, n_rows), replace=False)


@contextmanager
def single_thread() -> Iterator[None]:
    """Run BLAS/OpenMP code (nearest neighbours, gradient boosting) on one thread.

    On a shared 2-core machine, OpenMP threads spinning against other processes made detection
    60x slower; one thread keeps every score fast and its timing predictable.
    """
    with blas_limits(1):
        yield
