"""The count step: drawn children-per-patient counts mapped onto the protected training
counts, their order kept; the guard's redraws leave that marginal alone."""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.stats import spearmanr

from clinisynth.linked import LinkedSynthesizer
from clinisynth.linked.cohort import simulate_cohort
from clinisynth.linked.counts import CountMarginal
from clinisynth.protected_ends import protected_counts
from conftest import FAST_PARAMS

PARENT = {"search": {"episodes": 6}, "generator_params": FAST_PARAMS}


def test_as_many_draws_as_patients_give_the_protected_counts_in_the_drawn_order():
    rng = np.random.default_rng(0)
    train = rng.poisson(4, 300) + 1
    train[:2] = 40  # two patients' extreme counts: clipped away
    marginal = CountMarginal.fit(train, k=5)
    drawn = rng.normal(4, 3, 300)
    out = marginal.apply(drawn, np.random.default_rng(1))
    assert np.array_equal(np.sort(out), np.sort(protected_counts(train, 5)))
    assert out.max() < 40
    assert spearmanr(drawn, out).statistic > 0.95


def test_ties_are_broken_by_the_seed_only():
    marginal = CountMarginal.fit(np.repeat(np.arange(1, 21), 5), k=5)
    drawn = np.full(50, 3.0)
    a = marginal.apply(drawn, np.random.default_rng(2))
    assert np.array_equal(a, marginal.apply(drawn, np.random.default_rng(2)))
    assert not np.array_equal(a, marginal.apply(drawn, np.random.default_rng(3)))
    again = CountMarginal.from_dict(marginal.to_dict())
    assert np.array_equal(a, again.apply(drawn, np.random.default_rng(2)))


def test_a_fitted_model_writes_the_protected_training_counts():
    tables = simulate_cohort(120, seed=3)
    syn = LinkedSynthesizer(seed=0, parent_options=PARENT).fit(tables, "status")
    fake = syn.sample(120, seed=5)
    def counts(t: dict[str, pd.DataFrame], table: str, key: str) -> np.ndarray:
        sizes = t[table].groupby(key).size()
        return t["patients"][key].map(sizes).fillna(0).to_numpy(dtype=int)

    for link in syn.links_.children:
        # the guard refuses patients here (syn.guard_report_), and their redraws keep counts
        real = protected_counts(counts(tables, link.table, link.key), syn.k)
        assert np.array_equal(np.sort(counts(fake, link.table, link.key)), np.sort(real)), \
            link.table
    assert syn.guard_report_["refused"] > 0


def test_counts_all_fewer_than_k_patients_hold_become_the_median():
    assert set(protected_counts(np.arange(1, 101), 5)) == {50.0}


def test_redraws_pair_by_counts_first_then_in_order():
    from clinisynth.linked.synthesizer import _same_counts_first
    wanted = np.array([[1, 0], [3, 1], [1, 0], [9, 9]])
    offered = np.array([[1, 0], [3, 1], [2, 2], [1, 0], [1, 0], [5, 5]])
    usable = np.array([True, False, True, True, True, True])
    slots, offers = _same_counts_first(wanted, offered, usable)
    pairs = dict(zip(slots.tolist(), offers.tolist(), strict=True))
    assert pairs[0] == 0 and pairs[2] == 3  # same counts, in order
    assert pairs[1] == 2 and pairs[3] == 4  # no usable [3, 1] or [9, 9]: the rest in order
    assert len(pairs) == 4
