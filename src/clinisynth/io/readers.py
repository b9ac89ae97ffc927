"""Reading the tables clinical data comes in, with one-line errors and one-line notices.

Formats, chosen by suffix (case-insensitive):

============================  =====================================================
``.csv`` ``.tsv`` ``.txt``     delimited text; also compressed ``.gz`` ``.bz2`` ``.xz``
``.zip``                       a zip holding exactly one delimited text file
``.parquet``                   Parquet (pyarrow)
``.xlsx`` ``.xlsm``            Excel workbook (openpyxl); first sheet unless ``sheet``
``.sas7bdat`` ``.xpt``         SAS data set / transport file (pyreadstat)
``.dta``                       Stata (pyreadstat); value labels become categories
``.sav`` ``.zsav``             SPSS (pyreadstat); value labels become categories
============================  =====================================================

Delimited text: the delimiter is the one among comma, semicolon, tab and pipe that splits the
first rows (parsed with :mod:`csv`, so quoted fields are respected) into the same number (>= 2)
of fields, ties going to more fields, then to that order; ``sep`` forces it. With ``;`` and
numbers written ``1,5`` (and none written ``1.5``) the comma is read as the decimal mark. The
encoding is UTF-8 (a byte-order mark is honoured; a UTF-16 file with its mark is read too), else
cp1252, else Latin-1, with a notice naming the one used; ``encoding`` forces it. Spaces after a
delimiter are skipped. Dates are never parsed: text stays text.

Every format, after reading: column names become strings; rows with every cell empty and
unnamed columns with every cell empty are dropped (notice); ``na_values`` cells become missing;
``inf``/``-inf`` in a numeric column become missing (notice naming the column and count); a text
column whose only non-numbers are common missing markers (``?``, ``.``, ``-``, ``NULL`` …) gets
a notice suggesting ``--na-values``. A file that cannot be read as a table raises a one-line
:class:`ClinisynthError`.
"""

from __future__ import annotations

import codecs
import contextlib
import csv
import io
import shlex
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from clinisynth.errors import ClinisynthError
from clinisynth.io.notices import notice
from clinisynth.io.text import (
    COMPRESSIONS,
    TEXT_SUFFIXES,
    decode,
    first_line,
    raw_bytes,
    sep_name,
    sniff_delimiter,
    uses_comma_decimal,
)

FORMATS = {  # suffix -> reader kind
    **{s: "text" for s in TEXT_SUFFIXES}, ".zip": "zip", ".parquet": "parquet",
    ".xlsx": "excel", ".xlsm": "excel", ".sas7bdat": "sas7bdat", ".xpt": "xpt",
    ".dta": "dta", ".sav": "sav", ".zsav": "sav",
}
INPUT_SUFFIXES = tuple(FORMATS) + tuple(f"{t}{c}" for t in TEXT_SUFFIXES for c in COMPRESSIONS)
SEP_NAMES = {"comma": ",", "semicolon": ";", "tab": "\t", "\\t": "\t", "pipe": "|"}
#: Cell texts (compared stripped and lower-cased) that commonly mark a missing value.
MISSING_MARKERS = frozenset({
    "?", "??", ".", "-", "--", "---", "*", "na", "n/a", "n.a.", "nan", "null", "none", "nil",
    "missing", "unknown", "nd", "n.d.", "#n/a", "not available", "not done",
})


@dataclass(frozen=True)
class ReadOptions:
    """How to read an input table; every field ``None``/empty means "detect".

    ``sep``: delimiter of a text table (one character, or comma/semicolon/tab/pipe).
    ``encoding``: text encoding of a text table or a SAS/Stata/SPSS file (a Python codec name).
    ``na_values``: extra cell texts that mean "missing" (added to pandas' defaults).
    ``sheet``: Excel sheet, by name or by position counting from 1.
    """

    sep: str | None = None
    encoding: str | None = None
    na_values: tuple[str, ...] = ()
    sheet: str | None = None

    def __post_init__(self) -> None:
        if self.sep is not None:
            sep = SEP_NAMES.get(self.sep.lower(), self.sep)
            if len(sep) != 1 or sep in "\"'\r\n":
                raise ClinisynthError(
                    f"--sep {self.sep!r} must be one character (or comma, semicolon, tab, pipe)")
            object.__setattr__(self, "sep", sep)
        if self.encoding is not None:
            try:
                codecs.lookup(self.encoding)
            except LookupError:
                raise ClinisynthError(
                    f"--encoding {self.encoding!r} is not a known text encoding "
                    "(e.g. utf-8, cp1252, latin-1)") from None
        object.__setattr__(self, "na_values", tuple(str(v) for v in self.na_values))


