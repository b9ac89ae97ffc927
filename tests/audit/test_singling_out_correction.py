"""The singling-out control's size correction against shares known by construction."""

from __future__ import annotations

import numpy as np
import pytest

from clinisynth.audit.singling_out import size_correction

HOLDOUT, TRAIN = 120, 280


def singles(u: np.ndarray, size: int) -> float:
    """Expected predicates singling out one of ``size`` rows: ``Σ size·u(1-u)^(size-1)``."""
    return float((size * u * (1 - u) ** (size - 1)).sum())


def holdout_matches(u: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Predicates × holdout rows, predicate ``p`` selecting a Binomial(HOLDOUT, u_p) count."""
    k = rng.binomial(HOLDOUT, u)
    return np.arange(HOLDOUT)[None, :] < k[:, None]


@pytest.mark.parametrize("typical", [1 / 400, 1 / 60], ids=["narrow", "broad"])
@pytest.mark.parametrize("seed", range(5))
def test_the_correction_recovers_the_true_ratio(typical, seed):
    # 500 predicates with log-normal shares around `typical`: narrow ones single out more
    # often in a larger table (ratio ~1.3), broad ones less often (~0.45)
    rng = np.random.default_rng(seed)
    u = np.clip(np.exp(rng.normal(np.log(typical), 0.8, 500)), 0.0, 1.0)
    truth = singles(u, TRAIN) / singles(u, HOLDOUT)
    estimate = size_correction(holdout_matches(u, rng), TRAIN)
    assert abs(truth - 1.0) > 0.25  # leaving the count alone would fail
    assert estimate == pytest.approx(truth, rel=0.15)


def test_no_correction_when_sizes_match_or_nothing_was_written():
    rng = np.random.default_rng(0)
    matches = holdout_matches(np.full(50, 0.01), rng)
    assert size_correction(matches, HOLDOUT) == 1.0
    assert size_correction(np.zeros((0, HOLDOUT), dtype=bool), TRAIN) == 1.0


def test_no_holdout_match_scales_with_the_table():
    # shares too small to show in the holdout: a predicate's chance of singling out grows
    # about in proportion to the table (s·u for u → 0)
    ratio = size_correction(np.zeros((500, HOLDOUT), dtype=bool), TRAIN)
    assert 0.9 * TRAIN / HOLDOUT <= ratio <= TRAIN / HOLDOUT
