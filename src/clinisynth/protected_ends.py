"""Protected ends of a numeric column: the range no value fewer than ``k`` patients hold marks.

From the ``k``-th smallest (largest) value, the bound moves toward the middle on the column's
grid until it is a value held by no patient or by at least ``k``; values beyond it are clipped
to it. The protect step (:mod:`clinisynth.steps.protect`) bounds every modelled column this way,
and the linked audit clips the training patients' child counts by the same rule for the floor
a protected model can reach.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np


def inward(start: float, direction: int, distinct: np.ndarray, counts: np.ndarray,
           step: float, k: int, snap: Callable[[float], float]) -> float:
    """From ``start`` (the ``k``-th value from one end), the first value toward the middle on
    the ``step`` grid (``snap`` rounds onto it) held by no patient or by at least ``k``
    (without a grid, or where a step no longer moves a float: halfway to the next distinct
    value, which no patient holds). At most one move per distinct value."""
    value = start
    for _ in range(len(distinct) + 1):
        i = int(np.searchsorted(distinct, value))
        held = int(counts[i]) if i < len(distinct) and abs(distinct[i] - value) <= 1e-9 else 0
        if held == 0 or held >= k:
            return float(value)
        moved = snap(value + direction * step) if step > 0 else value
        if moved == value:
            j = i + direction
            nxt = float(distinct[j]) if 0 <= j < len(distinct) else value
            return float((value + nxt) / 2)
        value = moved
    return float(value)


def protected_range(x: np.ndarray, step: float, k: int, snap: Callable[[float], float]
                    ) -> tuple[float, float] | None:
    """The protected ends ``(lo, hi)`` of the sorted finite values ``x`` on the ``step`` grid
    (:func:`inward` from the ``k``-th value at each end), or None under ``2k`` values."""
    if len(x) < 2 * k:
        return None
    distinct, held = np.unique(x, return_counts=True)
    return (inward(float(x[k - 1]), +1, distinct, held, step, k, snap),
            inward(float(x[-k]), -1, distinct, held, step, k, snap))


def protected_counts(n: np.ndarray, k: int) -> np.ndarray:
    """Counts (children per patient) clipped to their protected ends on the integer grid
    (unchanged when fewer than ``2k`` patients; where the ends cross, as when every count is
    held by fewer than ``k`` patients, all become the median, as the protect step does)."""
    n = np.asarray(n, dtype=float)
    ends = protected_range(np.sort(n), 1.0, k, round)
    if ends is None:
        return n
    lo, hi = ends
    if lo > hi:
        lo = hi = float(round(np.median(n)))
    return np.clip(n, lo, hi)
