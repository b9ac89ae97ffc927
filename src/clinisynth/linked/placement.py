"""Orders placed from a patient's drawn first value and gaps, monotone and bounded by
construction.

A patient's points are ``p_0 = first < p_1 < … < p_m``: a sequence of ``n`` rows has
``m = n - 1`` gaps (its orders are the points), intervals have ``m = n`` lengths (row ``t``
runs from ``p_{t-1}`` to ``p_t``, so they are contiguous). With the drawn gaps ``g_j > 0``
(through the training gaps' quantiles, where common gaps are runs of equal values: visits at
6 months and 1 year stay at 182 and 365 days),

    p_j = first + (last - first) · (g_1 + … + g_j) / (g_1 + … + g_m),
    last = min(first + g_1 + … + g_m, cap),

so the gaps are kept as drawn unless their sum would pass the parent's bound (``cap``), in
which case they shrink in proportion to end at it. The plan's drawn end (the parent's
``share``) is not imposed: it conditions the gaps through the patient's pace. Integer orders
are rounded; where the training orders strictly increase, a forward pass
(``p_j >= p_{j-1} + 1``) and a backward pass (``p_j <= p_{j+1} - 1``, ``p_m = last``) restore
strictness, possible because the link step keeps ``cap - first >= m``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd


def place_orders(plan: pd.DataFrame, n: np.ndarray, owner: np.ndarray, gaps: np.ndarray,
                 kind: str, integer: bool, strict: bool) -> tuple[np.ndarray, np.ndarray]:
    """Each row's order (start) and, for intervals, stop (module doc); rows in patient order."""
    first = plan["first"].to_numpy(dtype=float)
    m = n - 1 if kind == "sequence" else n
    m = np.maximum(m, 0)
    width = int(m.max(initial=0))
    t = _row_position(n)
    g = np.zeros((len(n), width))
    if width:
        lead = 1 if kind == "sequence" else 0  # a sequence's first row has no gap
        use = t > lead
        j = (t - 1 - lead)[use]
        drawn = np.nan_to_num(gaps[use], nan=1.0)
        g[owner[use], j] = np.where(drawn > 0, drawn, 1e-9)
    total = g.sum(axis=1, keepdims=True)
    cap = plan["cap"].to_numpy(dtype=float)
    last = np.minimum(first + total[:, 0], cap)
    if integer and strict:
        last = np.minimum(np.maximum(np.round(last), first + m), np.floor(cap))
    frac = np.divide(np.cumsum(g, axis=1), total, out=np.zeros_like(g), where=total > 0)
    points = first[:, None] + (last - first)[:, None] * frac
    inside = np.arange(width)[None, :] < m[:, None]
    if width:
        points[np.arange(len(n)), np.maximum(m - 1, 0)] = np.where(m > 0, last,
                                                                    points[:, 0])
    if integer:
        points = np.round(points)
        if strict and width:
            points = _strict(points, first, last, m, inside)
    full = np.column_stack([first, points]) if width else first[:, None]
    if kind == "sequence":
        start = full[owner, t - 1]
        return start, start
    return full[owner, t - 1], full[owner, t]


def _row_position(n: np.ndarray) -> np.ndarray:
    return np.concatenate([np.arange(1, k + 1) for k in n]) if n.sum() else np.zeros(0, int)


def _strict(points: np.ndarray, first: np.ndarray, last: np.ndarray, m: np.ndarray,
            inside: np.ndarray) -> np.ndarray:
    p = points.copy()
    lower = first.copy()
    for j in range(p.shape[1]):
        col = np.maximum(p[:, j], lower + 1)
        p[:, j] = np.where(inside[:, j], col, p[:, j])
        lower = np.where(inside[:, j], p[:, j], lower)
    upper = last + 1
    for j in range(p.shape[1] - 1, -1, -1):
        is_last = j == m - 1
        col = np.where(is_last, last, np.minimum(p[:, j], upper - 1))
        p[:, j] = np.where(inside[:, j], col, p[:, j])
        upper = np.where(inside[:, j], p[:, j], upper)
    return p
