"""Linkability (anonymeter's attack, Giomi et al. 2023).

The attacker holds two tables that describe the same patients by different columns (set A and
set B) and uses the synthetic table to join them: for a patient's A part and B part, the
``k`` nearest synthetic rows are found on A's columns and on B's columns (mixed-type distance
of :mod:`clinisynth.audit.neighbours`); the link succeeds when the two neighbour sets share a
synthetic row. Targets are training patients (attack) and holdout patients (control), as many
of each; the naive baseline draws the ``k`` neighbours at random.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from clinisynth.audit.neighbours import nearest_indices
from clinisynth.audit.risk_stats import AttackResult

MEANING = ("share of patients whose two halves (columns A, columns B) have the same nearest "
           "synthetic row, training patients against holdout patients")


def _links(idx_a: np.ndarray, idx_b: np.ndarray) -> int:
    """Targets whose neighbour sets on A and on B intersect."""
    return int(sum(bool(set(a) & set(b)) for a, b in zip(idx_a, idx_b, strict=True)))


def linkability(x_train: tuple[np.ndarray, np.ndarray], x_hold: tuple[np.ndarray, np.ndarray],
                x_syn: tuple[np.ndarray, np.ndarray], columns: tuple[Sequence[str], Sequence[str]],
                n_neighbors: int, rng: np.random.Generator) -> AttackResult:
    """``x_*`` are (A part, B part) encodings of the target rows and of the synthetic rows."""
    n = len(x_train[0])
    k = max(1, min(int(n_neighbors), len(x_syn[0])))

    def attack(parts: tuple[np.ndarray, np.ndarray]) -> int:
        idx = [nearest_indices(parts[h], x_syn[h], k, rng) for h in (0, 1)]
        return _links(*idx)

    success, control = attack(x_train), attack(x_hold)
    n_syn = len(x_syn[0])
    random_idx = [np.array([rng.choice(n_syn, size=k, replace=False) for _ in range(n)])
                  for _ in (0, 1)]
    return AttackResult.from_counts(
        "linkability", MEANING, attacks=n, successes=success, control_successes=control,
        control_attacks=len(x_hold[0]), baseline_successes=_links(*random_idx),
        n_neighbors=k, columns_a=list(columns[0]), columns_b=list(columns[1]),
    )
