"""HybridSynthesizer: weights, apportionment, errors, guard, and the breast-cancer utility bar."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.ensemble import RandomForestClassifier
from sklearn.model_selection import train_test_split

from clinisynth import HybridSynthesizer
from clinisynth.errors import ClinisynthError, NotFittedError
from clinisynth.generators import list_generators
from clinisynth.steps.subsample import stratified_cap
from clinisynth.values import apportion
from clinisynth.weights import parse_weights, resolve_weights
from conftest import FAST_PARAMS


def test_apportion_is_exact_and_proportional():
    assert apportion(10, np.array([1, 1, 1])).tolist() == [4, 3, 3]
    assert apportion(7, {"a": 0.5, "b": 0.5}).sum() == 7
    counts = apportion(1000, np.array([0.1, 0.2, 0.7]))
    assert counts.tolist() == [100, 200, 700]


def test_weight_specs():
    assert parse_weights("noise=1,gmm=3") == {"noise": 1.0, "gmm": 3.0}
    assert resolve_weights({"noise": 1, "gmm": 3}) == {"noise": 0.25, "gmm": 0.75}
    assert set(resolve_weights("uniform")) == set(list_generators())
    assert resolve_weights({"noise": 0, "gmm": 2}) == {"gmm": 1.0}
    for bad, msg in [("nope", "not 'uniform'"), ({"x": 1}, "unknown generator 'x'"),
                     ({"gmm": -1}, "non-negative"), ({"gmm": 0}, "positive")]:
        with pytest.raises(ClinisynthError, match=msg):
            resolve_weights(bad)
    with pytest.raises(ClinisynthError, match="name=number"):
        parse_weights("noise=a")


def test_rows_split_by_weight(mixed_table):
    syn = HybridSynthesizer(weights={"gmm": 3, "smote": 1}, privacy_guard=False, seed=0)
    syn.fit(mixed_table, "outcome")
    X, y = syn.pipeline_.source.draw(np.array([40, 60]), np.random.default_rng(0))
    assert len(y) == 100
    assert np.bincount(y).tolist() == [40, 60]
    assert set(syn.generators_) == {"gmm", "smote"}  # zero-weight generators are not fitted


def test_sample_errors(mixed_table):
    with pytest.raises(NotFittedError):
        HybridSynthesizer().sample(5)
    syn = HybridSynthesizer(weights="gmm", seed=0).fit(mixed_table, "outcome")
    for n in (0, -3, 2.5):
        with pytest.raises(ClinisynthError, match="positive integer"):
            syn.sample(n)
    with pytest.raises(ClinisynthError, match="unknown class 'Maybe'"):
        syn.sample(5, class_counts={"Maybe": 5})
    with pytest.raises(ClinisynthError, match="sum to 4 but 5"):
        syn.sample(5, class_counts={"Yes": 4})


def test_fit_errors(mixed_table):
    with pytest.raises(ClinisynthError, match="needs a target"):
        HybridSynthesizer().fit(mixed_table)
    tiny = mixed_table.copy()
    tiny.loc[0, "outcome"] = "Rare"
    with pytest.raises(ClinisynthError, match="class 'Rare' has 1 row"):
        HybridSynthesizer(weights="gmm").fit(tiny, "outcome")
    with pytest.raises(ClinisynthError, match="generator_params for 'gmm'"):
        HybridSynthesizer(weights="gmm", generator_params={"gmm": {"bogus": 1}}).fit(
            mixed_table, "outcome")


def test_guard_refuses_copies_and_reports(mixed_table):
    """Refused rows are redrawn from the mixture until none is left (within max_rounds)."""
    syn = HybridSynthesizer(weights={"smote": 1, "gmm": 1}, privacy_guard={"max_rounds": 30},
                            seed=0).fit(mixed_table, "outcome")
    fake = syn.sample(600)
    report = syn.guard_report_
    assert report is not None and report.threshold > 0
    assert report.refused > 0 and report.remaining == 0
    assert not syn.guard_.refused(fake).any()
    # the guard on its own refuses the training rows themselves (all distinguishable here)
    assert syn.guard_.refused(mixed_table).mean() > 0.9


def test_guard_never_ships_a_refused_row(mixed_table):
    """SMOTE alone keeps landing beside patients: after max_rounds the rows still refused are
    redrawn from a generator that does not resample patients (GMM, fitted for that purpose);
    none is returned."""
    syn = HybridSynthesizer(weights="smote", privacy_guard={"max_rounds": 2}, seed=0)
    fake = syn.fit(mixed_table, "outcome").sample(600)
    assert "gmm" in syn.generators_ and "gmm" not in syn.weights_
    report = syn.guard_report_
    assert report.rounds == 2 and report.fallback > 0 and report.remaining == 0
    assert sum(report.by_rule.values()) == report.refused
    assert len(fake) == 600
    assert not syn.guard_.refused(fake).any()


def test_guard_stops_rather_than_ship_refused_rows(mixed_table, monkeypatch):
    """A guard that refuses everything makes sample fail with one line, never return rows."""
    syn = HybridSynthesizer(weights="gmm", calibration=None, privacy_guard={"max_rounds": 1},
                            seed=0).fit(mixed_table, "outcome")
    monkeypatch.setattr(syn.guard_, "check", lambda frame: (
        np.ones(len(frame), dtype=bool), np.full(len(frame), "distance", dtype=object)))
    with pytest.raises(ClinisynthError, match="still refused"):
        syn.sample(50)


def test_sample_is_a_pure_function_of_the_seed_and_chunks_concatenate(mixed_table, monkeypatch):
    """Same seed, same rows; produced in several chunks, the table equals the chunks joined."""
    import clinisynth.synthesizer as synthesizer

    syn = HybridSynthesizer(weights={"gmm": 1, "smote": 1}, calibration=None, seed=0)
    syn.fit(mixed_table, "outcome")
    a = syn.sample(250, seed=7)
    pd.testing.assert_frame_equal(a, syn.sample(250, seed=7))
    assert not a.equals(syn.sample(250, seed=8))
    monkeypatch.setattr(synthesizer, "CHUNK_ROWS", 100)
    plan = syn.chunk_plan(syn.class_plan(250))
    assert len(plan) == 3 and sum(int(c.sum()) for c in plan) == 250
    backwards = {i: syn.sample_chunk(plan[i], 7, i)[0] for i in reversed(range(len(plan)))}
    joined = pd.concat([backwards[i] for i in range(len(plan))], ignore_index=True)
    pd.testing.assert_frame_equal(syn.sample(250, seed=7), joined)


def test_hybrid_beats_the_accuracy_bar_without_copies(breast_cancer):
    """Issue 2: RF trained on 1,000 hybrid rows from 70% scores >= 0.90 on the other 30%."""
    df, target = breast_cancer
    train, test = train_test_split(df, test_size=0.3, stratify=df[target], random_state=0)
    syn = HybridSynthesizer(weights="uniform", seed=0, generator_params=FAST_PARAMS)
    fake = syn.fit(train, target).sample(1000)
    rf = RandomForestClassifier(random_state=0).fit(fake.drop(columns=target), fake[target])
    assert rf.score(test.drop(columns=target), test[target]) >= 0.90
    assert len(fake.merge(train, how="inner")) == 0


def test_max_rows_fits_a_stratified_subsample_and_never_reads_the_rest(mixed_table):
    """Above ``max_rows`` the model sees only its subsample: rows outside it can be changed
    at will (the schema held fixed) and the synthetic table stays the same, and the guard's
    reference is the subsample."""
    from clinisynth.schema import infer_schema

    schema = infer_schema(mixed_table, "outcome")
    kwargs = {"weights": {"gmm": 1, "smote": 1}, "seed": 3, "max_rows": 120}
    syn = HybridSynthesizer(**kwargs).fit(mixed_table, schema=schema)
    assert syn.fit_rows_ == (300, 120)
    assert len(syn.guard_.records_) == 120
    assert syn.class_counts_.sum() == 120
    real_share = mixed_table["outcome"].value_counts(normalize=True).sort_index()
    fitted = pd.Series(syn.class_counts_ / 120, index=syn.schema_.classes).sort_index()
    assert np.allclose(fitted.to_numpy(), real_share.to_numpy(), atol=0.01)
    # the subsample is the fit generator's first draw (default_rng(seed))
    used = stratified_cap(mixed_table, "outcome", 120, np.random.default_rng(3)).index
    unused = np.setdiff1d(mixed_table.index, used)
    changed = mixed_table.copy()
    changed.loc[unused, "bmi"] = changed.loc[unused, "bmi"] + 1.0  # inside the schema's range
    again = HybridSynthesizer(**kwargs).fit(changed, schema=schema)
    pd.testing.assert_frame_equal(syn.sample(200, seed=1), again.sample(200, seed=1))
    everything = HybridSynthesizer(**{**kwargs, "max_rows": None}).fit(mixed_table, schema=schema)
    assert everything.fit_rows_ == (300, 300) and len(everything.guard_.records_) == 300
    with pytest.raises(ClinisynthError, match="max_rows must be an integer"):
        HybridSynthesizer(max_rows=3).fit(mixed_table, "outcome")
