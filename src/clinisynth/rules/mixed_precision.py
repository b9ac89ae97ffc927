"""Mixed recorded precision: a column written at two or more resolutions (flchain's
``kappa``: 88 % of values on 0.01, 12 % on 0.001), learned per class and reproduced.

``learn_mix`` finds the levels (:func:`mix_levels`) and the share of values on each level's
grid (:func:`on_shares`), overall and per class with at least :data:`MIN_MIX_ROWS` values.
``round_mixed`` writes each drawn value at a level drawn so that, with the values already on
the finest grid kept as they are (a real row's own value), every level ends up holding the
real share of its class's values.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from clinisynth.rules.precision import (
    ceil_to,
    floor_to,
    mix_levels,
    on_shares,
    round_to,
    shares_from_on,
)

#: rows of a class needed before its own resolution mix is learned (else the overall one)
MIN_MIX_ROWS = 30


def learn_mix(x: np.ndarray, step: float, labels: np.ndarray) -> dict[str, Any] | None:
    """``{"levels", "all", "by_class"}`` for a column recorded at several levels, else None
    (``labels``: each row's class index, -1 for none)."""
    levels = mix_levels(x, step)
    if len(levels) < 2:
        return None
    by_class = {}
    for i in np.unique(labels[labels >= 0]):
        rows = (labels == i) & np.isfinite(x)
        if rows.sum() >= MIN_MIX_ROWS:
            by_class[str(int(i))] = on_shares(x[rows], levels)
    return {"levels": levels, "all": on_shares(x, levels), "by_class": by_class}


def round_mixed(x: np.ndarray, mix: dict[str, Any], labels: np.ndarray,
                rng: np.random.Generator, lo: float | None, hi: float | None) -> np.ndarray:
    """``x`` written at the mix's levels (module doc), inside ``[lo, hi]``."""
    levels = mix["levels"]
    out = np.array(x, dtype=float)
    finite = np.isfinite(out)
    drawn = finite & (np.abs(out - round_to(out, levels[0])) > levels[0] * 1e-6)
    groups = [(np.ones(len(out), dtype=bool), mix["all"])]
    for key, on in mix["by_class"].items():
        groups[0][0][labels == int(key)] = False
        groups.append((labels == int(key), on))
    for members, target_on in groups:
        rows = np.flatnonzero(members & drawn)
        if not len(rows):
            continue
        kept = out[members & finite & ~drawn]
        n = len(rows) + len(kept)
        need = [(t * n - len(kept) * k) / len(rows)
                for t, k in zip(target_on, on_shares(kept, levels), strict=True)]
        probs = shares_from_on([min(max(v, 0.0), 1.0) for v in need], levels)
        pick = (rng.random(len(rows))[:, None] > np.cumsum(probs)[None, :]).sum(axis=1)
        for j, level in enumerate(levels):
            at = rows[pick == j]
            y = round_to(out[at], level)
            if j + 1 < len(levels):
                y = spread_last_digit(y, level, levels[j + 1], rng)
            if hi is not None:
                y = np.where(y > hi, floor_to(np.full(len(y), hi), level), y)
            if lo is not None:
                y = np.where(y < lo, ceil_to(np.full(len(y), lo), level), y)
            out[at] = y
    return out


def spread_last_digit(y: np.ndarray, level: float, coarser: float,
                      rng: np.random.Generator) -> np.ndarray:
    """Values recorded at ``level`` land on the ``coarser`` grid with chance
    ``level / coarser``; a draw built from real values (already on the coarser grid) lands
    there more often, so the excess rows move one ``level`` up or down (a seeded choice)."""
    on = np.flatnonzero(np.isfinite(y) & (np.abs(y - round_to(y, coarser)) < level / 2))
    excess = len(on) - int(round(len(y) * level / coarser))
    if excess <= 0:
        return y
    moved = rng.choice(on, size=excess, replace=False)
    y = y.copy()
    y[moved] = round_to(y[moved] + level * rng.choice([-1.0, 1.0], size=excess), level)
    return y
