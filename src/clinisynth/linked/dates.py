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

from clinisynth.schema.dates import dates_from_days, days_since_epoch, infer_date_format


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
            out[col] = days_since_epoch(out[col], fmt, col)
    return out


def from_days(values: np.ndarray, fmt: str) -> np.ndarray:
    """Day counts back to date texts in ``fmt`` (missing stays missing)."""
    days = pd.to_numeric(pd.Series(values), errors="coerce")
    dates = dates_from_days(days.to_numpy(dtype=float))
    return np.where(days.notna(), dates.dt.strftime(fmt), None).astype(object)