def table_kind(path: Path) -> tuple[str, str | None]:
    """``(reader kind, compression suffix or None)`` for ``path``; raise if not a table format."""
    suffixes = [s.lower() for s in path.suffixes]
    last = suffixes[-1] if suffixes else ""
    if last in COMPRESSIONS and len(suffixes) > 1 and suffixes[-2] in TEXT_SUFFIXES:
        return "text", last
    if last in FORMATS:
        return FORMATS[last], None
    hint = "; save it as .xlsx or CSV" if last == ".xls" else ""
    raise ClinisynthError(
        f"'{path}': unsupported file type '{last or path.name}'{hint}; use "
        "CSV/TSV (optionally .gz or .zip), Parquet, Excel .xlsx, SAS .sas7bdat/.xpt, "
        "Stata .dta or SPSS .sav")


def read_table(path: str | Path, options: ReadOptions | None = None) -> pd.DataFrame:
    """Read a table in any supported format (see the module docstring); one-line errors."""
    options = options or ReadOptions()
    path = Path(path)
    kind, compression = table_kind(path)
    if path.is_dir():
        raise ClinisynthError(f"data file '{path}' is a directory, not a table")
    if not path.is_file():
        raise ClinisynthError(f"data file '{path}' does not exist")
    if path.stat().st_size == 0:
        raise ClinisynthError(f"data file '{path}' is empty")
    if kind in ("text", "zip"):
        df = _read_text(path, kind, compression, options)
    elif kind == "parquet":
        df = _read_parquet(path)
    elif kind == "excel":
        df = _read_excel(path, options)
    else:
        df = _read_stat(path, kind, options)
    return _tidy(df, path, options, text=kind in ("text", "zip"))


# -- delimited text ------------------------------------------------------------------------------
def _read_text(path: Path, kind: str, compression: str | None, options: ReadOptions
               ) -> pd.DataFrame:
    data = raw_bytes(path, kind, compression)
    text = decode(data, path, options.encoding)
    if not text.strip():
        raise ClinisynthError(f"data file '{path}' holds no text")
    sep = options.sep or sniff_delimiter(text)
    decimal = "."
    if sep == ";" and uses_comma_decimal(text, sep):
        decimal = ","
        notice(f"'{path.name}': semicolon-separated with numbers like 1,5; reading ',' as the "
               "decimal mark")
    try:
        header = next(csv.reader(io.StringIO(text, newline=""), delimiter=sep,
                                 skipinitialspace=True), [])
    except csv.Error as exc:
        raise ClinisynthError(f"'{path}' is not a readable {sep_name(sep)}-separated table "
                              f"({exc})") from None
    seen: set[str] = set()
    for name in header:
        if name in seen and name.strip():
            raise ClinisynthError(f"'{path}': duplicate column name '{name}'")
        seen.add(name)
    try:
        return pd.read_csv(io.StringIO(text), sep=sep, decimal=decimal, skipinitialspace=True,
                           na_values=list(options.na_values) or None, low_memory=False)
    except Exception as exc:  # pandas raises many types for text that is not a table
        raise ClinisynthError(f"'{path}' is not a readable {sep_name(sep)}-separated table "
                              f"({first_line(exc)})") from None


# -- binary formats ------------------------------------------------------------------------------
def _read_parquet(path: Path) -> pd.DataFrame:
    try:
        return pd.read_parquet(path)
    except Exception as exc:  # pyarrow raises many types for a non-parquet file
        raise ClinisynthError(f"'{path}' is not a readable Parquet table ({first_line(exc)})"
                              ) from None


