"""The privacy ledger: accounting, the budget it refuses to pass, and reads it never allows
uncharged."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from clinisynth.dp import BudgetExceeded, PrivacyLedger, UnchargedRead, epsilon_of, rho_of
from clinisynth.dp.ledger import Entry


def test_rho_and_epsilon_are_inverse():
    for eps in (0.1, 1.0, 10.0):
        for delta in (1e-5, 1e-8):
            assert epsilon_of(rho_of(eps, delta), delta) == pytest.approx(eps, rel=1e-9)


def test_mechanisms_charge_first_and_refuse_past_the_budget():
    ledger = PrivacyLedger(1.0, 1e-6, np.random.default_rng(0))
    data = ledger.protect(pd.DataFrame({"x": np.arange(100)}))
    sigma = 1 / np.sqrt(2 * ledger.rho_budget / 2)  # half the budget
    ledger.gaussian_counts(data, lambda f: np.bincount(f["x"] % 4), sigma, "t", "x mod 4")
    ledger.gaussian_counts(data, lambda f: np.bincount(f["x"] % 4), sigma, "t", "x mod 4")
    assert ledger.rho_spent == pytest.approx(ledger.rho_budget)
    assert ledger.epsilon_spent() == pytest.approx(1.0)
    with pytest.raises(BudgetExceeded, match="would spend"):
        ledger.gaussian_counts(data, lambda f: np.bincount(f["x"] % 4), sigma, "t", "again")
    assert len(ledger.entries) == 2


def test_the_rows_cannot_be_read_uncharged():
    ledger = PrivacyLedger(1.0, 1e-6, np.random.default_rng(0))
    data = ledger.protect(pd.DataFrame({"x": np.arange(10)}))
    for read in (len, lambda d: d["x"], lambda d: d.mean(), lambda d: list(d),
                 lambda d: d.open(ledger), lambda d: np.asarray(d)):
        with pytest.raises(UnchargedRead):
            read(data)
    other = PrivacyLedger(1.0, 1e-6, np.random.default_rng(0))
    with pytest.raises(UnchargedRead):
        data.open(other)
    assert data.map(lambda f: f * 2).columns == ["x"]  # row-wise maps stay wrapped


def test_a_mechanism_that_does_not_charge_cannot_open_the_rows():
    """A leaky mechanism (reading without charging) is refused, and the ledger stays empty."""
    class Leaky(PrivacyLedger):
        def peek(self, data):
            with self._reading(Entry("leaky", "none", "everything", 0.0, 0.0)):
                return data.open(self)

    ledger = Leaky(1.0, 1e-6, np.random.default_rng(0))
    with pytest.raises(UnchargedRead, match="without being charged"):
        ledger.peek(ledger.protect(pd.DataFrame({"x": [1, 2]})))
    assert ledger.entries == []


def test_thresholded_counts_hide_a_value_one_patient_holds():
    ledger = PrivacyLedger(10.0, 1e-6, np.random.default_rng(0))
    values = ["a"] * 300 + ["b"] * 200 + ["Ω-canary"]
    data = ledger.protect(pd.DataFrame({"c": values}))
    sigma = 1 / np.sqrt(2 * ledger.rho_budget / 4)
    kept = ledger.thresholded_counts(data, "c", sigma, 1e-7, "t")
    assert {k[1] for k in kept} == {"a", "b"}
    assert ledger.delta_spent() <= ledger.delta
