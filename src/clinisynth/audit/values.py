"""Single values a synthetic table exposes: values fewer than ``k`` real patients hold, and
extremes.

For any synthetic table (ours or a peer's), per column (the target and the columns the audit
does not score left out), against the training rows:

* discrete columns: the share of synthetic rows that carry a value fewer than ``k`` training
  rows hold (such a category is a patient's own, shown as it is);
* numeric columns: which ends of the synthetic table (its minimum, its maximum) equal a value
  fewer than ``k`` training rows hold, and which lie beyond the range that at least ``k``
  training rows span at that end (below the ``k``-th smallest, above the ``k``-th largest).

``k`` is the schema's (default 5). Only counts, shares and the words ``min`` / ``max`` are kept:
the report and the JSON never show the values themselves.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from clinisynth.schema import TableSchema
from clinisynth.values import category_keys, held_counts


@dataclass
class ValueExposure:
    """What :func:`value_exposure` found (see the module docstring)."""

    k: int
    #: discrete column -> share of synthetic rows carrying a value fewer than k patients hold
    rare_rows: dict[str, float] = field(default_factory=dict)
    #: numeric column -> the ends ("min", "max") equal to a value fewer than k patients hold
    rare_extremes: dict[str, list[str]] = field(default_factory=dict)
    #: numeric column -> the ends beyond the range k patients span at that end
    beyond: dict[str, list[str]] = field(default_factory=dict)
    #: share of synthetic rows carrying a rare value in any discrete column
    any_rare_row: float = 0.0

    def columns_at_risk(self) -> list[str]:
        return sorted({*(c for c, s in self.rare_rows.items() if s > 0), *self.rare_extremes,
                       *self.beyond})

    def to_dict(self) -> dict[str, Any]:
        return {"k": self.k, "rare_value_rows": self.rare_rows,
                "rare_value_rows_any": self.any_rare_row,
                "extremes_held_by_few": self.rare_extremes,
                "extremes_beyond_k_range": self.beyond}


def value_exposure(train: pd.DataFrame, synthetic: pd.DataFrame, schema: TableSchema
                   ) -> ValueExposure:
    """Rare values and extremes of ``synthetic`` against ``train`` (see the module)."""
    k = int(schema.k)
    out = ValueExposure(k=k)
    carrying = np.zeros(len(synthetic), dtype=bool)
    for col in schema.columns:
        if col.name == schema.target or col.name not in synthetic.columns:
            continue
        if col.is_numeric:
            ends = _numeric_ends(train[col.name], synthetic[col.name], k)
            if ends[0]:
                out.rare_extremes[col.name] = ends[0]
            if ends[1]:
                out.beyond[col.name] = ends[1]
        else:
            rare = {key for key, n in held_counts(train[col.name]).items() if n < k}
            # a value no training row holds reveals no one
            mask = np.array([key in rare for key in category_keys(synthetic[col.name])],
                            dtype=bool)
            out.rare_rows[col.name] = float(mask.mean()) if len(mask) else 0.0
            carrying |= mask
    out.any_rare_row = float(carrying.mean()) if len(carrying) else 0.0
    return out


def _numeric_ends(real: pd.Series, synthetic: pd.Series, k: int
                  ) -> tuple[list[str], list[str]]:
    """``(ends equal to a value fewer than k hold, ends beyond the k-range)``."""
    x = np.sort(pd.to_numeric(real, errors="coerce").dropna().to_numpy(dtype=float))
    s = pd.to_numeric(synthetic, errors="coerce").dropna().to_numpy(dtype=float)
    if not len(x) or not len(s):
        return [], []
    distinct, counts = np.unique(x, return_counts=True)
    rare, beyond = [], []
    for end, value in (("min", s.min()), ("max", s.max())):
        i = np.searchsorted(distinct, value)
        hit = i < len(distinct) and np.isclose(distinct[i], value, rtol=0, atol=1e-9)
        if hit and counts[i] < k:
            rare.append(end)
        if len(x) >= k and ((end == "min" and value < x[k - 1] - 1e-9)
                            or (end == "max" and value > x[-k] + 1e-9)):
            beyond.append(end)
    return rare, beyond
