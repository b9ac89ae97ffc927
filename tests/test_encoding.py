"""The encoder is reversible: decode(encode(table)) gives the table back."""

from __future__ import annotations

import numpy as np
import pandas as pd

from clinisynth.encoding import MISSING, NUMERIC, ONEHOT, TableEncoder
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
