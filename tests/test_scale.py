"""Issue 11: the fast paths give the same answers as the slow ones they replace."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from clinisynth import HybridSynthesizer
from clinisynth.distances import RecordEncoder
from clinisynth.encoding import MISSING_CODE, UNSEEN, TableEncoder, category_codes
from clinisynth.errors import ClinisynthError
from clinisynth.generators.base import cap_rows_per_class
from clinisynth.generators.cvae import CVAEGenerator
from clinisynth.generators.gmm import GMMGenerator
from clinisynth.generators.smote import SMOTEGenerator
from clinisynth.schema import category_key, infer_schema
from clinisynth.steps.subsample import stratified_cap
from clinisynth.threads import current_threads, thread_limits
from conftest import FAST_PARAMS


def reference_codes(values, categories) -> np.ndarray:
    """The per-cell loop ``category_codes`` replaces."""
    index = {category_key(c): i for i, c in enumerate(categories)}
    return np.array([MISSING_CODE if pd.isna(v) else index.get(category_key(v), UNSEEN)
                     for v in values], dtype=np.int64)


@pytest.mark.parametrize("values, categories", [
    (pd.Series([1, 1.0, np.int64(1), True, "a", None, np.nan, 2.5, "zz", False, 0],
               dtype=object), [0, 1, True, "a", 2.5]),
    (pd.Series([True, np.nan, False, True], dtype=object), [False, True]),
    (pd.Series([0.0, 1.0, np.nan, 2.0]), [0, 1]),
    (pd.Series(["x", "y", None, "z"]), ["y", "x"]),
    (pd.Series(["b", "a", "b"], dtype="category"), ["a", "b"]),
    (pd.Series([3, 1, 2], dtype="Int64"), [1, 2, 3]),
    (pd.Series([True, False, True]), [False, True]),
])
def test_category_codes_match_the_cell_by_cell_rule(values, categories):
    np.testing.assert_array_equal(category_codes(values, categories),
                                  reference_codes(values, categories))


def test_encoders_match_the_cell_by_cell_rule(mixed_table):
    schema = infer_schema(mixed_table, "outcome")
    enc = TableEncoder(schema).fit(mixed_table)
    want = np.array([[0, 1][category_key(v) == category_key("Yes")]
                     for v in mixed_table["outcome"]])
    np.testing.assert_array_equal(enc.encode_target(mixed_table["outcome"]), want)
    with pytest.raises(ClinisynthError, match="outcome"):
        enc.encode_target(pd.Series(["Yes", "Maybe"]))
    records = RecordEncoder(schema).fit(mixed_table)
    x = records.transform(mixed_table)
    site = schema["site"]
    cats = site.categories
    start = sum(1 + (c.name in records.gappy_) if c.is_numeric else len(c.categories) + 1
                for c in schema.columns[:schema.columns.index(site)])
    block = x[:, start:start + len(cats) + 1]
    codes = reference_codes(mixed_table["site"], cats)
    np.testing.assert_array_equal(np.argmax(block, axis=1), np.where(codes < 0, len(cats), codes))


def test_gmm_samples_component_by_component_like_the_batched_formula():
    rng = np.random.default_rng(0)
    X = np.r_[rng.normal(0, 1, (200, 4)), rng.normal(3, 0.5, (200, 4))]
    y = np.repeat([0, 1], 200)
    gen = GMMGenerator(max_components=3, seed=0).fit(X, y)
    got, _ = gen.sample({0: 500, 1: 300}, np.random.default_rng(7))
    r = np.random.default_rng(7)
    want = []
    for k, n in ((0, 500), (1, 300)):
        w, mu, chol = gen.weights_[k], gen.means_[k], gen.chol_[k]
        comp = r.choice(len(w), size=n, p=w / w.sum())
        z = r.standard_normal((n, mu.shape[1]))
        want.append(mu[comp] + np.einsum("nij,nj->ni", chol[comp], z))
    np.testing.assert_allclose(got, np.vstack(want), atol=1e-10)


def test_smote_rows_lie_between_a_row_and_one_of_its_neighbours(mixed_table):
    schema = infer_schema(mixed_table, "outcome")
    enc = TableEncoder(schema).fit(mixed_table)
    X, y = enc.transform(mixed_table, np.random.default_rng(0))
    gen = SMOTEGenerator(k_neighbors=3, seed=0).fit(X, y, enc.blocks_)
    new, ny = gen.sample({0: 15, 1: 15}, np.random.default_rng(1))
    onehot = np.zeros(X.shape[1], dtype=bool)
    for b in enc.blocks_:
        if b.kind == "onehot":
            onehot[b.start:b.stop] = True
    for row, k in zip(new, ny, strict=True):
        ok = False
        for i in np.flatnonzero(gen.y_ == k):
            xi = gen.X_[i]
            for j in gen.neighbors_[i]:
                d = gen.X_[j][~onehot] - xi[~onehot]
                lam = d @ (row[~onehot] - xi[~onehot]) / max(d @ d, 1e-12)
                on_segment = np.allclose(xi[~onehot] + lam * d, row[~onehot], atol=1e-9)
                if on_segment and -1e-9 <= lam <= 1 + 1e-9 and gen.y_[j] == k:
                    # SMOTENC: the categories are the row's precomputed neighbour mode
                    modes = gen.modes_[i]
                    blocks = [b for b in enc.blocks_ if b.kind == "onehot"]
                    if all(row[b.start + m] == 1 for b, m in zip(blocks, modes, strict=True)):
                        ok = True
                        break
            if ok:
                break
        assert ok


def test_smote_mode_is_the_most_frequent_neighbour_category():
    # one numeric column, one 2-category block; row 0's three neighbours are mostly category 1
    X = np.array([[0.0, 1, 0], [0.1, 0, 1], [0.2, 0, 1], [0.3, 1, 0], [5.0, 1, 0], [5.1, 1, 0]])
    y = np.zeros(6, dtype=int)
    from clinisynth.encoding import Block

    blocks = [Block("a", "numeric", 0, 1), Block("b", "onehot", 1, 3)]
    gen = SMOTEGenerator(k_neighbors=3, seed=0).fit(X, y, blocks)
    assert sorted(gen.neighbors_[0]) == [1, 2, 3]
    assert gen.modes_[0, 0] == 1


def test_caps_keep_every_class():
    y = np.r_[np.zeros(50, int), np.ones(5, int)]
    keep = cap_rows_per_class(y, 10, np.random.default_rng(0))
    assert np.bincount(y[keep]).tolist() == [10, 5]
    assert len(cap_rows_per_class(y, None, np.random.default_rng(0))) == 55
    frame = pd.DataFrame({"a": np.arange(1000), "t": np.r_[np.zeros(997), np.ones(3)]})
    capped = stratified_cap(frame, "t", 100, np.random.default_rng(0))
    assert len(capped) <= 103 and capped["t"].sum() == 3
    assert stratified_cap(frame, "t", 5000, np.random.default_rng(0)) is frame


def test_cvae_budget_scales_with_the_rows():
    gen = CVAEGenerator()
    assert gen.budget(300) == (64, 300)
    batch, epochs = gen.budget(85_000)
    assert batch == 512 and epochs * -(-85_000 // batch) <= gen.max_steps
    assert CVAEGenerator(batch_size=32).budget(100)[0] == 32


def test_thread_limits_restore_and_check():
    assert current_threads() == 1
    with thread_limits(2):
        assert current_threads() == 2
    assert current_threads() == 1
    with pytest.raises(ClinisynthError, match="n_jobs"):
        HybridSynthesizer(n_jobs=0).fit(pd.DataFrame({"a": [1, 2], "t": [0, 1]}), "t")


def test_same_output_whatever_the_threads(mixed_table):
    params = {"weights": "uniform", "seed": 3, "generator_params": FAST_PARAMS}
    one = HybridSynthesizer(n_jobs=1, **params).fit(mixed_table, "outcome")
    two = HybridSynthesizer(n_jobs=2, **params).fit(mixed_table, "outcome")
    assert one.weights_ == two.weights_
    pd.testing.assert_frame_equal(one.sample(400, seed=5), two.sample(400, seed=5))


def test_partitioned_dataset_is_the_same_on_dask_as_locally(mixed_table, tmp_path):
    from clinisynth.sampling_engines import write_partitioned

    syn = HybridSynthesizer(weights="gmm", seed=0).fit(mixed_table, "outcome")
    local = write_partitioned(syn, 250, tmp_path / "local", seed=4, engine="local")
    with pytest.MonkeyPatch.context() as mp:  # three partitions of at most 100 rows
        mp.setattr("clinisynth.synthesizer.CHUNK_ROWS", 100)
        small = write_partitioned(syn, 250, tmp_path / "small", seed=4, engine="local")
        dask = write_partitioned(syn, 250, tmp_path / "dask", seed=4, engine="dask", workers=2)
    assert local["partitions"] == 1 and small["partitions"] == dask["partitions"] == 3
    read = lambda d: pd.concat([pd.read_parquet(p) for p in sorted(d.glob("part-*.parquet"))],  # noqa: E731
                               ignore_index=True)
    pd.testing.assert_frame_equal(read(tmp_path / "small"), read(tmp_path / "dask"))
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr("clinisynth.synthesizer.CHUNK_ROWS", 100)
        pd.testing.assert_frame_equal(read(tmp_path / "dask"), syn.sample(250, seed=4),
                                      check_dtype=False)
    assert len(read(tmp_path / "local")) == 250
    with pytest.raises(ClinisynthError, match="already exists"):
        write_partitioned(syn, 10, tmp_path / "local", seed=4)
    with pytest.raises(ClinisynthError, match="engine"):
        write_partitioned(syn, 10, tmp_path / "new", seed=4, engine="spark")
    assert not (tmp_path / "new").exists()

