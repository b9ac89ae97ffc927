"""Cell values compared as categories: one key for ``1``, ``1.0`` and ``np.int64(1)``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd


def to_native(value: Any) -> Any:
    """Turn a numpy/pandas scalar into the plain Python value JSON can hold."""
    return value.item() if isinstance(value, np.generic) else value


def category_key(value: Any) -> Any:
    """Equality key for a category: 1, 1.0 and np.int64(1) are the same code."""
    value = to_native(value)
    if isinstance(value, bool):
        return ("b", value)
    if isinstance(value, int | float):
        return ("n", float(value))
    return ("s", str(value))


def sort_key(value: Any) -> tuple[int, Any]:
    """Order of inferred categories: booleans, then numbers, then text."""
    if isinstance(value, bool):
        return (0, int(value))
    if isinstance(value, int | float):
        return (1, value)
    return (2, str(value))


def sorted_categories(values: list[Any]) -> list[Any]:
    """Distinct ``values`` sorted as ``astype("category")`` sorts them (first-seen order when
    their types cannot be compared): the categories of a decoded categorical column."""
    unique = pd.Index(list(values), dtype=object).unique()
    try:
        return list(unique.sort_values())
    except TypeError:
        return list(unique)


def held_counts(series: pd.Series) -> dict[Any, int]:
    """How many cells hold each category (values equal as categories counted together; missing
    cells left out), by :func:`category_key`."""
    counts: dict[Any, int] = {}
    for value, n in pd.Series(series.to_numpy(dtype=object)).value_counts().items():
        key = category_key(value)
        counts[key] = counts.get(key, 0) + int(n)
    return counts


def factorized_keys(series: pd.Series) -> tuple[np.ndarray, list[Any]]:
    """``(codes, keys)``: each cell's index into ``keys`` (-1 for a missing cell) and the
    distinct :func:`category_key` values; keys are computed once per distinct value, and
    booleans are kept apart from the numbers they equal (``True == 1`` in a hash table)."""
    values = series.to_numpy(dtype=object)
    if series.dtype.kind in "biuf":  # one Python type: hashing cannot merge a bool with 1
        parts = [np.arange(len(values))]
    else:
        is_bool = np.fromiter((type(v) in (bool, np.bool_) for v in values), dtype=bool,
                              count=len(values))
        parts = [np.flatnonzero(is_bool), np.flatnonzero(~is_bool)]
    codes = np.full(len(values), -1, dtype=np.int64)
    index: dict[Any, int] = {}
    for rows in parts:
        part_codes, uniques = pd.factorize(values[rows])
        lut = np.array([index.setdefault(category_key(u), len(index)) for u in uniques] + [-1],
                       dtype=np.int64)
        codes[rows] = lut[part_codes]
    return codes, list(index)


def category_keys(series: pd.Series) -> list[Any]:
    """The :func:`category_key` of each cell (None for a missing one)."""
    codes, keys = factorized_keys(series)
    table = [*keys, None]
    return [table[c] for c in codes.tolist()]


def category_codes(series: pd.Series, categories: list[Any]) -> np.ndarray:
    """Each cell's index in ``categories`` (matched by :func:`category_key`): -1 for a
    missing cell, ``len(categories)`` for a value that is not among them."""
    codes, keys = factorized_keys(series)
    index = {category_key(c): i for i, c in enumerate(categories)}
    lut = np.array([index.get(k, len(categories)) for k in keys] + [-1], dtype=np.int64)
    return lut[codes]


def apportion(n: int, shares: Mapping[str, float] | np.ndarray) -> np.ndarray:
    """Split ``n`` items in proportion to ``shares`` by largest remainder; sums to ``n`` exactly."""
    p = np.asarray(list(shares.values()) if isinstance(shares, Mapping) else shares, float)
    p = p / p.sum()
    raw = n * p
    counts = np.floor(raw).astype(int)
    short = n - counts.sum()
    if short:
        order = np.argsort(-(raw - counts), kind="stable")
        counts[order[:short]] += 1
    return counts

