"""Attribute inference (anonymeter's attack, Giomi et al. 2023).

The attacker knows some columns of a patient (the auxiliary columns: the quasi-identifiers when
given, else every other column), finds the nearest synthetic row on those columns (mixed-type
distance of :mod:`clinisynth.audit.neighbours`) and guesses that row's value of the secret
column. A guess is right when it equals the secret (categorical; missing equals missing) or,
for a numeric secret, when ``|guess - secret| <= tolerance · |secret|`` (anonymeter's relative
5 %). Targets are training patients (attack) and holdout patients (control); the naive baseline
guesses the secret of a random synthetic row.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from clinisynth.audit.neighbours import nearest_indices
from clinisynth.audit.risk_stats import AttackResult

TOLERANCE = 0.05

MEANING = ("share of patients whose {secret} is guessed right from the nearest synthetic row on "
           "the columns an attacker knows, training patients against holdout patients")


def correct(guess: np.ndarray, truth: np.ndarray, numeric: bool,
            tolerance: float = TOLERANCE) -> np.ndarray:
    """Which guesses are right: equal (categorical) or within ``tolerance`` relative (numeric)."""
    both_missing = np.isnan(guess) & np.isnan(truth)
    with np.errstate(invalid="ignore"):
        hit = np.abs(guess - truth) <= tolerance * np.abs(truth) if numeric else guess == truth
    return both_missing | hit


def hits(x: np.ndarray, truth: np.ndarray, x_syn: np.ndarray, s_syn: np.ndarray,
         numeric: bool, rng: np.random.Generator) -> np.ndarray:
    """Per target: is the secret of its nearest synthetic row (on ``x``) a right guess?"""
    return correct(s_syn[nearest_indices(x, x_syn, 1, rng)[:, 0]], truth, numeric)


def inference(secret: str, numeric: bool, aux: Sequence[str],
              x_train: np.ndarray, x_hold: np.ndarray, x_syn: np.ndarray,
              s_train: np.ndarray, s_hold: np.ndarray, s_syn: np.ndarray,
              rng: np.random.Generator) -> AttackResult:
    """``x_*``: encodings of the auxiliary columns; ``s_*``: the secret (floats or codes)."""

    def attack(x: np.ndarray, s: np.ndarray) -> int:
        return int(hits(x, s, x_syn, s_syn, numeric, rng).sum())

    n = len(x_train)
    naive = s_syn[rng.integers(len(s_syn), size=n)]
    return AttackResult.from_counts(
        f"inference:{secret}", MEANING.format(secret=secret), attacks=n,
        successes=attack(x_train, s_train), control_successes=attack(x_hold, s_hold),
        control_attacks=len(x_hold), baseline_successes=int(correct(naive, s_train,
                                                                    numeric).sum()),
        secret=secret, auxiliary_columns=list(aux), numeric=numeric,
        tolerance=TOLERANCE if numeric else None,
    )
