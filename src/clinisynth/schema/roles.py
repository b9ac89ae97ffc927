"""Inferring column roles: identifiers, dates, free text and quasi-identifiers.

Rules, applied to every column but the target, in this order (the first that holds wins):

``datetime``
    a datetime dtype, or text whose every value parses with one of :data:`DATE_FORMATS` (ISO
    first; then day/month orders). When both ``%d/%m`` and ``%m/%d`` parse every value (no
    first or second field above 12), day-first is taken (:data:`AMBIGUOUS_DEFAULT`); the
    schema's ``format`` field says which and can be edited.
``identifier``
    integers or strings that are unique or near-unique keys: an ID-like name (``id``, ``mrn``,
    ``patient_id``, ``record``, ``subject_no``, ...) with at least 95 % distinct values; or
    all-distinct strings sharing one fixed shape with digits (``MRN031676``: a common prefix
    and suffix around a fixed run of digits/letters); or all-distinct integers forming a
    consecutive run (row numbers). All-distinct *floats* are measurements, never identifiers.
``text``
    strings with a median length of at least 20 characters, containing spaces, and at least
    half of them distinct (free-text notes).
near-unique text
    a string column where at least half the rows hold a value that fewer than ``k`` rows hold
    (a surname, a code of varying width): free text when most values hold a space, else an
    identifier, whatever its name.
``quasi_identifier``
    a demographic name (age, sex, gender, race, ethnicity, postcode/zip, birth, dob, marital
    status, nationality; matched on whole name tokens, so ``stage`` is not ``age``), or a
    binary/categorical column with a *rare category*: a value held by fewer than ``k`` rows
    (default 5). Dates are quasi-identifiers too: the roles step marks the number it models
    a date as ``quasi_identifier``.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

from clinisynth.schema.dates import infer_date_format
from clinisynth.values import held_counts

ID_TOKENS = {"id", "mrn", "uuid", "guid", "ssn", "nhs", "record", "accession", "encounter",
             "identifier"}

ID_SUFFIX = re.compile(r"(patient|subject|record|case|person|visit|encounter|hospital|study)"
                       r"_?(id|no|num|number|nr|key)$")

QI_TOKENS = {"age", "sex", "gender", "race", "ethnicity", "ethnic", "postcode", "zip",
             "zipcode", "postal", "birth", "dob", "birthdate", "marital", "nationality",
             "yob", "birthyear"}

MIN_ID_ROWS = 10
#: share of rows holding a value fewer than ``k`` rows hold above which a text column is an
#: identifier or free text (:func:`near_unique`)
NEAR_UNIQUE_SHARE = 0.5


def name_tokens(name: str) -> list[str]:
    """Lower-case word tokens of a column name (``PatientID`` -> ``patient``, ``id``)."""
    spaced = re.sub(r"([a-z0-9])([A-Z])", r"\1 \2", str(name))
    return [t for t in re.split(r"[^A-Za-z0-9]+", spaced.lower()) if t]

def id_like_name(name: str) -> bool:
    tokens = name_tokens(name)
    return bool(ID_TOKENS & set(tokens)) or bool(ID_SUFFIX.search("_".join(tokens)))

def qi_like_name(name: str) -> bool:
    return bool(QI_TOKENS & set(name_tokens(name)))

# -- identifiers and text -------------------------------------------------------------------
def _shape(value: str) -> str:
    return re.sub(r"[a-z]", "a", re.sub(r"[A-Z]", "A", re.sub(r"\d", "9", value)))

def _fixed_pattern(texts: pd.Series) -> bool:
    """All values share one character shape (letters/digits by position) and hold a digit."""
    shapes = texts.map(_shape)
    return shapes.nunique() == 1 and "9" in shapes.iloc[0] and " " not in shapes.iloc[0]

def looks_like_text(values: pd.Series) -> bool:
    texts = values.astype(str)
    return (texts.str.len().median() >= 20 and texts.str.contains(" ").mean() >= 0.5
            and texts.nunique() >= 0.5 * len(texts))

def looks_like_identifier(series: pd.Series, name: str) -> bool:
    values = series.dropna()
    if len(values) < MIN_ID_ROWS or pd.api.types.is_bool_dtype(series.dtype):
        return False
    if pd.api.types.is_float_dtype(series.dtype):
        with np.errstate(invalid="ignore"):
            whole = np.all(np.mod(values.to_numpy(dtype=float), 1.0) == 0.0)
        if not whole:
            return False  # measurements, not keys
        values = values.astype(np.int64)
    elif not (pd.api.types.is_integer_dtype(series.dtype) or _is_text(series)):
        return False
    distinct = values.nunique() / len(values)
    if id_like_name(name) and distinct >= 0.95:
        return True
    if distinct < 1.0:
        return False
    if _is_text(series):
        return _fixed_pattern(values.astype(str))
    ints = np.sort(values.to_numpy(dtype=np.int64))
    return bool(np.all(np.diff(ints) == 1))  # row numbers

def _is_text(series: pd.Series) -> bool:
    """An object or string column whose every non-missing value is a ``str``."""
    return (pd.api.types.is_object_dtype(series.dtype)
            or pd.api.types.is_string_dtype(series.dtype)) and pd.api.types.infer_dtype(
                series, skipna=True) in ("string", "empty")

def detect_role(series: pd.Series, name: str, k: int = 5) -> tuple[str, str | None] | None:
    """``(role, format)`` for an identifier, datetime or text column; None for the others."""
    values = series.dropna()
    if values.empty:
        return None
    if pd.api.types.is_datetime64_any_dtype(series.dtype):
        return "datetime", None
    if _is_text(series):
        fmt = infer_date_format(values)
        if fmt is not None and not (fmt == "%Y%m%d" and id_like_name(name)):
            return "datetime", fmt
    if looks_like_identifier(series, name):
        return "identifier", None
    if _is_text(series) and looks_like_text(values):
        return "text", None
    if _is_text(series) and near_unique(values, k):
        spaced = values.astype(str).str.contains(" ").mean() >= 0.5
        return ("text" if spaced else "identifier"), None
    return None


def near_unique(values: pd.Series, k: int) -> bool:
    """Most rows (at least :data:`NEAR_UNIQUE_SHARE`) hold a value that fewer than ``k`` rows
    hold: a name, a code of varying width or a note, whatever the column is called. As a
    category every value would be a patient's own; as an identifier or free text none is
    copied."""
    if len(values) < MIN_ID_ROWS:
        return False
    if pd.to_numeric(values, errors="coerce").notna().mean() >= 0.9:
        return False  # numbers written as text, perhaps with junk: the numeric checks' case
    held = values.map(values.value_counts())
    return bool((held < k).mean() >= NEAR_UNIQUE_SHARE)

def has_rare_category(series: pd.Series, k: int) -> bool:
    """Some observed value is held by fewer than ``k`` rows (values equal as categories, such
    as 1 and 1.0, counted together)."""
    totals = held_counts(series)
    return bool(totals) and min(totals.values()) < k
