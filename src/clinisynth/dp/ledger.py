"""The privacy ledger: one budget, every charged read of the training rows, one accountant.

The privacy unit is one patient (one row; neighbouring tables differ by adding or removing
one). The ledger turns the stated ``(ε, δ)`` into a zCDP budget ``ρ`` (:func:`rho_of` at
``δ/2``; the other ``δ/2`` is what category thresholds may spend) and is the only way through
:class:`~clinisynth.dp.sensitive.Sensitive`: each mechanism first charges its cost, refusing to
spend past the budget (:class:`BudgetExceeded`), then reads the rows.

Mechanisms (``Δ``: L2 sensitivity of a histogram where each row adds 1 to one cell, so 1):

* :meth:`PrivacyLedger.gaussian_counts`: ``counts + N(0, σ²)``, ``ρ = 1/(2σ²)``;
* :meth:`PrivacyLedger.thresholded_counts`: the counts of the values a column holds, noisy
  as above, kept only above ``τ = 1 + σ·Φ⁻¹(1 - δ_c)``: a value one patient holds is released
  with probability at most ``δ_c`` (charged to the thresholds' ``δ``);
* :meth:`PrivacyLedger.exponential`: one of ``m`` candidates with probability
  ``∝ exp(ε·score / (2Δ))``, ``ε``-DP, ``ρ = ε²/8``; :meth:`PrivacyLedger.quantile` scores
  candidates by ``-|#{x <= c} - q·n|`` (sensitivity ``max(q, 1 - q) <= 1``).

The noise comes from the fit's random generator, so the same seed gives the same release.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy.stats import norm

from clinisynth.dp.accountant import (
    epsilon_of,
    exponential_rho,
    gaussian_rho,
    rho_of,
)
from clinisynth.dp.sensitive import Sensitive, UnchargedRead
from clinisynth.errors import ClinisynthError
from clinisynth.values import category_keys

ACCOUNTANT = ("zCDP: Gaussian noise costs 1/(2σ²), an ε-DP exponential mechanism ε²/8, costs "
              "add up; the total ρ is converted to (ε, δ) at δ/2, the other δ/2 covers the "
              "category thresholds")


class BudgetExceeded(ClinisynthError):
    """A mechanism would spend past the stated ε (or the thresholds' δ)."""


@dataclass(frozen=True)
class Entry:
    """One charged mechanism: who used it, on what, with which noise, at what cost."""

    step: str
    mechanism: str
    measured: str
    #: Gaussian noise σ, or the exponential mechanism's ε
    scale: float
    rho: float
    delta: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class PrivacyLedger:
    """The budget and every charge (see the module)."""

    def __init__(self, epsilon: float, delta: float, rng: np.random.Generator) -> None:
        if not (isinstance(epsilon, int | float) and math.isfinite(epsilon) and epsilon > 0):
            raise ClinisynthError(f"epsilon must be a positive number, got {epsilon!r}")
        if not (isinstance(delta, int | float) and 0 < delta < 1):
            raise ClinisynthError(f"delta must be in (0, 1), got {delta!r}")
        self.epsilon, self.delta = float(epsilon), float(delta)
        self.rho_budget = rho_of(self.epsilon, self.delta / 2)
        self.entries: list[Entry] = []
        self.charging = False
        self._rng = rng

    # -- budget ---------------------------------------------------------------------------------
    @property
    def rho_spent(self) -> float:
        return float(sum(e.rho for e in self.entries))

    @property
    def delta_thresholds(self) -> float:
        return float(sum(e.delta for e in self.entries))

    @property
    def rho_left(self) -> float:
        return max(self.rho_budget - self.rho_spent, 0.0)

    def epsilon_spent(self) -> float:
        """The ``ε`` of what was spent, at ``δ/2`` (plus the thresholds' ``δ``)."""
        return epsilon_of(self.rho_spent, self.delta / 2)

    def delta_spent(self) -> float:
        return self.delta / 2 + self.delta_thresholds if self.rho_spent > 0 else \
            self.delta_thresholds

    def protect(self, frame: pd.DataFrame) -> Sensitive:
        """The training rows behind the wrapper only this ledger opens."""
        return Sensitive(frame, self)

    def _charge(self, entry: Entry) -> None:
        if self.rho_spent + entry.rho > self.rho_budget * (1 + 1e-9):
            raise BudgetExceeded(
                f"privacy budget: {entry.step} would spend ρ {entry.rho:.4g} on {entry.measured}"
                f" with {self.rho_left:.4g} left of {self.rho_budget:.4g} (ε {self.epsilon:g})")
        if self.delta_thresholds + entry.delta > self.delta / 2 * (1 + 1e-9):
            raise BudgetExceeded(f"privacy budget: {entry.step}'s category thresholds would "
                                 f"spend δ past {self.delta / 2:g}")
        self.entries.append(entry)

    @contextmanager
    def _reading(self, entry: Entry) -> Iterator[None]:
        """Open the rows for the mechanism that just charged ``entry`` (and no other)."""
        if not self.entries or self.entries[-1] is not entry:
            raise UnchargedRead(f"{entry.step}: {entry.measured} was read without being "
                                "charged to the privacy ledger")
        self.charging = True
        try:
            yield
        finally:
            self.charging = False

    # -- mechanisms -----------------------------------------------------------------------------
    def gaussian_counts(self, data: Sensitive, counts: Callable[[pd.DataFrame], np.ndarray],
                        sigma: float, step: str, measured: str) -> np.ndarray:
        """``counts(rows)`` (a histogram: each row adds 1 to one cell) plus ``N(0, σ²)``."""
        entry = Entry(step, "gaussian", measured, float(sigma), gaussian_rho(sigma))
        self._charge(entry)
        with self._reading(entry):
            exact = np.asarray(counts(data.open(self)), dtype=float)
        return exact + self._rng.normal(0.0, sigma, exact.shape)

    def thresholded_counts(self, data: Sensitive, column: str, sigma: float, delta: float,
                           step: str) -> dict[Any, float]:
        """Noisy counts of the values ``column`` holds (missing left out), each kept only when
        above ``1 + σ·Φ⁻¹(1 - δ)``; keys are :func:`category_keys`."""
        entry = Entry(step, "gaussian, thresholded", f"values of '{column}'", float(sigma),
                      gaussian_rho(sigma), float(delta))
        self._charge(entry)
        with self._reading(entry):
            exact: dict[Any, int] = {}
            for k in category_keys(data.open(self)[column]):
                if k is not None:
                    exact[k] = exact.get(k, 0) + 1
        keys = sorted(exact, key=str)  # a fixed order, so the noise is reproducible
        noisy = np.array([exact[k] for k in keys], dtype=float) + self._rng.normal(
            0.0, sigma, len(keys))
        tau = 1.0 + sigma * float(norm.ppf(1.0 - delta))
        return {k: float(c) for k, c in zip(keys, noisy, strict=True) if c > tau}

    def exponential(self, data: Sensitive, scores: Callable[[pd.DataFrame], np.ndarray],
                    epsilon: float, sensitivity: float, step: str, measured: str) -> int:
        """The index of one candidate, with probability ``∝ exp(ε·score / (2Δ))``."""
        entry = Entry(step, "exponential", measured, float(epsilon), exponential_rho(epsilon))
        self._charge(entry)
        with self._reading(entry):
            s = np.asarray(scores(data.open(self)), dtype=float)
        logits = epsilon * (s - s.max()) / (2.0 * sensitivity)
        p = np.exp(logits)
        return int(self._rng.choice(len(s), p=p / p.sum()))

    def quantile(self, data: Sensitive, column: str, q: float, candidates: np.ndarray,
                 epsilon: float, step: str) -> float:
        """A candidate near the ``q``-quantile of ``column`` (missing left out): the
        exponential mechanism on ``-|#{x <= c} - q·n|``."""
        def scores(frame: pd.DataFrame) -> np.ndarray:
            x = pd.to_numeric(frame[column], errors="coerce").to_numpy(dtype=float)
            x = np.sort(x[np.isfinite(x)])
            below = np.searchsorted(x, candidates, side="right")
            return -np.abs(below - q * len(x))

        pick = self.exponential(data, scores, epsilon, max(q, 1 - q), step,
                                f"the {q:g}-quantile of '{column}'")
        return float(candidates[pick])

    # -- report ---------------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        return {"accountant": ACCOUNTANT, "epsilon": self.epsilon, "delta": self.delta,
                "rho_budget": self.rho_budget, "rho_spent": self.rho_spent,
                "epsilon_spent": self.epsilon_spent(), "delta_spent": self.delta_spent(),
                "entries": [e.to_dict() for e in self.entries]}

    def summary(self) -> str:
        """One line: what was spent of what, by how many mechanisms."""
        return (f"privacy ledger (zCDP): {len(self.entries)} mechanisms spent ρ "
                f"{self.rho_spent:.4g} of {self.rho_budget:.4g}: ε {self.epsilon_spent():.3g} "
                f"of {self.epsilon:g} at δ {self.delta_spent():.2g} of {self.delta:g}")
