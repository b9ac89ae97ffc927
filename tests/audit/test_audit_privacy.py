"""Privacy: memorisation must be caught, an independent real sample must pass."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from clinisynth.audit import privacy as priv
from clinisynth.schema import infer_schema

from .helpers import split


def jitter(df: pd.DataFrame, target: str, scale: float = 1e-3, seed: int = 0) -> pd.DataFrame:
    """Training rows plus Gaussian noise of ``scale`` standard deviations (target untouched)."""
    rng = np.random.default_rng(seed)
    out = df.copy()
    for name in df.columns:
        if name != target:
            out[name] = df[name] + rng.normal(0, scale * df[name].std(), len(df))
    return out


@pytest.fixture(scope="module")
def bc_50(bc):
    """A 50/50 split: the train sample is the whole train, so full memorisation reads as 1."""
    df, target = bc
    train, holdout = split(df, target, 0.5)
    return train, holdout, target, infer_schema(train, target)


def test_ties_count_half_and_nnaa_by_hand():
    assert priv.closer_share(np.array([0.0, 1.0, 2.0, 3.0]), np.array([1.0, 1.0, 1.0, 3.0])) \
        == pytest.approx((1 + 0.5 + 0 + 0.5) / 4)
    real = np.array([[0.0], [10.0], [20.0]])
    # synthetic on top of the real rows: every d_RS = 0 < d_RR = 10 and d_SR = 0 < d_SS = 10
    assert priv.nnaa(real, real + 0.01) == 0.0
    # synthetic far from everything: every d_RS and d_SR exceed the within-set distances
    assert priv.nnaa(real, np.array([[1000.0], [1010.0], [1020.0]])) == 1.0


def test_training_rows_as_synthetic_are_flagged(bc_50):
    train, holdout, target, schema = bc_50
    result = priv.privacy_scores(train, holdout, train, schema, seed=0)
    m = result.sizes["equal_samples"]
    assert m == len(train)
    assert result.dcr_share == 1.0
    assert result.dcr_median == 0.0
    assert result.exact_copies == len(train) and result.holdout_exact_copies == 0
    assert result.nnaa_train == 0.0
    assert result.privacy_loss > 0.4
    assert result.mia_auc == 1.0


def test_training_rows_with_tiny_noise_are_flagged(bc_50):
    train, holdout, target, schema = bc_50
    result = priv.privacy_scores(train, holdout, jitter(train, target), schema, seed=0)
    assert result.dcr_share > 0.99
    assert result.exact_copies == 0  # not identical, yet ...
    assert result.dcr_median < 0.05 < result.dcr_holdout_median
    assert result.privacy_loss > 0.4
    assert result.mia_auc > 0.99


def test_an_independent_real_sample_passes(bc):
    df, target = bc
    rest, fresh = split(df, target, 0.25)  # 'synthetic' = real rows neither set has seen
    train, holdout = split(rest, target, 0.5)
    schema = infer_schema(train, target)
    result = priv.privacy_scores(train, holdout, fresh, schema, seed=0)
    assert abs(result.dcr_share - 0.5) < 0.1
    assert result.exact_copies == 0 == result.holdout_exact_copies
    assert abs(result.privacy_loss) < 0.1
    assert abs(result.mia_auc - 0.5) < 0.1


def test_unequal_split_shows_memorisation_in_proportion(bc_70):
    train, holdout, target = bc_70
    schema = infer_schema(train, target)
    result = priv.privacy_scores(train, holdout, train, schema, seed=0)
    m = result.sizes["equal_samples"]
    assert m == len(holdout)
    # only copies of the m sampled train rows can show: expected 0.5 + 0.5 m / |train|
    assert result.memorised_share == 0.5 + 0.5 * m / len(train)
    assert result.dcr_share == pytest.approx(result.memorised_share, abs=0.05)
    assert result.exact_copies == m and result.exact_copies_all_train == len(train)
    assert result.privacy_loss > 0.4 and result.mia_auc == 1.0


def test_discrete_table_compares_copies_with_the_holdout_baseline(cardiac):
    df, target = cardiac
    rest, fresh = split(df, target, 0.3)
    train, holdout = split(rest, target, 0.5)
    schema = infer_schema(train, target)
    result = priv.privacy_scores(train, holdout, fresh, schema, seed=0)
    # many real patients share a row: copies are common, and as common against holdout
    assert result.exact_copies > 50
    assert abs(result.exact_copies - result.holdout_exact_copies) < 0.25 * result.exact_copies
    assert abs(result.dcr_share - 0.5) < 0.1
    assert abs(result.privacy_loss) < 0.1
    memorised = priv.privacy_scores(train, holdout, train, schema, seed=0)
    assert memorised.dcr_share > result.dcr_share + 0.1
    assert memorised.privacy_loss > 0.1


def test_same_seed_same_scores_and_sampling_is_stated(bc_70, bc_gmm):
    train, holdout, target = bc_70
    schema = infer_schema(train, target)
    a = priv.privacy_scores(train, holdout, bc_gmm, schema, seed=3, sample=100)
    b = priv.privacy_scores(train, holdout, bc_gmm, schema, seed=3, sample=100)
    assert a.to_dict() == b.to_dict()
    # ``sample`` caps the query rows only; references stay whole (or equal-size samples)
    assert a.sizes == {"synthetic": 100, "train": 398, "equal_samples": 171,
                       "nnaa_train": 398, "nnaa_holdout": 171, "train_rows": 398,
                       "holdout": 100, "query_cap": 100}
    assert priv.dcr_share(train, holdout, bc_gmm, schema, seed=3, sample=100) == a.dcr_share


@pytest.mark.parametrize("rows, sample", [((300, 150, 469), 2000), ((100, 300, 70), 2000),
                                          ((300, 150, 469), 50), ((300, 150, 469), None)])
def test_dcr_share_scorer_equals_the_audit_path(breast_cancer, rows, sample):
    """The weight search's DcrShare (references encoded once) gives the audit's own DCR share:
    the same seeded samples and distances, for any synthetic table scored against them."""
    df, target = breast_cancer
    schema = infer_schema(df, target)
    n_train, n_hold, n_syn = rows
    train, holdout = df.iloc[:n_train], df.iloc[n_train:n_train + n_hold]
    scorer = priv.DcrShare(train, holdout, schema, seed=3, sample=sample)
    for start in (0, 50):
        synthetic = df.iloc[start:start + n_syn]
        e = priv.EncodedTables(train, holdout, synthetic, schema, 3, sample)
        _, d_train, d_hold = priv.dcr_distances(e)
        assert scorer(synthetic) == priv.closer_share(d_train, d_hold)
