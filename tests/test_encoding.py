"""The encoder is reversible: decode(encode(table)) gives the table back."""

from __future__ import annotations

import numpy as np
import pandas as pd

from clinisynth.encoding import (
    MISSING,
    NUMERIC,
    ONEHOT,
    QUOTA_MIN_ROWS,
    TableEncoder,
    quota_codes,
)
from clinisynth.schema import infer_schema


def test_round_trip_restores_values_dtypes_and_gaps(mixed_table):
    schema = infer_schema(mixed_table, "outcome")
    enc = TableEncoder(schema).fit(mixed_table)
    X, y = enc.transform(mixed_table, np.random.default_rng(0))
    assert np.isfinite(X).all()
    back = enc.inverse_transform(X, y)
    pd.testing.assert_frame_equal(back, mixed_table, check_exact=False, rtol=1e-9)


def test_block_layout(mixed_table):
    schema = infer_schema(mixed_table, "outcome")
    enc = TableEncoder(schema).fit(mixed_table)
    kinds = {(b.column, b.kind): b.width for b in enc.blocks_}
    assert kinds[("age", NUMERIC)] == 1
    assert kinds[("site", ONEHOT)] == 3
    assert kinds[("lab", MISSING)] == 1 and kinds[("stage", MISSING)] == 1
    assert not any(b.column in ("const", "outcome") for b in enc.blocks_)
    assert enc.n_features_ == sum(b.width for b in enc.blocks_)


def test_hot_deck_keeps_gap_fills_within_class(mixed_table):
    schema = infer_schema(mixed_table, "outcome")
    enc = TableEncoder(schema).fit(mixed_table)
    X, y = enc.transform(mixed_table, np.random.default_rng(0))
    lab = next(b for b in enc.blocks_ if b.column == "lab" and b.kind == NUMERIC)
    s = enc.stats_["lab"]
    filled = X[:, lab.start] * s["std"] + s["mean"]
    gaps = mixed_table["lab"].isna().to_numpy()
    for k in range(len(schema.classes)):
        donors = set(np.round(mixed_table.loc[(y == k) & ~gaps, "lab"], 9))
        assert set(np.round(filled[(y == k) & gaps], 9)) <= donors


def test_decoding_clips_rounds_and_snaps(mixed_table):
    schema = infer_schema(mixed_table, "outcome")
    enc = TableEncoder(schema).fit(mixed_table)
    X, y = enc.transform(mixed_table, np.random.default_rng(0))
    wild = X * 5 + np.random.default_rng(1).normal(0, 3, X.shape)
    out = enc.inverse_transform(wild, y)
    assert out["age"].between(mixed_table["age"].min(), mixed_table["age"].max()).all()
    assert (out["age"] % 1 == 0).all()
    assert set(out["site"]) <= {"north", "south", "east"}
    assert out.dtypes.to_dict() == mixed_table.dtypes.to_dict()


def test_quota_codes_fill_each_category_with_the_rows_that_score_it_highest():
    rng = np.random.default_rng(0)
    scores = rng.normal(size=(500, 4))
    counts = np.array([100, 150, 200, 50])
    codes = quota_codes(scores, counts)
    assert np.bincount(codes, minlength=4).tolist() == counts.tolist()
    best = scores.argmax(axis=1)
    moved = codes != best  # a row leaves its best category only when that one is full
    assert all(np.sum(codes == c) == counts[c] for c in np.unique(best[moved]))
    margin = scores[:, 1] - scores[:, 0]
    two = quota_codes(scores[:, :2], np.array([320, 180]))
    assert two.sum() == 180 and margin[two == 1].min() >= margin[two == 0].max()


def _skewed(n: int, seed: int) -> tuple[pd.DataFrame, np.ndarray]:
    """Real rows whose ``site`` shares differ by class, and a decoded matrix whose ``site``
    scores lean to the first category (as a generator that drifts)."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    site = np.where(y == 1, rng.choice(["a", "b", "c"], n, p=[0.2, 0.3, 0.5]),
                    rng.choice(["a", "b", "c"], n, p=[0.6, 0.3, 0.1]))
    frame = pd.DataFrame({"x": rng.normal(size=n) + y, "site": site, "outcome": y})
    return frame, rng.normal(size=(n, 3)) * 0.6


def test_quotas_decode_each_class_in_the_real_shares():
    real, _ = _skewed(2000, 0)
    schema = infer_schema(real, "outcome")
    plain = TableEncoder(schema).fit(real)
    quoted = TableEncoder(schema, quotas=True).fit(real)
    X, y = quoted.transform(real, np.random.default_rng(0))
    block = next(b for b in quoted.blocks_ if b.column == "site")
    noisy = X.copy()
    noisy[:, block.start:block.stop] += _skewed(2000, 1)[1] + np.array([0.5, 0.0, 0.0])
    for k in (0, 1):
        want = real.loc[real["outcome"] == k, "site"].value_counts(normalize=True)
        got = quoted.inverse_transform(noisy, y)["site"][y == k].value_counts(normalize=True)
        drift = plain.inverse_transform(noisy, y)["site"][y == k].value_counts(normalize=True)
        gap = (got.reindex(want.index, fill_value=0) - want).abs().max()
        assert gap <= 1.0 / (y == k).sum() + 1e-12
        assert (drift.reindex(want.index, fill_value=0) - want).abs().max() > 0.05
    few = np.flatnonzero(y == 0)[:QUOTA_MIN_ROWS - 1]  # too few rows: arg-max, as without
    pd.testing.assert_frame_equal(quoted.inverse_transform(noisy[few], y[few]),
                                  plain.inverse_transform(noisy[few], y[few]))
