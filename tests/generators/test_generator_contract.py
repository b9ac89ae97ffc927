"""One contract, checked for every registered generator (as imbalanced-learn's sampler checks).

Each generator is run alone through ``HybridSynthesizer`` on a mixed-type table and must give the
input's columns, order and dtypes; integers integral and inside the observed range; only observed
categories; each column's missing rate per class; the asked class counts; identical output under
the same seed and after a save/load round trip; no copy of a training row.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from clinisynth import HybridSynthesizer
from clinisynth.encoding import TableEncoder
from clinisynth.generators import get_generator, list_generators
from clinisynth.schema import infer_schema
from conftest import FAST_PARAMS

GENERATORS = list_generators()


def fit(table: pd.DataFrame, name: str, seed: int = 0) -> HybridSynthesizer:
    return HybridSynthesizer(weights=name, seed=seed, generator_params=FAST_PARAMS).fit(
        table, "outcome")


@pytest.fixture(scope="module", params=GENERATORS)
def fitted(request, mixed_table):
    syn = fit(mixed_table, request.param)
    return request.param, syn, syn.sample(600)


def test_registry_lists_the_five_generators():
    assert set(GENERATORS) >= {"noise", "interpolation", "gmm", "cvae", "smote"}
    for name in GENERATORS:
        assert get_generator(name).name == name


def test_columns_order_and_dtypes(fitted, mixed_table):
    _, _, fake = fitted
    assert list(fake.columns) == list(mixed_table.columns)
    assert fake.dtypes.to_dict() == mixed_table.dtypes.to_dict()
    assert len(fake) == 600


def test_numeric_ranges_and_integers(fitted, mixed_table):
    _, _, fake = fitted
    for col in ["age", "bmi", "lab"]:
        values = fake[col].dropna()
        assert values.min() >= mixed_table[col].min()
        assert values.max() <= mixed_table[col].max()
    assert (fake["age"] % 1 == 0).all()
    assert (fake["const"] == 7).all()


def test_only_observed_categories(fitted, mixed_table):
    _, _, fake = fitted
    for col in ["sex", "smoker", "stage", "site", "outcome"]:
        assert set(fake[col].dropna()) <= set(mixed_table[col].dropna())
    # every category of a common column is still produced
    assert set(fake["site"]) == set(mixed_table["site"])


def test_missing_rates_per_class(fitted, mixed_table):
    _, _, fake = fitted
    for col in ["lab", "stage"]:
        for label in ["Yes", "No"]:
            real = mixed_table.loc[mixed_table["outcome"] == label, col].isna().mean()
            rows = fake[fake["outcome"] == label]
            assert abs(rows[col].isna().mean() - real) <= 1.0 / len(rows) + 1e-12
    for col in ["age", "bmi", "sex", "site"]:
        assert not fake[col].isna().any()


def test_class_proportions_and_conditional_counts(fitted, mixed_table):
    name, syn, fake = fitted
    share = mixed_table["outcome"].value_counts(normalize=True)
    counts = fake["outcome"].value_counts()
    for label in share.index:
        assert abs(counts[label] - 600 * share[label]) <= 1
    cond = syn.sample(50, class_counts={"Yes": 40, "No": 10})
    assert cond["outcome"].value_counts().to_dict() == {"Yes": 40, "No": 10}


def test_same_seed_same_output_other_seed_differs(fitted, mixed_table):
    name, _, fake = fitted
    again = fit(mixed_table, name, seed=0).sample(600)
    pd.testing.assert_frame_equal(fake, again)
    other = fit(mixed_table, name, seed=1).sample(600)
    assert not fake.equals(other)


def test_save_load_round_trip(fitted, mixed_table, tmp_path):
    name, _, _ = fitted
    syn = fit(mixed_table, name, seed=3)
    syn.save(tmp_path / "model")
    loaded = HybridSynthesizer.load(tmp_path / "model")
    pd.testing.assert_frame_equal(syn.sample(200), loaded.sample(200))
    pd.testing.assert_frame_equal(syn.sample(80, class_counts={"Yes": 80}),
                                  loaded.sample(80, class_counts={"Yes": 80}))


def test_no_synthetic_row_copies_a_training_row(fitted, mixed_table):
    _, _, fake = fitted
    copies = fake.merge(mixed_table.drop_duplicates(), how="inner")
    assert len(copies) == 0


@pytest.mark.parametrize("name", GENERATORS)
def test_matrix_contract(name, mixed_table):
    """The generator itself: per-class counts, grouping by class, width, no NaN."""
    schema = infer_schema(mixed_table, "outcome")
    enc = TableEncoder(schema).fit(mixed_table)
    X, y = enc.transform(mixed_table, np.random.default_rng(0))
    gen = get_generator(name)(seed=0, **FAST_PARAMS.get(name, {})).fit(X, y, enc.blocks_)
    Xs, ys = gen.sample({1: 7, 0: 5})
    assert Xs.shape == (12, X.shape[1])
    assert ys.tolist() == [0] * 5 + [1] * 7
    assert np.isfinite(Xs).all()
    empty, ye = gen.sample({0: 0})
    assert empty.shape == (0, X.shape[1]) and len(ye) == 0
