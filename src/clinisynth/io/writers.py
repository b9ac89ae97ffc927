"""Writing tables atomically as CSV, Parquet, Stata ``.dta`` or SPSS ``.sav`` (by suffix).

CSV output is safe to open in a spreadsheet: a *text* cell that starts with ``=``, ``+``, ``-``,
``@``, a tab or a carriage return would be run as a formula, so it is written with a leading
single quote (``'=1+1``), as OWASP recommends against CSV injection. Numbers are never touched
(a negative number stays a number), nor is text that is a plain number (``-5``, ``+1.5e3``),
which a spreadsheet reads as that number. Stata and SPSS output write a pandas categorical
column (what a labelled variable is read as) as integer codes with value labels, so reading it
back gives the same categories; other text is written as text.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from clinisynth.errors import ClinisynthError
from clinisynth.io.atomic import atomic_path

OUTPUT_SUFFIXES = (".csv", ".parquet", ".dta", ".sav")
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
_PLAIN_NUMBER = re.compile(r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$")
_STATA_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,31}$")
_SPSS_NAME = re.compile(r"^[^\W\d_.$#][\w.$#@]{0,63}$")
_STATA_RESERVED = frozenset({
    "_all", "_b", "byte", "_coef", "_cons", "double", "float", "if", "in", "int", "long", "_n",
    "_N", "_pi", "_pred", "_rc", "_skip", "strL", "using", "with"})


def suffix_of(path: Path) -> str:
    suffix = path.suffix.lower()
    if suffix not in OUTPUT_SUFFIXES:
        raise ClinisynthError(f"'{path}': unsupported file type '{suffix}' for output; use "
                              + ", ".join(OUTPUT_SUFFIXES))
    return suffix


def check_output_path(path: str | Path) -> Path:
    """Validate an output table path before any work is done."""
    path = Path(path)
    suffix_of(path)
    if path.is_dir():
        raise ClinisynthError(f"output '{path}' is a directory; give a file name ending in "
                              + ", ".join(OUTPUT_SUFFIXES))
    return path


def check_writable(df: pd.DataFrame, path: str | Path) -> None:
    """Raise before any fitting if ``df``'s column names cannot be stored in ``path``'s format."""
    suffix = suffix_of(Path(path))
    for name in map(str, df.columns):
        if suffix == ".dta" and (not _STATA_NAME.match(name) or name in _STATA_RESERVED):
            raise ClinisynthError(
                f"column '{name}' is not a valid Stata variable name (letters, digits, _; at "
                "most 32); rename it or write .csv or .parquet")
        if suffix == ".sav" and (not _SPSS_NAME.match(name) or name.endswith(".")):
            raise ClinisynthError(
                f"column '{name}' is not a valid SPSS variable name (a letter, then letters, "
                "digits, _ . $ # @; at most 64); rename it or write .csv or .parquet")


def write_table(df: pd.DataFrame, path: str | Path) -> None:
    """Write ``df`` by suffix (CSV with formulas neutralised, Parquet, .dta, .sav), atomically."""
    path = Path(path)
    with atomic_path(path) as tmp:  # write_table_to checks .dta/.sav names and values first
        write_table_to(df, tmp, path)


def write_tables(frames: Mapping[Path, pd.DataFrame]) -> None:
    """Write several tables, each atomically, and move them into place only once all are
    written: an error or interrupt leaves every old file (or none) as it was."""
    with ExitStack() as stack:
        for path, df in frames.items():
            tmp = stack.enter_context(atomic_path(path))
            write_table_to(df, tmp, path)


def write_table_to(df: pd.DataFrame, tmp: Path, path: Path) -> None:
    """Write ``df`` in ``path``'s format to ``tmp`` (the temporary an atomic write renames)."""
    suffix = suffix_of(path)
    if suffix == ".parquet":
        df.to_parquet(tmp, index=False)
    elif suffix == ".csv":
        neutralise_formulas(df).to_csv(tmp, index=False)
    else:
        check_writable(df, path)
        _write_stat(df, tmp, suffix, path)


def neutralise_formulas(df: pd.DataFrame) -> pd.DataFrame:
    """A copy of ``df`` where text cells a spreadsheet would run as a formula start with ``'``."""
    out = df
    for name in df.columns:
        series = df[name]
        if pd.api.types.is_numeric_dtype(series.dtype) or pd.api.types.is_bool_dtype(
                series.dtype) or pd.api.types.is_datetime64_any_dtype(series.dtype):
            continue
        risky = series.map(_is_formula).astype(bool)
        if risky.any():
            if out is df:
                out = df.copy()
            out[name] = series.astype(object).where(~risky, "'" + series.astype(str))
    return out


def _is_formula(value: Any) -> bool:
    return (isinstance(value, str) and value.startswith(FORMULA_PREFIXES)
            and not _PLAIN_NUMBER.match(value))


def _write_stat(df: pd.DataFrame, tmp: Path, suffix: str, path: Path) -> None:
    """Stata/SPSS through pyreadstat; categories as integer codes with value labels."""
    import pyreadstat  # lazy: heavy: only for SAS, Stata, SPSS

    frame = pd.DataFrame(index=range(len(df)))
    labels: dict[str, dict[int | float, str]] = {}
    for name in df.columns:
        values, value_labels = _stat_column(df[name].reset_index(drop=True))
        frame[name] = values
        if value_labels:
            labels[name] = value_labels
    writer = pyreadstat.write_dta if suffix == ".dta" else pyreadstat.write_sav
    try:
        writer(frame, str(tmp), variable_value_labels=labels or None)
    except Exception as exc:  # pyreadstat.ReadstatError and friends: the data do not fit
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        kind = "Stata" if suffix == ".dta" else "SPSS"
        raise ClinisynthError(f"cannot write '{path}' as {kind} ({first}); "
                              "write .csv or .parquet instead") from None


def _stat_column(series: pd.Series) -> tuple[pd.Series, dict[int | float, str]]:
    """A column pyreadstat can store, and its value labels (code -> text) if categorical."""
    if pd.api.types.is_bool_dtype(series.dtype):
        return series.astype("float64").where(series.notna()), {}
    if pd.api.types.is_integer_dtype(series.dtype) and not series.isna().any():
        return series.astype("int64"), {}
    if pd.api.types.is_numeric_dtype(series.dtype):
        return series.astype("float64"), {}
    if pd.api.types.is_datetime64_any_dtype(series.dtype):
        return series, {}
    present = series.dropna()
    if len(present) and present.map(lambda v: isinstance(v, int | float | np.number)).all():
        return pd.to_numeric(series.astype(object), errors="coerce").astype("float64"), {}
    if not isinstance(series.dtype, pd.CategoricalDtype):
        return series.map(lambda v: str(v) if pd.notna(v) else None).astype(object), {}
    cats = [str(c) for c in series.cat.categories]
    codes = {c: float(i) for i, c in enumerate(cats, start=1)}
    coded = series.map(lambda v: codes[str(v)] if pd.notna(v) else np.nan).astype("float64")
    return coded, {code: text for text, code in codes.items()}
