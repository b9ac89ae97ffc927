"""zCDP accounting (Bun & Steinke 2016).

A mechanism is ``ρ``-zCDP; zCDP composes by adding ``ρ``. The Gaussian mechanism with L2
sensitivity ``Δ`` and noise ``σ`` is ``Δ²/(2σ²)``-zCDP; an ``ε``-DP mechanism (the exponential
mechanism) is ``ε²/8``-zCDP (Cesar & Rogers 2021). ``ρ``-zCDP implies
``(ρ + 2·sqrt(ρ·ln(1/δ)), δ)``-DP for every ``δ > 0``.
"""

from __future__ import annotations

import math


def epsilon_of(rho: float, delta: float) -> float:
    """The ``ε`` of ``ρ``-zCDP at ``δ``: ``ρ + 2·sqrt(ρ·ln(1/δ))``."""
    if rho <= 0:
        return 0.0
    return rho + 2.0 * math.sqrt(rho * math.log(1.0 / delta))


def rho_of(epsilon: float, delta: float) -> float:
    """The largest ``ρ`` whose ``(ε, δ)`` is within ``epsilon``: ``(sqrt(L + ε) - sqrt(L))²``
    with ``L = ln(1/δ)`` (the inverse of :func:`epsilon_of`)."""
    big_l = math.log(1.0 / delta)
    return (math.sqrt(big_l + epsilon) - math.sqrt(big_l)) ** 2


def gaussian_rho(sigma: float, sensitivity: float = 1.0) -> float:
    """``Δ²/(2σ²)``: the zCDP cost of Gaussian noise ``σ`` on an L2-sensitivity-``Δ`` query."""
    return sensitivity ** 2 / (2.0 * sigma ** 2)


def gaussian_sigma(rho: float, sensitivity: float = 1.0) -> float:
    """The noise that costs ``ρ``: ``Δ / sqrt(2ρ)``."""
    return sensitivity / math.sqrt(2.0 * rho)


def exponential_rho(epsilon: float) -> float:
    """``ε²/8``: the zCDP cost of an ``ε``-DP exponential mechanism."""
    return epsilon ** 2 / 8.0


def exponential_epsilon(rho: float) -> float:
    """The exponential mechanism's ``ε`` that costs ``ρ``: ``sqrt(8ρ)``."""
    return math.sqrt(8.0 * rho)
