"""A column held between other columns by inequality rules, and how the rules step models it.

A *fence* of column ``x`` lists the columns below it (``a <= x``, ``a < x``) and above it
(``x <= b``, ``x < b``), none of them depending on ``x``; one of them, ``p``, from the fence's
tightest rule, is its *primary* column. ``x`` is modelled relative to ``p``:

* ``gap``: ``x - p >= 0``, when ``p`` is below and the gap varies less than ``x`` does
  (``std(x - p) < std(x)``: a worst value above its mean value);
* ``share``: ``x / p`` in ``[0, 1]``, when ``p`` is above, ``x >= 0`` and the share varies less
  than ``x`` on a log scale (``std(log1p x - log1p p) < std(log1p x)``: a progression time that
  is the follow-up time for most patients, visits spread over the follow-up);
* ``below``: ``p - x >= 0``, when ``p`` is above, the share does not qualify and the gap varies
  less than ``x`` (a day that can fall before admission and sits close to the end);
* ``raw``: ``x`` itself, when nothing above qualifies: a length of stay of days bounded by a
  follow-up of years is not explained by it, and modelling it as a share would multiply every
  error of the share by years.

Decoding inverts the model (``x = p + max(g, g₀)``, ``x = s·p`` with ``s`` clipped to
``[0, 1]``, ``x = p - max(g, g₀)``; ``g₀`` the smallest positive training gap when the primary
column's rule is strict), rounds to the recorded step, then moves ``x`` into ``[L, U]``,
``L = max(lower)`` and ``U = min(upper)`` row-wise (:func:`fence_rounded`; a missing cell, where
a rule says nothing, counts as ``x``'s smallest training value below and its largest above).
Every rule of the fence then holds by construction for any value the generators draw, unless
the bound columns cross (columns no rule orders; the rule check redraws those rows): nested
follow-up times (relapse and adverse event before their combined time, that before death) keep
their order however many of them there are; a row the generators drew outside its fence lands
on the bound (in-hospital deaths have a stay equal to their follow-up), where the primary model
keeps the others inside.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from clinisynth.rules.precision import ceil_to, floor_to, round_to


def new_fence() -> dict[str, Any]:
    """No column on either side. ``strict``: the bound columns whose rule is strict (``<``);
    ``fill``: the fenced column's training ``[min, max]``; ``min_gap``: the smallest positive
    training gap to the primary column."""
    return {"lower": [], "upper": [], "strict": [], "min_gap": 0.0, "fill": [None, None],
            "primary": None, "mode": "raw"}


def fence_links(fences: dict[str, dict[str, Any]]) -> dict[str, list[str]]:
    """Each fenced column's bound columns (what it is computed from), in rule order."""
    return {name: fence["lower"] + fence["upper"] for name, fence in fences.items()}


def _spread(v: np.ndarray) -> float:
    v = v[np.isfinite(v)]
    return float(v.std()) if len(v) > 1 else 0.0


def choose_mode(x: np.ndarray, p: np.ndarray, side: str) -> str:
    """How ``x`` is modelled against its primary column ``p`` on ``side`` (module doc)."""
    if side == "lower":
        return "gap" if _spread(x - p) < _spread(x) else "raw"
    if np.nanmin(x) >= 0:
        with np.errstate(invalid="ignore", divide="ignore"):
            logs = np.log1p(x)
            if _spread(logs - np.log1p(p)) < _spread(logs):
                return "share"
    return "below" if _spread(p - x) < _spread(x) else "raw"


def _strict(fence: dict[str, Any]) -> list[str]:
    """The strict bound columns (a model saved with one flag per side: every column there)."""
    if "strict" in fence:
        return fence["strict"]
    return (fence["lower"] if fence.get("strict_lower") else []) + \
        (fence["upper"] if fence.get("strict_upper") else [])


def _filled(fence: dict[str, Any], name: str, values: dict[str, np.ndarray]) -> np.ndarray:
    """A bound column's values, a missing cell (where its rule says nothing) counting as the
    fenced column's smallest training value below and its largest above."""
    fill = fence.get("fill", [None, None])[0 if name in fence["lower"] else 1]
    v = np.asarray(values[name], dtype=float)
    return v if fill is None else np.where(np.isnan(v), fill, v)


def envelope(fence: dict[str, Any], values: dict[str, np.ndarray]
             ) -> dict[str, np.ndarray | None]:
    """Row-wise bounds: ``low`` (``x >= low``) and ``low_strict`` (``x > low_strict``), the
    largest of the non-strict and of the strict lower columns, and ``high``/``high_strict``
    the smallest upper ones (None where a side has no such column)."""
    strict = set(_strict(fence))

    def pick(columns: list[str], how: Any) -> np.ndarray | None:
        if not columns:
            return None
        return how(np.array([_filled(fence, c, values) for c in columns]), axis=0)

    return {"low": pick([c for c in fence["lower"] if c not in strict], np.max),
            "low_strict": pick([c for c in fence["lower"] if c in strict], np.max),
            "high": pick([c for c in fence["upper"] if c not in strict], np.min),
            "high_strict": pick([c for c in fence["upper"] if c in strict], np.min)}


