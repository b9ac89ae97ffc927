"""Encode a real table, sample with gmm, calibrate, decode: the decoder's rules still hold."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.stats import ks_2samp

from clinisynth.calibration import CalibrationChain

CHAINS = [["histogram"], ["moment", "adaptive_soft"], ["moment", "iterative_soft"], ["soft"]]


def decoded_ks(encoder, real: pd.DataFrame, fake: pd.DataFrame) -> float:
    """Mean per-class two-sample KS over the numeric columns, in the table's own units."""
    target = encoder.schema.target
    values = []
    for label in real[target].unique():
        r, f = real[real[target] == label], fake[fake[target] == label]
        for col in encoder.stats_:
            values.append(ks_2samp(r[col].dropna(), f[col].dropna(), method="asymp").statistic)
    return float(np.mean(values))


@pytest.mark.parametrize("steps", CHAINS, ids="+".join)
def test_breast_cancer_end_to_end(steps, bc_case):
    case, encoder = bc_case, bc_case.encoder
    df = case.df
    chain = CalibrationChain(steps).fit(case.X, case.y, case.columns)
    X_cal = chain.transform(case.Xs, case.ys)
    plain = encoder.inverse_transform(case.Xs, case.ys)
    fake = encoder.inverse_transform(X_cal, case.ys)
    assert list(fake.columns) == list(df.columns)
    assert fake.dtypes.equals(df.dtypes)
    for col in encoder.schema.features:
        assert fake[col.name].between(col.min, col.max).all()
    assert (fake[encoder.schema.target].value_counts().sort_index()
            == df[encoder.schema.target].value_counts().sort_index()).all()
    before, after = decoded_ks(encoder, df, plain), decoded_ks(encoder, df, fake)
    assert after < before
    if steps == ["histogram"]:
        assert after < 0.02


@pytest.mark.parametrize("steps", CHAINS, ids="+".join)
def test_mixed_table_keeps_types_categories_and_missingness(steps, liver_case):
    """liver_pbc: integers, a text column, flags, ordinal stage, skewed labs and gaps."""
    df, case = liver_case.df, liver_case
    encoder, schema = case.encoder, case.encoder.schema
    chain = CalibrationChain(steps).fit(case.X, case.y, case.columns)
    X_cal = chain.transform(case.Xs, case.ys)
    plain = encoder.inverse_transform(case.Xs, case.ys)
    fake = encoder.inverse_transform(X_cal, case.ys)

    assert list(fake.columns) == list(df.columns)
    assert fake.dtypes.equals(plain.dtypes)
    for col in schema.features:
        series = fake[col.name]
        # the missing indicators are untouched: the same cells are missing as without calibration
        assert series.isna().equals(plain[col.name].isna()), col.name
        observed = series.dropna()
        if col.is_numeric:
            assert observed.between(col.min, col.max).all(), col.name
            if col.kind == "integer":
                assert (observed == np.round(observed)).all(), col.name
        else:
            # one-hot blocks are untouched: categories identical to the uncalibrated decode
            assert series.equals(plain[col.name]), col.name
            assert set(observed) <= set(col.categories), col.name
    y = fake[schema.target].map({c: i for i, c in enumerate(schema.classes)}).to_numpy()
    for name, rates in encoder.missing_rates_.items():
        for k, rate in enumerate(rates):
            rows = y == k
            assert fake.loc[rows, name].isna().sum() == round(rate * rows.sum()), (name, k)
    assert decoded_ks(encoder, df, fake) < decoded_ks(encoder, df, plain)
