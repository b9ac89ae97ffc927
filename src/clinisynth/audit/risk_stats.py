"""Success rates, confidence intervals and the residual risk of a privacy attack.

Follows anonymeter (Giomi et al. 2023, ``anonymeter.stats.confidence``):

* success rate of ``k`` successes in ``n`` attacks: the Wilson score estimate
  ``p = (k + z²/2) / (n + z²)`` with error ``e = z/(n + z²) · sqrt(k(n-k)/n + z²/4)``,
  ``z`` the normal quantile of the confidence level (1.96 at 95 %); the interval is ``p ± e``
  clipped to [0, 1];
* risk: the attack's excess success on training patients over the same attack on holdout
  patients (the control), normalised by what was left to gain:
  ``risk = (attack - control) / (1 - control)``, its error propagated from both rates,
  ``e_r = sqrt((e_a/(1-c))² + (e_c (a-1)/(1-c)²)²)``; the value and interval are clipped to
  [0, 1] (0 = the synthetic data tells an attacker nothing about training patients that it does
  not tell about any patient of the same population).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from scipy.stats import norm

CONFIDENCE = 0.95


@dataclass(frozen=True)
class Rate:
    """A Wilson-score success rate with its symmetric error at the confidence level."""

    value: float
    error: float
    successes: float
    attacks: int

    @property
    def ci(self) -> tuple[float, float]:
        return _clip(self.value - self.error), _clip(self.value + self.error)


def _clip(x: float) -> float:
    return min(max(float(x), 0.0), 1.0)


def wilson(successes: float, attacks: int, confidence: float = CONFIDENCE) -> Rate:
    """The Wilson score estimate of a success rate (``successes`` of ``attacks``)."""
    if attacks <= 0:
        return Rate(float("nan"), float("nan"), float(successes), 0)
    z = float(norm.ppf(0.5 * (1.0 + confidence)))
    z2 = z * z
    k = min(max(float(successes), 0.0), float(attacks))
    denominator = attacks + z2
    value = (k + 0.5 * z2) / denominator
    error = z / denominator * math.sqrt(k * (attacks - k) / attacks + 0.25 * z2)
    return Rate(value, error, float(successes), int(attacks))


def residual_risk(attack: Rate, control: Rate) -> tuple[float, tuple[float, float]]:
    """``(attack - control) / (1 - control)`` clipped to [0, 1], with its propagated interval."""
    if not (math.isfinite(attack.value) and math.isfinite(control.value)):
        return float("nan"), (float("nan"), float("nan"))
    gap = 1.0 - control.value
    if gap <= 0:  # the control attack always succeeds: no residual risk can be measured
        return float("nan"), (float("nan"), float("nan"))
    value = (attack.value - control.value) / gap
    error = math.sqrt((attack.error / gap) ** 2
                      + (control.error * (attack.value - 1.0) / gap ** 2) ** 2)
    return _clip(value), (_clip(value - error), _clip(value + error))


@dataclass
class AttackResult:
    """One attack's outcome: main attack on training patients, the same attack on holdout
    patients (control) and a random-guess attacker (naive baseline), with their Wilson rates.

    ``risk`` is the residual risk of :func:`residual_risk`; ``meaning`` says in one line what a
    success is; ``details`` holds attack-specific settings (columns, tolerances, sizes).
    """

    name: str
    meaning: str
    attack: Rate
    control: Rate
    baseline: Rate
    risk: float
    risk_ci: tuple[float, float]
    details: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_counts(cls, name: str, meaning: str, attacks: int, successes: float,
                    control_successes: float, baseline_successes: float,
                    control_attacks: int | None = None, baseline_attacks: int | None = None,
                    **details: Any) -> AttackResult:
        attack = wilson(successes, attacks)
        control = wilson(control_successes, attacks if control_attacks is None
                         else control_attacks)
        baseline = wilson(baseline_successes, attacks if baseline_attacks is None
                          else baseline_attacks)
        risk, ci = residual_risk(attack, control)
        return cls(name, meaning, attack, control, baseline, risk, ci, dict(details))

    @property
    def attacks(self) -> int:
        return self.attack.attacks

    @property
    def risk_per_patient(self) -> float:
        """How far one target, counted the other way, moves the risk, on the side where it
        moves it most. For ``r = (a - c) / (1 - c)`` (the Wilson rates), one training target
        moves ``a`` by ``1/n_a``, and one holdout target moves ``c`` by ``1/n_c``, so the step
        is ``max(1 / (n_a (1 - c)), (1 - a) / (n_c (1 - c)²))``. Both terms are
        ``≈ 1 / (n (1 - c))`` when ``a ≈ c``: near 0.1 when the control succeeds for ~94 % of
        171 patients, and a single estimate then carries that much noise."""
        gap = 1.0 - self.control.value
        n_a, n_c = self.attack.attacks, self.control.attacks
        if n_a <= 0 or n_c <= 0 or gap <= 0:
            return float("nan")
        return max(1.0 / (n_a * gap), (1.0 - self.attack.value) / (n_c * gap * gap))

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name, "meaning": self.meaning, "attacks": self.attacks,
            "risk": self.risk, "risk_ci": list(self.risk_ci),
            "attack_rate": self.attack.value, "attack_ci": list(self.attack.ci),
            "attack_successes": self.attack.successes,
            "control_rate": self.control.value, "control_ci": list(self.control.ci),
            "control_successes": self.control.successes,
            "control_attacks": self.control.attacks,
            "baseline_rate": self.baseline.value, "baseline_ci": list(self.baseline.ci),
            "baseline_successes": self.baseline.successes,
            "baseline_attacks": self.baseline.attacks,
            "risk_per_patient": self.risk_per_patient,
            **self.details,
        }
