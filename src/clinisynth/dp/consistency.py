"""Post-processing of noisy counts (free under DP: it reads only released values).

**Norm-Sub** (Wang, Lopuhaä-Zwakenberg et al., "Locally differentially private frequency
estimation with consistency", NDSS 2020): for a vector of noisy counts ``c`` (one conditional
distribution's cells) with noisy total ``T = Σ c``, return ``max(c − δ, 0)`` with the ``δ ≥ 0``
for which the result sums to ``T``. Clipping at 0 alone adds about ``0.4·σ`` of mass to every
cell whose true count is 0 (the positive half of its noise); on a column with many empty cells
given a class (a cause of death given "alive") that mass becomes rows no patient resembles.
Norm-Sub keeps the unbiased total and takes the excess off every cell alike, so empty cells go
back to 0 while large cells keep their proportions. A vector whose total is not positive
becomes all zeros (the caller falls back to its prior).
"""

from __future__ import annotations

import numpy as np


def norm_sub(counts: np.ndarray) -> np.ndarray:
    """Norm-Sub along the last axis (see the module): non-negative, each vector's sum kept."""
    c = np.asarray(counts, dtype=float)
    flat = c.reshape(-1, c.shape[-1]) if c.ndim else c.reshape(1, 1)
    out = np.zeros_like(flat)
    for r, row in enumerate(flat):
        total = float(row.sum())
        if total <= 0:
            continue
        ordered = np.sort(row)[::-1]
        shifts = (np.cumsum(ordered) - total) / np.arange(1, len(row) + 1)
        m = int(np.flatnonzero(ordered - shifts > 0)[-1])  # the largest cells kept
        out[r] = np.maximum(row - shifts[m], 0.0)
    return out.reshape(c.shape)
