"""Fidelity scores on hand-made tables where the answer is known, and on real data."""

from __future__ import annotations

import time

import numpy as np
import pandas as pd
import pytest

from clinisynth.audit import fidelity as fid
from clinisynth.schema import infer_schema


def frame(**cols) -> pd.DataFrame:
    return pd.DataFrame(cols)


def test_ks_and_wasserstein_on_known_distributions():
    a = pd.Series(np.arange(100, dtype=float))
    assert fid.ks_statistic(a, a.sample(frac=1, random_state=1)) == 0.0
    assert fid.ks_statistic(a, a + 1000) == 1.0
    # a shift of 10 on a column whose real range is 99 moves every quantile by 10/99
    assert fid.wasserstein_normalised(a, a + 10) == pytest.approx(10 / 99)
    # missing cells are left out, not counted as a value
    with_gaps = pd.concat([a, pd.Series([np.nan] * 30)], ignore_index=True)
    assert fid.ks_statistic(a, with_gaps) == 0.0


@pytest.mark.parametrize("seed", range(4))
def test_ks_statistic_equals_scipys(seed):
    """Same statistic as scipy.stats.ks_2samp, ties and unequal sizes included."""
    from scipy.stats import ks_2samp

    rng = np.random.default_rng(seed)
    real = pd.Series(np.round(rng.normal(size=150 + seed), 1))  # rounded: many ties
    syn = pd.Series(np.round(rng.normal(0.2 * seed, size=97), 1))
    expected = ks_2samp(real.to_numpy(), syn.to_numpy(), method="asymp").statistic
    assert fid.ks_statistic(real, syn) == pytest.approx(expected, abs=1e-15)


def test_total_variation_by_hand():
    real = pd.Series(["a"] * 6 + ["b"] * 4)
    syn = pd.Series(["a"] * 3 + ["b"] * 3 + ["c"] * 4)
    # |0.6-0.3| + |0.4-0.3| + |0-0.4| = 0.8, halved
    assert fid.tv_distance(real, syn) == pytest.approx(0.4)
    # 1, 1.0 and True-like codes are one category when numeric
    assert fid.tv_distance(pd.Series([1, 0, 1, 0]), pd.Series([1.0, 0.0, 1.0, 0.0])) == 0.0


def test_pair_trend_and_frobenius():
    rng = np.random.default_rng(0)
    x = rng.normal(size=500)
    real = frame(x=x, y=x + rng.normal(scale=0.1, size=500), z=rng.normal(size=500),
                 t=rng.integers(0, 2, 500))
    schema = infer_schema(real, "t")
    assert fid.pair_trend(real, real, schema) == 1.0
    flipped = real.assign(y=-real["y"])  # r(x, y) goes from ~1 to ~-1; other pairs unchanged
    pairs = {(p["a"], p["b"]): p for p in fid.correlation_pairs(real, flipped, schema)}
    xy = pairs["x", "y"]
    assert xy["correlation_similarity"] == pytest.approx(1 - abs(xy["real"] - xy["synthetic"]) / 2)
    assert xy["correlation_similarity"] < 0.02
    expected = np.mean([p["correlation_similarity"] for p in pairs.values()])
    assert fid.pair_trend(real, flipped, schema) == pytest.approx(expected)
    c_r = fid.correlation_matrix(real, schema)
    c_s = fid.correlation_matrix(flipped, schema)
    assert fid.correlation_columns(schema) == ["x", "y", "z", "t"]  # binary target included
    assert fid.corr_frobenius(c_r, c_r) == 0.0
    assert fid.corr_frobenius(c_r, c_s) == pytest.approx(np.linalg.norm(c_r - c_s))


def test_contingency_similarity_by_hand():
    real = frame(a=["x", "x", "y", "y"], b=["u", "v", "u", "v"], n=[1.0, 2, 3, 4])
    syn = frame(a=["x", "x", "x", "y"], b=["u", "u", "v", "v"], n=[1.0, 2, 3, 4])
    schema = infer_schema(real, "a", low_cardinality=2)
    (pair,) = fid.contingency_pairs(real, syn, schema)
    # joint shares real (xu, xv, yu, yv) = (.25, .25, .25, .25), synthetic (.5, .25, 0, .25)
    assert pair["contingency"] == pytest.approx(1 - 0.5 * (0.25 + 0 + 0.25 + 0))


def test_detection_separates_shifted_data_and_not_a_fresh_sample():
    rng = np.random.default_rng(0)

    def table(n, shift):
        return frame(a=rng.normal(shift, 1, n), b=rng.normal(size=n), y=rng.integers(0, 2, n))

    real = table(400, 0.0)
    schema = infer_schema(real, "y")
    same, _, n = fid.detection_auc(real, table(400, 0.0), schema, seed=0)
    far, _, _ = fid.detection_auc(real, table(400, 3.0), schema, seed=0)
    assert n == 400
    assert abs(same - 0.5) < 0.1
    assert far > 0.95


def test_fidelity_scores_on_breast_cancer(bc_70, bc_gmm):
    train, _, target = bc_70
    schema = infer_schema(train, target)
    result = fid.fidelity_scores(train, bc_gmm, schema, seed=0)
    assert len(result.columns) == 31
    numeric = [c for c in result.columns if c.kind == "continuous"]
    assert result.ks_mean == pytest.approx(np.mean([c.ks for c in numeric]))
    assert result.column("target").kind == "binary" and np.isnan(result.column("target").ks)
    assert 0 < result.ks_mean < 0.2 and 0 < result.wasserstein_mean < 0.1
    assert np.isnan(result.contingency_similarity)  # a single categorical column: no pair
    assert 0.9 < result.pair_trend <= 1.0
    assert result.corr_real.shape == (31, 31)
    # a column-shuffled table keeps every marginal but breaks every correlation
    rng = np.random.default_rng(0)
    shuffled = train.apply(lambda s: s.sample(frac=1, random_state=int(rng.integers(1e6)))
                           .to_numpy())
    broken = fid.fidelity_scores(train, shuffled, schema, seed=0)
    assert broken.ks_mean == 0.0
    assert broken.pair_trend < result.pair_trend - 0.1
    assert broken.corr_frobenius > 3 * result.corr_frobenius
    assert broken.detection_auc > 0.9


def test_fast_helpers_are_fast(bc_70, bc_gmm):
    from clinisynth.audit.privacy import dcr_share

    train, holdout, target = bc_70
    schema = infer_schema(train, target)
    calls = {
        "ks_mean": lambda: fid.ks_mean(train, bc_gmm, schema),
        "pair_trend": lambda: fid.pair_trend(train, bc_gmm, schema),
        "dcr_share": lambda: dcr_share(train, holdout, bc_gmm, schema, seed=0),
    }
    for name, call in calls.items():
        call()  # warm up
        start = time.perf_counter()
        for _ in range(3):
            call()
        per_call = (time.perf_counter() - start) / 3
        assert per_call < 0.2, f"{name} took {per_call:.3f} s"