def _read_excel(path: Path, options: ReadOptions) -> pd.DataFrame:
    try:
        book = pd.ExcelFile(path, engine="openpyxl")
    except Exception as exc:  # openpyxl: BadZipFile, InvalidFileException, KeyError …
        raise ClinisynthError(f"'{path}' is not a readable Excel workbook ({first_line(exc)})"
                              ) from None
    with book:
        names = [str(n) for n in book.sheet_names]
        sheet = _choose_sheet(path, names, options.sheet)
        try:
            header = book.parse(sheet, header=None, nrows=1)
            df = book.parse(sheet, na_values=list(options.na_values) or None)
        except Exception as exc:
            raise ClinisynthError(f"'{path}': sheet '{sheet}' is not a readable table "
                                  f"({first_line(exc)})") from None
    names_row = [str(v) for v in header.iloc[0].dropna()] if len(header) else []
    dup = next((n for i, n in enumerate(names_row) if n in names_row[:i]), None)
    if dup is not None:
        raise ClinisynthError(f"'{path}': duplicate column name '{dup}' in sheet '{sheet}'")
    return df


def _choose_sheet(path: Path, names: list[str], wanted: str | None) -> str:
    if not names:
        raise ClinisynthError(f"'{path}' has no sheets")
    if wanted is None:
        if len(names) > 1:
            notice(f"'{path.name}' has {len(names)} sheets; reading the first, '{names[0]}' "
                   "(choose one with --sheet)")
        return names[0]
    if wanted in names:
        return wanted
    if wanted.isdigit() and 1 <= int(wanted) <= len(names):
        return names[int(wanted) - 1]
    raise ClinisynthError(f"--sheet '{wanted}' is not in '{path.name}'; its sheets are: "
                          + ", ".join(f"'{n}'" for n in names))


_STAT_NAMES = {"sas7bdat": "SAS", "xpt": "SAS transport", "dta": "Stata", "sav": "SPSS"}


def _read_stat(path: Path, kind: str, options: ReadOptions) -> pd.DataFrame:
    """SAS/Stata/SPSS through pyreadstat; value labels become categories, '' becomes missing."""
    import pyreadstat  # lazy: heavy: only for SAS, Stata, SPSS

    readers = {"sas7bdat": pyreadstat.read_sas7bdat, "xpt": pyreadstat.read_xport,
               "dta": pyreadstat.read_dta, "sav": pyreadstat.read_sav}
    kwargs: dict[str, object] = {}
    if options.encoding is not None:
        kwargs["encoding"] = options.encoding
    if kind in ("dta", "sav"):
        kwargs["apply_value_formats"] = True
    try:
        df, _meta = readers[kind](str(path), **kwargs)
    except Exception as exc:  # pyreadstat.ReadstatError, PyreadstatError, UnicodeError …
        raise ClinisynthError(f"'{path}' is not a readable {_STAT_NAMES[kind]} file "
                              f"({first_line(exc)})") from None
    for name in df.columns:  # these formats store a missing string as ''
        series = df[name]
        if series.dtype == object:
            df[name] = series.mask(series.map(lambda v: isinstance(v, str) and not v.strip()))
        elif isinstance(series.dtype, pd.CategoricalDtype) and "" in series.cat.categories:
            df[name] = series.cat.remove_categories([""])
    return df


# -- after reading, every format -----------------------------------------------------------------
def _tidy(df: pd.DataFrame, path: Path, options: ReadOptions, *, text: bool) -> pd.DataFrame:
    df = df.copy()
    df.columns = [str(c) for c in df.columns]
    dup = df.columns[df.columns.duplicated()]
    if len(dup):
        raise ClinisynthError(f"'{path}': duplicate column name '{dup[0]}'")
    if not text and options.na_values:
        df = _apply_na_values(df, options.na_values)
    df = _drop_empty(df, path)
    if df.shape[1] < 2:
        raise ClinisynthError(
            f"'{path}' has fewer than two columns; is it a table? (use --sep to set the "
            "delimiter)" if text else f"'{path}' has fewer than two columns; is it a table?")
    if df.shape[0] == 0:
        raise ClinisynthError(f"'{path}' has a header but no rows")
    df = _infinite_to_missing(df, path)
    _notice_missing_markers(df, path)
    return df


