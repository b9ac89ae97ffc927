"""A child column's draws: between training values, on the recorded grid (or mix of grids)."""

import numpy as np
import pytest
from scipy.stats import norm

from clinisynth.linked.sequence import Quantiles


def test_draws_fall_between_training_values_not_on_them():
    rng = np.random.default_rng(0)
    x = np.round(rng.lognormal(5.0, 0.6, 400), 0)  # whole units, like alkaline phosphatase
    q = Quantiles.fit(x, k=5)
    drawn = q.to_x(rng.standard_normal(5000), np.random.default_rng(1))
    assert np.all(drawn == np.round(drawn))  # on the recorded grid
    assert q.lo <= drawn.min() and drawn.max() <= q.hi  # inside the protected range
    # in the sparse upper tail, where the grid has room between patients' values, a draw
    # lands on a training value about half the time (picking training values: every time)
    tail = drawn > np.quantile(x, 0.9)
    assert np.isin(drawn[tail], x).mean() < 0.7


def test_quantiles_are_kept():
    rng = np.random.default_rng(2)
    x = np.round(rng.normal(10.0, 2.0, 2000), 1)
    q = Quantiles.fit(x, k=5)
    drawn = q.to_x(rng.standard_normal(20000), np.random.default_rng(3))
    for p in (0.1, 0.5, 0.9):
        assert abs(np.quantile(drawn, p) - np.quantile(x, p)) <= 0.15


@pytest.mark.parametrize("share_whole", [0.5, 0.8])
def test_a_mix_of_recorded_steps_is_kept(share_whole):
    """Half a lab's values in whole units and half to one decimal (pbcseq's `ast`) stay so."""
    rng = np.random.default_rng(4)
    x = rng.lognormal(4.7, 0.4, 3000)
    whole = rng.random(len(x)) < share_whole
    x = np.where(whole, np.round(x, 0), np.round(x, 1))
    q = Quantiles.fit(x, k=5)
    assert q.mix is not None
    drawn = q.to_x(norm.ppf(rng.random(20000)), np.random.default_rng(5))
    real = np.mean(x == np.round(x))
    assert abs(np.mean(drawn == np.round(drawn)) - real) < 0.05
