"""Stored representation: how a recorded value was written into the file it came from.

A value recorded at ``d`` decimals is not always stored as the nearest float. SAS keeps a
numeric of length 3 to 7 bytes as its leading ``p`` significant bits (``p = 8·length − 11``:
13 bits for 3 bytes, 21 for 4), cut toward zero; a float32 export keeps 24 bits, rounded. A
text export then prints that float to ``σ`` significant digits. So 0.7 recorded and kept at 13
bits reads back as 0.69995117, and 17.4 as 17.3984375. Synthetic values written as clean
decimals (or as full floats) differ from every real value in their last digits, and a
real-vs-synthetic classifier separates them on that alone.

A column's *storage* is ``(d, p, mode)`` such that, for all but 0.1 % of its values ``x``,

    ``|keep_p(g) − x| <= ½ · 10^(e − σ_x + 1)``  (what printing to ``σ_x`` digits lost),

with ``g`` the recorded value (``round(x, d)``; for ``mode="trunc"``, which only moves values
toward zero, the first ``d``-decimal at or beyond ``|x|``), ``σ_x`` the significant digits
``x`` is written with (the shortest that read back as ``x``), ``e = floor(log10|x|)``, and
``keep_p(v) = m_p · 2^e`` for ``v = m · 2^e`` (``0.5 <= |m| < 1``), ``m_p`` the mantissa cut
(``"trunc"``) or rounded (``"round"``) to ``p`` bits. It is learned from the values alone
(:func:`learn_storage`), never from a name: the coarsest ``d`` first, where plain decimals
(``keep_53``) must not already fit, then the fewest ``p``; and only when at least 5 % of the
distinct values are written with 6 or more significant digits (short decimals such as 9.75
are a recorded step, however a few bits would also fit them). ``σ`` (``digits``) is the most
digits a fitting value is written with.

Synthetic values are written ``print_σ(keep_p(round(x, d)))``, except that a stored float at
least ``k`` training rows hold in one printed form is written in that form (``printed``, made
non-decreasing). Each part is non-decreasing, so :func:`store` is, and an inequality between
two stored columns survives it.
"""

from __future__ import annotations

from typing import Any

import numpy as np

#: share of values the storage must reproduce
MIN_SHARE = 0.999
#: decimals and significant bits tried
DECIMALS = range(0, 7)
BITS = range(11, 41)  # from float16's 11 significant bits
#: distinct values the search tries (the storage found is then checked on every value)
SEARCH_VALUES = 2000
#: a storage is sought only when this share of the distinct values is written with at least
#: ``LONG_DIGITS`` significant digits (short decimals such as 9.75 are explained by decimals)
LONG_SHARE, LONG_DIGITS = 0.05, 6


def keep_bits(v: np.ndarray, bits: int, mode: str) -> np.ndarray:
    """``v`` with its mantissa cut (``"trunc"``) or rounded (``"round"``) to ``bits`` bits."""
    m, e = np.frexp(np.asarray(v, dtype=float))
    scaled = np.ldexp(m, bits)
    kept = np.trunc(scaled) if mode == "trunc" else np.round(scaled)
    return np.ldexp(kept, e - bits)


def print_digits(v: np.ndarray, digits: int) -> np.ndarray:
    """``v`` rounded to ``digits`` significant digits (as ``float(f"{v:.{digits}g}")``; ties
    aside), unchanged from 17 digits."""
    v = np.asarray(v, dtype=float)
    if digits >= 17:
        return v
    out = v.copy()
    ok = np.isfinite(v) & (v != 0)
    shift = (digits - 1 - np.floor(np.log10(np.abs(v[ok])))).astype(int)
    up = shift >= 0  # divide by an exact power of ten: the correctly rounded decimal
    scaled = v[ok]
    res = np.empty_like(scaled)
    res[up] = np.round(scaled[up] * 10.0 ** shift[up]) / 10.0 ** shift[up]
    res[~up] = np.round(scaled[~up] / 10.0 ** -shift[~up]) * 10.0 ** -shift[~up]
    out[ok] = res
    return out


def written_digits(x: np.ndarray) -> np.ndarray:
    """Significant digits each value is written with (``repr``: the shortest that read back
    as the same float; 0 for 0)."""
    out = np.zeros(x.shape, dtype=int)
    for i, v in enumerate(x.tolist()):
        if v != 0:
            mantissa = repr(abs(v)).split("e")[0].replace(".", "").lstrip("0").rstrip("0")
            out[i] = max(len(mantissa), 1)
    return out


def print_tolerance(x: np.ndarray, digits: np.ndarray) -> np.ndarray:
    """Half a unit of the last significant digit each value is written with."""
    with np.errstate(divide="ignore"):
        e10 = np.floor(np.log10(np.abs(x)))
    tol = 0.5 * (1 + 1e-6) * 10.0 ** (e10 - digits + 1)
    return np.where(x == 0, 0.0, tol)


