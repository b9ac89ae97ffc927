"""Norm-Sub: non-negative, totals kept, noise in empty cells removed (and DP output with it)."""

import numpy as np
import pandas as pd

from clinisynth import HybridSynthesizer
from clinisynth.dp import tree
from clinisynth.dp.consistency import norm_sub


def test_totals_are_kept_and_cells_are_non_negative():
    rng = np.random.default_rng(0)
    noisy = rng.normal(0, 5, (4, 3, 7)) + rng.integers(0, 40, (4, 3, 7))
    out = norm_sub(noisy)
    assert out.shape == noisy.shape and (out >= 0).all()
    positive = noisy.sum(axis=-1) > 0
    assert np.allclose(out.sum(axis=-1)[positive], noisy.sum(axis=-1)[positive])
    assert (out.sum(axis=-1)[~positive] == 0).all()


def test_positive_counts_are_left_alone():
    counts = np.array([5.0, 1.0, 3.0])
    assert np.array_equal(norm_sub(counts), counts)


def test_empty_cells_lose_the_mass_clipping_gives_them():
    rng = np.random.default_rng(1)
    true = np.r_[1000.0, np.zeros(15)]
    noisy = true + rng.normal(0, 30, (500, 16))
    clipped_share = np.clip(noisy, 0, None)[:, 1:].sum() / np.clip(noisy, 0, None).sum()
    subbed = norm_sub(noisy)
    assert subbed[:, 1:].sum() / subbed.sum() < clipped_share / 2


def living_with_a_cause() -> float:
    """Share of DP rows of living patients that carry a cause of death (none of the real do)."""
    rng = np.random.default_rng(0)
    n = 4000
    died = rng.random(n) < 0.3
    causes = np.array([f"cause {i}" for i in range(5)])
    cause = np.where(died, rng.choice(causes, n), None)
    df = pd.DataFrame({"age": rng.integers(40, 90, n), "cause": cause,
                       "died": np.where(died, "yes", "no")})
    fake = HybridSynthesizer(epsilon=1.0, seed=0).fit(df, "died").sample(n, seed=0)
    return float(fake.loc[fake["died"] == "no", "cause"].notna().mean())


def test_a_cause_given_alive_stays_rare_in_dp_output(monkeypatch):
    """The noisy class × cause counts of the living are all noise: clipped at 0 they put a
    cause on about 6 % of living rows at ε = 1; Norm-Sub at least halves that."""
    subbed = living_with_a_cause()
    monkeypatch.setattr(tree, "norm_sub", lambda c: np.clip(c, 0.0, None))
    clipped = living_with_a_cause()
    assert subbed < clipped / 2, (subbed, clipped)
