"""The encoder is reversible: decode(encode(table)) gives the table back."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from clinisynth.encoding import (
    GAP_FILLS,
    MISSING,
    NUMERIC,
    ONEHOT,
    QUOTA_MIN_ROWS,
    TableEncoder,
    quota_codes,
)
from clinisynth.errors import ClinisynthError
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


@pytest.mark.parametrize("gap_fill", GAP_FILLS)
def test_gap_fills_are_observed_values_of_the_class(mixed_table, gap_fill):
    schema = infer_schema(mixed_table, "outcome")
    enc = TableEncoder(schema, gap_fill=gap_fill).fit(mixed_table)
    X, y = enc.transform(mixed_table, np.random.default_rng(0))
    lab = next(b for b in enc.blocks_ if b.column == "lab" and b.kind == NUMERIC)
    s = enc.stats_["lab"]
    filled = X[:, lab.start] * s["std"] + s["mean"]
    gaps = mixed_table["lab"].isna().to_numpy()
    for k in range(len(schema.classes)):
        donors = set(np.round(mixed_table.loc[(y == k) & ~gaps, "lab"], 9))
        assert set(np.round(filled[(y == k) & gaps], 9)) <= donors


def _paired_labs(n: int = 1500, seed: int = 0) -> pd.DataFrame:
    """Two labs correlated at 0.9, the second missing on 40 % of rows at random."""
    rng = np.random.default_rng(seed)
    a = rng.normal(size=n)
    b = 0.9 * a + np.sqrt(1 - 0.81) * rng.normal(size=n)
    return pd.DataFrame({"lab": np.exp(3 + 0.5 * a),
                         "pair": np.where(rng.random(n) < 0.4, np.nan, np.exp(1 + 0.4 * b)),
                         "age": rng.normal(60, 10, n).round(),
                         "outcome": rng.integers(0, 2, n)})


def _filled_correlation(enc: TableEncoder, table: pd.DataFrame, seed: int) -> float:
    X, _ = enc.transform(table, np.random.default_rng(seed))
    at = {b.column: b.start for b in enc.blocks_ if b.kind == NUMERIC}
    return float(np.corrcoef(X[:, at["lab"]], X[:, at["pair"]])[0, 1])


def test_matched_gap_fill_keeps_the_correlation_a_random_donor_loses():
    table = _paired_labs()
    schema = infer_schema(table, "outcome")
    observed = table.dropna()
    real = np.corrcoef(observed["lab"], observed["pair"])[0, 1]  # the encoder's scale
    hot = TableEncoder(schema, gap_fill="hot_deck").fit(table)
    matched = TableEncoder(schema, gap_fill="matched").fit(table)
    # a random donor in 40 % of rows: about 0.6 of the correlation is left
    assert _filled_correlation(hot, table, 0) < real - 0.2
    assert _filled_correlation(matched, table, 0) > real - 0.05


def test_matched_gap_fill_round_trips_as_json_and_old_states_keep_the_hot_deck():
    table = _paired_labs(400)
    schema = infer_schema(table, "outcome")
    enc = TableEncoder(schema).fit(table)
    state = json.loads(json.dumps(enc.get_state()))
    back = TableEncoder.from_state(schema, state)
    first, _ = enc.transform(table, np.random.default_rng(3))
    again, _ = back.transform(table, np.random.default_rng(3))
    np.testing.assert_array_equal(first, again)
    del state["gap_fill"], state["fill"]  # a model saved before the matched fill
    old = TableEncoder.from_state(schema, state)
    assert old.gap_fill == "hot_deck" and old.fill_ is None


def test_unknown_gap_fill_is_a_one_line_error(mixed_table):
    schema = infer_schema(mixed_table, "outcome")
    with pytest.raises(ClinisynthError, match="gap_fill: 'mice'"):
        TableEncoder(schema, gap_fill="mice")


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


def _flags(n: int, seed: int) -> pd.DataFrame:
    """Two flags with ``stroke = 1`` only where ``cvd = 1`` (an implication: the combination
    ``stroke = 1, cvd = 0`` is never seen) and a class that shifts both."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    cvd = (rng.random(n) < 0.2 + 0.2 * y).astype(int)
    stroke = cvd * (rng.random(n) < 0.4)
    return pd.DataFrame({"x": rng.normal(size=n) + y, "cvd": cvd, "stroke": stroke,
                         "outcome": y})


def _forbidden(frame: pd.DataFrame) -> int:
    """Rows holding the combination ``stroke = 1, cvd = 0``."""
    return int(((frame["stroke"] == 1) & (frame["cvd"] == 0)).sum())


def test_forbidden_combinations_are_decoded_around_and_kept_with_the_model():
    real = _flags(1000, 0)
    schema = infer_schema(real, "outcome")
    enc = TableEncoder(schema, quotas=True).fit(real)
    X, y = enc.transform(real, np.random.default_rng(0))
    noisy = X + np.random.default_rng(1).normal(size=X.shape)  # scores that ignore the rule
    assert _forbidden(enc.inverse_transform(noisy, y)) > 20  # per-column quotas break it
    enc.forbid([{"stroke": 1, "cvd": 0}, {"cvd": 0, "unknown": 1}, {"stroke": 7, "cvd": 0}])
    assert enc.forbidden_ == [[("stroke", 1), ("cvd", 0)]]  # other columns, unseen values: left
    back = enc.inverse_transform(noisy, y)
    assert _forbidden(back) == 0
    for k in (0, 1):  # the shares are still the real ones
        for col in ("cvd", "stroke"):
            want = real.loc[real["outcome"] == k, col].mean()
            assert abs(back.loc[y == k, col].mean() - want) <= 1.0 / (y == k).sum() + 1e-12
    state = json.loads(json.dumps(enc.get_state()))
    again = TableEncoder.from_state(schema, state)
    pd.testing.assert_frame_equal(again.inverse_transform(noisy, y), back)
    del state["forbidden"]  # a model saved before: nothing forbidden
    assert TableEncoder.from_state(schema, state).forbidden_ == []


def test_given_counts_decode_any_number_of_rows():
    real = _flags(1000, 0)
    schema = infer_schema(real, "outcome")
    enc = TableEncoder(schema, quotas=True).fit(real)
    X, y = enc.transform(real, np.random.default_rng(0))
    few = np.flatnonzero(y == 1)[:7]  # below QUOTA_MIN_ROWS: arg-max without counts
    counts = enc.category_counts({"cvd": np.array([1, 1, 1, 0, 0, 0, 0]),
                                  "stroke": np.array([1, 0, 0, 0, 0, 0, 0])}, y[few])
    assert counts["cvd"].tolist() == [[0, 0], [4, 3]]
    codes = enc.decoded_categories(X[few], y[few], counts)
    assert codes["cvd"].sum() == 3 and codes["stroke"].sum() == 1
