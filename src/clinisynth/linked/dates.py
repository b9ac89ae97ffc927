"""Date columns of linked tables as day counts, and back.

A child's visit date is its order: every text column that parses as dates in one format
(:func:`clinisynth.schema.dates.infer_date_format`) becomes days since 1970-01-01 before the
links are inferred and the child rows are modelled, and is written back in its own format. A
parent's date column enters only where a link needs it (a bound such as a study end date): the
hybrid models the parent's dates itself.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from clinisynth.schema.dates import infer_date_format, parse_dates

EPOCH = pd.Timestamp("1970-01-01")


def date_formats(frame: pd.DataFrame) -> dict[str, str]:
    """``{column: format}`` of the text columns that hold dates."""
    out = {}
    for col in frame.columns:
        x = frame[col]
        if x.dtype == object or pd.api.types.is_string_dtype(x.dtype):
            fmt = infer_date_format(x)
            if fmt is not None:
                out[col] = fmt
    return out


def to_days(frame: pd.DataFrame, formats: Mapping[str, str]) -> pd.DataFrame:
    """A copy with each date column as days since 1970-01-01 (float, missing as NaN)."""
    out = frame.copy()
    for col, fmt in formats.items():
        if col in out:
            parsed = parse_dates(out[col], fmt, col)
            out[col] = ((parsed - EPOCH) / pd.Timedelta(days=1)).astype(float)
    return out


def from_days(values: np.ndarray, fmt: str) -> np.ndarray:
    """Day counts back to date texts in ``fmt`` (missing stays missing)."""
    days = pd.to_numeric(pd.Series(values), errors="coerce")
    dates = EPOCH + pd.to_timedelta(days.round(), unit="D")
    return np.where(days.notna(), dates.dt.strftime(fmt), None).astype(object)
