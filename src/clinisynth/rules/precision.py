"""Recorded precision: the resolution at which a numeric column was written down.

A lab recorded to 0.1 holds only multiples of 0.1; ages in whole years only multiples of 1. The
*step* of a column is the largest ``s`` in the candidate set ``{1, 2, 2.5, 5} x 10^k`` (``k``
from -9 to 4) such that (all but 0.1 % of) the observed values ``x`` are multiples of ``s``
within float noise: ``|x - s·round(x/s)| <= min(1e-6·max(1, |x|), s/100)``. Powers of ten
(decimal places) need no further evidence; a step of 2, 2.5 or 5 times a power of ten, or a
power of ten above 1, needs at least :data:`MIN_DISTINCT` distinct values (else a few even
numbers would pass for a step of 2); a step below ``1e-7·max|x|`` is float repr, not a
recording. A column with no such step (measured to full float
precision) has step 0 and is never rounded.
"""

from __future__ import annotations

from decimal import Decimal

import numpy as np

#: share of values that must be multiples of the step (a few strays, e.g. one value in 7,874
#: written with an extra digit, do not make a column "unrounded")
MIN_SHARE = 0.999
#: a step finer than this times the largest magnitude is float repr, not a recording (about
#: seven significant digits)
MAX_DIGITS_SCALE = 1e-7
#: distinct values needed before a step other than 10^-k (k >= 0) is believed
MIN_DISTINCT = 20
_MANTISSAS = (5.0, 2.5, 2.0, 1.0)
_EXPONENTS = range(4, -10, -1)
_REL_TOL = 1e-6


def candidates() -> list[float]:
    """Candidate steps, largest first."""
    return [float(Decimal(str(m)) * Decimal(10) ** e) for e in _EXPONENTS for m in _MANTISSAS]


def learn_step(values: np.ndarray) -> float:
    """The recorded step of ``values`` (NaNs ignored), or 0.0 when there is none."""
    x = np.asarray(values, dtype=float)
    x = x[np.isfinite(x)]
    if x.size == 0:
        return 0.0
    distinct, counts = np.unique(x, return_counts=True)
    noise = _REL_TOL * np.maximum(1.0, np.abs(distinct))
    allowed = int(np.floor((1.0 - MIN_SHARE) * x.size))  # stray values tolerated
    finest = MAX_DIGITS_SCALE * float(np.abs(distinct).max())
    for step in candidates():
        if step < finest:
            break
        tol = np.minimum(noise, 0.01 * step)
        plain = step <= 1.0 and float(Decimal(str(step)).as_tuple().digits[0]) == 1.0
        if not plain and distinct.size < MIN_DISTINCT:
            continue
        off = np.abs(distinct - step * np.round(distinct / step)) > tol
        if counts[off].sum() <= allowed:
            return step
    return 0.0


def decimals(step: float) -> int:
    """Decimal places needed to write multiples of ``step`` exactly (0.25 -> 2, 5 -> 0)."""
    if step <= 0:
        return 15
    return max(0, -Decimal(str(step)).normalize().as_tuple().exponent)  # type: ignore[operator]


def round_to(values: np.ndarray, step: float) -> np.ndarray:
    """``values`` rounded to the nearest multiple of ``step`` (unchanged when step is 0)."""
    if not step or step <= 0:
        return values
    return np.round(np.round(values / step) * step, decimals(step))


def ceil_to(values: np.ndarray, step: float) -> np.ndarray:
    """The smallest multiple of ``step`` that is ``>= values`` (unchanged when step is 0)."""
    if not step or step <= 0:
        return values
    scaled = values / step
    k = np.round(scaled)
    k = np.where(k < scaled - _REL_TOL * np.maximum(1.0, np.abs(scaled)), k + 1, k)
    return np.round(k * step, decimals(step))


def floor_to(values: np.ndarray, step: float) -> np.ndarray:
    """The largest multiple of ``step`` that is ``<= values`` (unchanged when step is 0)."""
    return values if not step or step <= 0 else -ceil_to(-values, step)


#: coarser resolutions tried above a column's step (x10 each)
MIX_LEVELS = 3
#: a coarser resolution is believed when the share of values on it exceeds the share that
#: values recorded at the step land on it by chance (``10^-j``) by at least this much: a
#: density peaked at a round value (creatinine near 1.0) lands there more often than chance,
#: but not by this much
MIN_EXCESS = 0.3


def _on(x: np.ndarray, step: float) -> np.ndarray:
    return np.abs(x - step * np.round(x / step)) <= np.minimum(
        _REL_TOL * np.maximum(1.0, np.abs(x)), 0.01 * step)


def mix_levels(values: np.ndarray, step: float) -> list[float]:
    """The resolutions a column is recorded at, finest (``step``) first: ``step`` and each
    coarser ``step·10^j`` (``j <= MIX_LEVELS``) on which the share of values exceeds chance
    by :data:`MIN_EXCESS`; a single level when the column has one resolution."""
    x = np.asarray(values, dtype=float)
    x = x[np.isfinite(x)]
    if step <= 0 or x.size == 0:
        return [step]
    levels = [step]
    for j in range(1, MIX_LEVELS + 1):
        level = float(Decimal(str(step)) * Decimal(10) ** j)
        if level > np.abs(x).max():
            break
        if float(_on(x, level).mean()) - 10.0 ** -j >= MIN_EXCESS:
            levels.append(level)
    return levels


def on_shares(values: np.ndarray, levels: list[float]) -> list[float]:
    """``o_m``: the share of values that are multiples of each level (finest first)."""
    x = np.asarray(values, dtype=float)
    x = x[np.isfinite(x)]
    return [float(_on(x, level).mean()) if x.size else 0.0 for level in levels]


def shares_from_on(on: list[float], levels: list[float]) -> list[float]:
    """``q_j``, the share recorded at ``levels[j]``, from ``o_m`` (:func:`on_shares`):
    ``o_m = sum_{j>=m} q_j + sum_{j<m} q_j·levels[j]/levels[m]`` (a value recorded at a finer
    level lands on a coarser one by chance), solved, clipped at 0 and normalised."""
    if len(levels) < 2:
        return [1.0]
    a = np.array([[1.0 if j >= m else levels[j] / levels[m] for j in range(len(levels))]
                  for m in range(len(levels))])
    q = np.clip(np.linalg.lstsq(a, np.asarray(on, dtype=float), rcond=None)[0], 0.0, None)
    return (q / q.sum()).tolist() if q.sum() > 0 else [1.0] + [0.0] * (len(levels) - 1)


def mix_shares(values: np.ndarray, levels: list[float]) -> list[float]:
    """``q_j`` of ``values`` (:func:`shares_from_on` of :func:`on_shares`)."""
    return shares_from_on(on_shares(values, levels), levels)
