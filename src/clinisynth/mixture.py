"""How a hybrid splits its rows among generators: weight specs and exact apportionment."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from clinisynth.errors import ClinisynthError
from clinisynth.generators import list_generators

WeightSpec = str | Mapping[str, float]


def parse_weights(text: str) -> WeightSpec:
    """Parse a CLI weight spec: ``uniform``, a generator name, or ``noise=1,gmm=2``."""
    text = text.strip()
    if "=" not in text:
        return text
    weights: dict[str, float] = {}
    for part in text.split(","):
        name, _, value = part.partition("=")
        name = name.strip()
        try:
            weights[name] = float(value)
        except ValueError:
            raise ClinisynthError(
                f"--weights: '{part.strip()}' is not name=number (e.g. noise=1,gmm=2)"
            ) from None
    return weights


def resolve_weights(spec: WeightSpec) -> dict[str, float]:
    """Normalised weights over registered generators; zero-weight generators are left out.

    ``"uniform"`` gives every registered generator the same weight; a generator name gives that
    generator weight 1; a mapping is checked (known names, finite, non-negative, positive sum).
    """
    names = list_generators()
    if isinstance(spec, str):
        if spec == "uniform":
            return {n: 1.0 / len(names) for n in names}
        if spec in names:
            return {spec: 1.0}
        raise ClinisynthError(
            f"weights: '{spec}' is not 'uniform' nor a generator ({', '.join(names)})"
        )
    weights = {}
    for name, value in spec.items():
        if name not in names:
            raise ClinisynthError(
                f"weights: unknown generator '{name}'; registered: {', '.join(names)}"
            )
        value = float(value)
        if not np.isfinite(value) or value < 0:
            raise ClinisynthError(f"weights: weight of '{name}' must be a non-negative number")
        weights[name] = value
    total = sum(weights.values())
    if total <= 0:
        raise ClinisynthError("weights: at least one weight must be positive")
    return {n: w / total for n, w in weights.items() if w > 0}


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
