"""Dates in text: the formats tried, inferring a column's format, parsing with one.

Text date formats are tried in order (:data:`DATE_FORMATS`, ISO first, then day/month orders);
the first that parses every value is kept. When both ``%d/%m`` and ``%m/%d`` parse every value
(no first or second field above 12), day-first is taken (:data:`AMBIGUOUS_DEFAULT`); the
schema's ``format`` field says which and can be edited.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from clinisynth.errors import SchemaError

#: text date formats tried, in order; the first that parses every value is kept
ISO_FORMATS = ("%Y-%m-%d", "%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M",
               "%Y-%m-%dT%H:%M", "%Y/%m/%d", "%Y%m%d")

DAY_MONTH_FORMATS = tuple(f"{a}{sep}{b}{sep}%Y{t}" for t in ("", " %H:%M", " %H:%M:%S")
                          for sep in ("/", "-", ".") for a, b in (("%d", "%m"), ("%m", "%d")))

DATE_FORMATS = ISO_FORMATS + DAY_MONTH_FORMATS

#: when day/month order cannot be told from the data, day first (ISO-adjacent, most of the world)
AMBIGUOUS_DEFAULT = "day_first"


# -- dates ----------------------------------------------------------------------------------
def infer_date_format(values: pd.Series) -> str | None:
    """The first format of :data:`DATE_FORMATS` that parses every (non-missing) text value."""
    texts = pd.Series(values.dropna().unique()).astype(str).str.strip()  # distinct values
    if texts.empty or not texts.str.contains(r"\d").all():
        return None
    if not texts.str.fullmatch(r"[\d/\-.:T ]+").all():
        return None
    probe = texts if len(texts) <= 500 else texts.iloc[np.linspace(0, len(texts) - 1, 500,
                                                                   dtype=int)]
    fits = [f for f in DATE_FORMATS if _parses(probe, f) and _parses(texts, f)]
    if not fits:
        return None
    first = fits[0]
    if "%m" in first and first.index("%m") < first.index("%d"):  # month-first parsed first
        day_first = first.replace("%m", "%M_").replace("%d", "%m").replace("%M_", "%d")
        if day_first in fits and AMBIGUOUS_DEFAULT == "day_first":
            return day_first
    return first

def _parses(texts: pd.Series, fmt: str) -> bool:
    if fmt == "%Y%m%d" and not texts.str.fullmatch(r"\d{8}").all():
        return False
    parsed = pd.to_datetime(texts, format=fmt, errors="coerce")
    return bool(parsed.notna().all())

def parse_dates(series: pd.Series, fmt: str | None, name: str) -> pd.Series:
    """The column as ``datetime64[ns]`` (missing stays NaT); raise naming the first bad value."""
    if pd.api.types.is_datetime64_any_dtype(series.dtype):  # a datetime dtype: no format
        out = pd.to_datetime(series)
        return (out.dt.tz_localize(None) if out.dt.tz is not None else out).astype(
            "datetime64[ns]")
    if fmt is None:
        parsed = pd.to_datetime(series, errors="coerce", format="ISO8601")
    else:
        parsed = pd.to_datetime(series.astype("string").str.strip(), format=fmt,
                                errors="coerce")
    bad = series[parsed.isna() & series.notna()]
    if len(bad):
        how = f"format '{fmt}'" if fmt else "ISO 8601"
        raise SchemaError(f"column '{name}' has value {bad.iloc[0]!r} that is not a date in "
                          f"{how} ({len(bad)} such cells); set the column's format in the schema")
    return parsed.astype("datetime64[ns]")


#: day 0 of the day counts dates become where they are modelled as numbers
EPOCH = pd.Timestamp("1970-01-01")


def days_since_epoch(series: pd.Series, fmt: str | None, name: str) -> pd.Series:
    """The column's dates as days since 1970-01-01 (float, missing as NaN)."""
    return ((parse_dates(series, fmt, name) - EPOCH) / pd.Timedelta(days=1)).astype(float)


def dates_from_days(days: np.ndarray) -> pd.Series:
    """Day counts back to dates, rounded to the day (``NaT`` where missing)."""
    return pd.Series(EPOCH + pd.to_timedelta(np.round(np.asarray(days, dtype=float)),
                                             unit="D"))