def _apply_na_values(df: pd.DataFrame, na_values: tuple[str, ...]) -> pd.DataFrame:
    texts = {v.strip() for v in na_values}
    numbers = set()
    for v in texts:
        with contextlib.suppress(ValueError):
            numbers.add(float(v))
    for name in df.columns:
        series = df[name]
        if pd.api.types.is_bool_dtype(series.dtype):
            continue
        if pd.api.types.is_numeric_dtype(series.dtype):
            if numbers:
                df[name] = series.mask(series.isin(numbers))
        elif series.dtype == object or isinstance(series.dtype, pd.CategoricalDtype):
            hit = series.map(lambda v: str(v).strip() in texts if pd.notna(v) else False)
            if hit.any():
                df[name] = series.astype(object).mask(hit.astype(bool))
    return df


def _drop_empty(df: pd.DataFrame, path: Path) -> pd.DataFrame:
    """Drop rows with every cell empty, and unnamed columns with every cell empty."""
    empty_rows = df.isna().all(axis=1)
    if empty_rows.any() and not empty_rows.all():
        df = df.loc[~empty_rows]
        notice(f"'{path.name}': skipped {int(empty_rows.sum())} empty row(s)")
    unnamed = [c for c in df.columns
               if (not c.strip() or c.startswith("Unnamed: ")) and df[c].isna().all()]
    if unnamed and len(unnamed) < df.shape[1]:
        df = df.drop(columns=unnamed)
        notice(f"'{path.name}': skipped {len(unnamed)} empty unnamed column(s)")
    return df


def _infinite_to_missing(df: pd.DataFrame, path: Path) -> pd.DataFrame:
    """``inf``/``-inf`` in a numeric column become missing, with one notice listing the counts."""
    found = []
    for name in df.columns:
        series = df[name]
        if pd.api.types.is_float_dtype(series.dtype):
            inf = np.isinf(series.to_numpy(dtype=float, na_value=np.nan))
            if inf.any():
                df[name] = series.mask(inf)
                found.append(f"'{name}' ({int(inf.sum())})")
    if found:
        notice(f"'{path.name}': infinite values treated as missing in column(s) "
               + ", ".join(found))
    return df


def missing_markers_in(series: pd.Series) -> list[str]:
    """The distinct non-numeric texts of a mostly numeric text column, if all are missing
    markers (see :data:`MISSING_MARKERS`); else ``[]``."""
    if series.dtype != object:
        return []
    values = series.dropna()
    if values.empty or not values.map(lambda v: isinstance(v, str)).any():
        return []
    texts = values.astype(str).str.strip()
    parsed = pd.to_numeric(texts, errors="coerce")
    junk = texts[parsed.isna()]
    if junk.empty or parsed.notna().sum() == 0:
        return []
    markers = sorted(set(junk))
    if all(m.lower() in MISSING_MARKERS for m in markers):
        return markers
    return []


def na_values_hint(markers: list[str]) -> str:
    """``--na-values '?'`` (repeated per marker), quoted for a shell."""
    return " ".join(f"--na-values {shlex.quote(m)}" for m in markers)


def _notice_missing_markers(df: pd.DataFrame, path: Path) -> None:
    by_marker: dict[tuple[str, ...], list[str]] = {}
    for name in df.columns:
        markers = missing_markers_in(df[name])
        if markers:
            count = int(df[name].astype(str).str.strip().isin(markers).sum())
            cells = f"{count} cell" + ("s" if count != 1 else "")
            by_marker.setdefault(tuple(markers), []).append(f"'{name}' ({cells})")
    for markers, columns in by_marker.items():
        shown = ", ".join(repr(m) for m in markers)
        notice(f"'{path.name}': column(s) {', '.join(columns)} hold {shown} where numbers are "
               f"expected; if that marks a missing value, pass {na_values_hint(list(markers))}")