def encode(x: np.ndarray, p: np.ndarray | None, fence: dict[str, Any]) -> np.ndarray:
    """The modelled value of ``x`` against its primary column's values ``p`` (module doc);
    missing ``x`` stays missing."""
    kind = fence["mode"]
    with np.errstate(divide="ignore", invalid="ignore"):
        if kind == "gap":
            out = x - p
        elif kind == "below":
            out = p - x
        elif kind == "share":
            out = np.where(p > 0, x / p, 0.0)
        else:
            out = x
    return np.where(np.isnan(x), np.nan, out)


def decode(z: np.ndarray, p: np.ndarray | None, fence: dict[str, Any]) -> np.ndarray:
    """The inverse of :func:`encode` (before :func:`fence_rounded` moves it into the fence);
    a gap is at least ``min_gap`` only when the primary column's own rule is strict."""
    kind = fence["mode"]
    if kind in ("gap", "below"):
        strict = fence["primary"] in _strict(fence)
        g = np.maximum(z, fence["min_gap"] if strict else 0.0)
        return p + g if kind == "gap" else p - g
    if kind == "share":
        return np.clip(z, 0.0, 1.0) * p
    return z


def primary(fence: dict[str, Any], values: dict[str, np.ndarray]) -> np.ndarray | None:
    """The primary column's values (a missing cell filled as in :func:`envelope`), or None."""
    if fence["primary"] is None or fence["mode"] == "raw":
        return None
    return _filled(fence, fence["primary"], values)


def fence_rounded(x: np.ndarray, bounds: dict[str, np.ndarray | None], step: float,
                  min_gap: float = 0.0) -> np.ndarray:
    """``x`` (rounded to ``step``) moved inside its bounds (:func:`envelope`), each move on the
    step's grid: below ``low`` to ``low`` rounded up, at or below ``low_strict`` to the next
    grid value above it, above ``high`` to ``high`` rounded down, at or above ``high_strict``
    to the next grid value below it (with no step: the bound itself, or the next float, or
    ``min_gap`` past a strict lower bound). Where no grid value fits between the bounds (a
    whole-day column between two bounds 0.2 days apart) the row takes the middle of the
    bounds, off the grid; where the bounds themselves cross (columns no rule orders) the upper
    bound wins and the rule check sees the row."""
    low, low_s = bounds["low"], bounds["low_strict"]
    high, high_s = bounds["high"], bounds["high_strict"]
    if low is not None:
        x = np.where(x < low, ceil_to(low, step) if step else low, x)
        if step:
            x = np.where(x < low, round_to(x + step, step), x)
    if low_s is not None:
        if step:
            x = np.where(x <= low_s, round_to(floor_to(low_s, step) + step, step), x)
            x = np.where(x <= low_s, round_to(x + step, step), x)
        else:
            up = low_s + min_gap if min_gap > 0 else np.nextafter(low_s, np.inf)
            x = np.where(x <= low_s, up, x)
    if high is not None:
        x = np.where(x > high, floor_to(high, step) if step else high, x)
        if step:
            x = np.where(x > high, round_to(x - step, step), x)
    if high_s is not None:
        if step:
            x = np.where(x >= high_s, round_to(ceil_to(high_s, step) - step, step), x)
            x = np.where(x >= high_s, round_to(x - step, step), x)
        else:
            x = np.where(x >= high_s, np.nextafter(high_s, -np.inf), x)
    lows = [b for b in (low, low_s) if b is not None]
    highs = [b for b in (high, high_s) if b is not None]
    if lows and highs:
        floor, top = np.maximum.reduce(lows), np.minimum.reduce(highs)
        breaks = outside(x, bounds)
        room = (floor < top) | ((floor == top) & (low_s is None) & (high_s is None))
        x = np.where(breaks & room, (floor + top) / 2.0, x)
    return x


def outside(x: np.ndarray, bounds: dict[str, np.ndarray | None]) -> np.ndarray:
    """Rows where ``x`` breaks one of its bounds (:func:`envelope`)."""
    out = np.zeros(len(x), dtype=bool)
    for key, broken in (("low", np.less), ("low_strict", np.less_equal),
                        ("high", np.greater), ("high_strict", np.greater_equal)):
        if bounds[key] is not None:
            out |= broken(x, bounds[key])
    return out
