"""How a hybrid splits its rows among generators: weight specs and exact apportionment."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

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


#: the generators ``"learned"`` and ``"uniform"`` weights range over by default: those that do
#: not build rows from real patients (benchmarks/results/mixture_tradeoff.md)
DEFAULT_GENERATORS = ("gmm", "cvae")

Generators = str | Sequence[str] | None


def resolve_generators(generators: Generators) -> list[str]:
    """The generators a hybrid's learned or uniform weights range over, in registry order.

    ``None``: :data:`DEFAULT_GENERATORS`; ``"all"``: every registered generator; a list: those
    (registered, distinct, at least one).
    """
    names = list_generators()
    if generators is None:
        return [n for n in names if n in DEFAULT_GENERATORS]
    if isinstance(generators, str):
        if generators == "all":
            return names
        raise ClinisynthError(f"generators: give 'all' or a list of generator names, e.g. "
                              f"['gmm', 'cvae'], got {generators!r}")
    if not all(isinstance(g, str) for g in generators):
        raise ClinisynthError("generators: give 'all' or a list of generator names")
    unknown = [g for g in generators if g not in names]
    if unknown:
        raise ClinisynthError(f"generators: unknown generator '{unknown[0]}'; registered: "
                              f"{', '.join(names)}")
    if len(set(generators)) != len(generators):
        raise ClinisynthError("generators: a generator is named twice")
    if not generators:
        raise ClinisynthError("generators: name at least one generator")
    return [n for n in names if n in generators]


def weights_range(spec: WeightSpec, generators: Generators) -> list[str] | None:
    """The generators ``spec`` may weight: the allowed set (:func:`resolve_generators`) for
    ``"learned"`` and ``"uniform"``, or whenever ``generators`` is given; ``None`` (any registered
    generator) for given weights under the default set."""
    ranged = isinstance(spec, str) and spec in ("learned", "uniform")
    return resolve_generators(generators) if ranged or generators is not None else None


def resolve_weights(spec: WeightSpec, generators: Sequence[str] | None = None
                    ) -> dict[str, float]:
    """Normalised weights over the allowed generators; zero-weight generators are left out.

    ``generators`` is the set allowed (default: every registered generator). ``"uniform"``
    gives each of them the same weight; a generator name gives that generator weight 1; a
    mapping is checked (allowed names, finite, non-negative, positive sum).
    """
    registered = list_generators()
    names = registered if generators is None else list(generators)
    if isinstance(spec, str):
        if spec == "uniform":
            return {n: 1.0 / len(names) for n in names}
        if spec in names:
            return {spec: 1.0}
        if spec in registered:
            raise ClinisynthError(f"weights: '{spec}' is not among generators "
                                  f"({', '.join(names)})")
        raise ClinisynthError(
            f"weights: '{spec}' is not 'uniform' nor a generator ({', '.join(registered)})"
        )
    weights = {}
    for name, value in spec.items():
        if name not in registered:
            raise ClinisynthError(
                f"weights: unknown generator '{name}'; registered: {', '.join(registered)}"
            )
        value = float(value)
        if not np.isfinite(value) or value < 0:
            raise ClinisynthError(f"weights: weight of '{name}' must be a non-negative number")
        if value > 0 and name not in names:
            raise ClinisynthError(f"weights: '{name}' is not among generators "
                                  f"({', '.join(names)})")
        weights[name] = value
    total = sum(weights.values())
    if total <= 0:
        raise ClinisynthError("weights: at least one weight must be positive")
    return {n: w / total for n, w in weights.items() if w > 0}
