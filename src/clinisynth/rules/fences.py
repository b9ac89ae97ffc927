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
``[0, 1]``, ``x = p - max(g, g₀)``; ``g₀`` the smallest positive training gap for a strict
rule), rounds to the recorded step, then moves ``x`` into ``[L, U]``, ``L = max(lower)`` and
``U = min(upper)`` row-wise (:func:`fence_rounded`; a missing cell, where a rule says nothing,
counts as ``x``'s smallest training value below and its largest above). Every rule of the fence
then holds by construction for any value the generators draw: nested follow-up times (relapse
and adverse event before their combined time, that before death) keep their order however many
of them there are; a row the generators drew outside its fence lands on the bound (in-hospital
deaths have a stay equal to their follow-up), where the primary model keeps the others inside.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from clinisynth.rules.precision import ceil_to, floor_to


def new_fence() -> dict[str, Any]:
    """No column on either side; ``fill``: the fenced column's training ``[min, max]``."""
    return {"lower": [], "upper": [], "strict_lower": False, "strict_upper": False,
            "min_gap": 0.0, "fill": [None, None], "primary": None, "mode": "raw"}


def _spread(v: np.ndarray) -> float:
    v = v[np.isfinite(v)]
    return float(v.std()) if len(v) > 1 else 0.0


def choose_mode(x: np.ndarray, p: np.ndarray, side: str) -> str:
    """How ``x`` is modelled against its primary column ``p`` on ``side`` (module doc)."""
    if side == "lower":
        return "gap" if _spread(x - p) < _spread(x) else "raw"
    if np.nanmin(x) >= 0:
        with np.errstate(invalid="ignore"):
            logs = np.log1p(x)
            if _spread(logs - np.log1p(p)) < _spread(logs):
                return "share"
    return "below" if _spread(p - x) < _spread(x) else "raw"


def envelope(fence: dict[str, Any], values: dict[str, np.ndarray]
             ) -> tuple[np.ndarray | None, np.ndarray | None]:
    """``(L, U)`` row-wise from the fence's columns (None for a side without any)."""
    fill = fence.get("fill", [None, None])

    def side(columns: list[str], pick: Any, missing: float | None) -> np.ndarray | None:
        if not columns:
            return None
        stack = np.array([values[c] for c in columns], dtype=float)
        if missing is not None:
            stack = np.where(np.isnan(stack), missing, stack)
        return pick(stack, axis=0)

    return side(fence["lower"], np.max, fill[0]), side(fence["upper"], np.min, fill[1])


def mode(fence: dict[str, Any]) -> str:
    """``"gap"``, ``"share"``, ``"below"`` or ``"raw"`` (module doc)."""
    return fence["mode"]


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
    """The inverse of :func:`encode` (before :func:`fence_rounded` moves it into the fence)."""
    kind = fence["mode"]
    if kind in ("gap", "below"):
        strict = fence["strict_lower"] if kind == "gap" else fence["strict_upper"]
        g = np.maximum(z, fence["min_gap"] if strict else 0.0)
        return p + g if kind == "gap" else p - g
    if kind == "share":
        return np.clip(z, 0.0, 1.0) * p
    return z


def primary(fence: dict[str, Any], values: dict[str, np.ndarray]) -> np.ndarray | None:
    """The primary column's values (a missing cell as in :func:`envelope`), or None."""
    name = fence["primary"]
    if name is None or fence["mode"] == "raw":
        return None
    fill = fence.get("fill", [None, None])[0 if name in fence["lower"] else 1]
    v = np.asarray(values[name], dtype=float)
    return v if fill is None else np.where(np.isnan(v), fill, v)


def fence_rounded(x: np.ndarray, low: np.ndarray | None, high: np.ndarray | None,
                  fence: dict[str, Any], step: float) -> np.ndarray:
    """``x`` after rounding to ``step``, moved inside its fence: below ``L`` it becomes
    ``L`` rounded up to the step (one step above ``L`` rounded down, when strict); above ``U``
    it becomes ``U`` rounded down (one step below, when strict). Where ``L`` and ``U`` sit
    within one step of each other the upper side wins."""
    if low is not None:
        if fence["strict_lower"]:
            bottom = (floor_to(low, step) + step) if step else (
                low + fence["min_gap"] if fence["min_gap"] > 0 else np.nextafter(low, np.inf))
            x = np.where(x <= low, bottom, x)
        else:
            x = np.where(x < low, ceil_to(low, step), x)
    if high is not None:
        top = floor_to(high, step) if step else high
        if fence["strict_upper"]:
            top = top - step if step else np.nextafter(high, -np.inf)
        x = np.where(x > top, top, x)
    return x