def recorded(x: np.ndarray, decimals: int, mode: str) -> np.ndarray:
    """The ``decimals``-decimal value each stored ``x`` came from: the nearest, or for a cut
    (toward zero) the first at or beyond ``|x|``."""
    if mode != "trunc":
        return np.round(x, decimals)
    scale = 10.0 ** decimals
    return np.sign(x) * np.ceil(np.abs(x) * scale - 1e-6) / scale


def _off(x: np.ndarray, tol: np.ndarray, decimals: int, bits: int, mode: str) -> np.ndarray:
    return np.abs(keep_bits(recorded(x, decimals, mode), bits, mode) - x) > tol


def learn_storage(values: np.ndarray, k: int = 5) -> dict[str, Any] | None:
    """The storage of ``values`` (module docstring), or None when plain decimals explain them
    or nothing in the search does."""
    x = np.asarray(values, dtype=float)
    x, counts = np.unique(x[np.isfinite(x)], return_counts=True)
    if x.size < 2:
        return None
    pick = np.unique(np.linspace(0, x.size - 1, min(x.size, SEARCH_VALUES)).astype(int))
    px, pc = x[pick], counts[pick]
    p_digits = written_digits(px)
    if (p_digits >= LONG_DIGITS).mean() < LONG_SHARE:
        return None  # short decimals: the recorded step explains them
    p_tol = print_tolerance(px, p_digits)
    p_allowed = int(np.floor((1.0 - MIN_SHARE) * pc.sum()))
    allowed = int(np.floor((1.0 - MIN_SHARE) * counts.sum()))
    digits: np.ndarray | None = None  # every value's, once a storage fits the probe
    for decimals in DECIMALS:  # the coarsest recording that explains the values
        if int(pc[_off(px, p_tol, decimals, 53, "round")].sum()) <= p_allowed:
            return None  # plain decimals: the recorded step covers the column
        for bits in BITS:
            for mode in ("trunc", "round"):
                if int(pc[_off(px, p_tol, decimals, bits, mode)].sum()) > p_allowed:
                    continue
                digits = written_digits(x) if digits is None else digits
                off = _off(x, print_tolerance(x, digits), decimals, bits, mode)
                if int(counts[off].sum()) <= allowed:
                    found = {"decimals": decimals, "bits": bits, "mode": mode,
                             "digits": int(digits[~off].max())}
                    return {**found, **_printed(x[~off], counts[~off], found, k)}
    return None


def with_printed(values: np.ndarray, storage: dict[str, Any], k: int = 5) -> dict[str, Any]:
    """A declared storage (``decimals``, ``bits``, ``mode``) with the digits and printed forms
    learned from the ``values`` it fits."""
    x = np.asarray(values, dtype=float)
    x, counts = np.unique(x[np.isfinite(x)], return_counts=True)
    found = {key: storage[key] for key in ("decimals", "bits", "mode")}
    digits = written_digits(x)
    fits = ~_off(x, print_tolerance(x, digits), found["decimals"], found["bits"],
                 found["mode"])
    found["digits"] = int(digits[fits].max()) if fits.any() else 17
    return {**found, **_printed(x[fits], counts[fits], found, k)}


def _printed(x: np.ndarray, counts: np.ndarray, storage: dict[str, Any], k: int
             ) -> dict[str, list]:
    """Stored floats whose most common printed form at least ``k`` rows hold, and that form
    (made non-decreasing along the stored floats)."""
    stored = keep_bits(recorded(x, storage["decimals"], storage["mode"]), storage["bits"],
                       storage["mode"])
    best: dict[float, tuple[float, int]] = {}
    for s, v, c in zip(stored.tolist(), x.tolist(), counts.tolist(), strict=True):
        if c > best.get(s, (v, 0))[1]:
            best[s] = (v, c)
    keys = sorted(s for s, (_, c) in best.items() if c >= k)
    forms = np.maximum.accumulate(np.array([best[s][0] for s in keys], dtype=float)) \
        if keys else np.zeros(0)
    return {"stored": keys, "printed": forms.tolist()}


def store(x: np.ndarray, storage: dict[str, Any]) -> np.ndarray:
    """Values written as the file stores them (module docstring); NaN stays NaN."""
    x = np.asarray(x, dtype=float)
    kept = keep_bits(np.round(x, storage["decimals"]), storage["bits"], storage["mode"])
    out = print_digits(kept, int(storage.get("digits", 17)))
    keys = np.asarray(storage.get("stored", []), dtype=float)
    if keys.size:
        i = np.clip(np.searchsorted(keys, kept), 0, keys.size - 1)
        hit = keys[i] == kept
        out[hit] = np.asarray(storage["printed"], dtype=float)[i[hit]]
    return out


def describe(storage: dict[str, Any]) -> str:
    """One line: ``recorded to 2 decimals, stored at 21 significant bits (cut)``."""
    how = "cut" if storage["mode"] == "trunc" else "rounded"
    return (f"recorded to {storage['decimals']} decimals, stored at {storage['bits']} "
            f"significant bits ({how})")
