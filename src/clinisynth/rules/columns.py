"""Column values as arrays, shared by the rule searches of :mod:`~clinisynth.rules.discovery`
and :mod:`~clinisynth.rules.derived`."""

from __future__ import annotations

import numpy as np
import pandas as pd


def floats(series: pd.Series) -> np.ndarray:
    return pd.to_numeric(series, errors="coerce").to_numpy(dtype=float)
