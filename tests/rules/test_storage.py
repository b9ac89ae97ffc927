"""Stored representation: columns exported at fewer significant bits are written back that way."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from clinisynth import HybridSynthesizer
from clinisynth.errors import SchemaError
from clinisynth.rules.storage import keep_bits, learn_storage, store, written_digits
from clinisynth.schema import TableSchema, infer_schema
from clinisynth.steps.rules import RulesStep


def printed(v: np.ndarray, digits: int = 9) -> np.ndarray:
    """What a text export prints: ``digits`` significant digits, read back."""
    return np.array([float(f"{x:.{digits}g}") for x in v])


def sas_short(x: np.ndarray, decimals: int, length: int) -> np.ndarray:
    """Recorded at ``decimals``, kept as SAS keeps a numeric of ``length`` bytes, printed."""
    return printed(keep_bits(np.round(x, decimals), 8 * length - 11, "trunc"))


def test_sas_short_numerics_are_learned_and_written_back():
    rng = np.random.default_rng(0)
    lab = sas_short(rng.lognormal(0.5, 0.6, 3000), 1, 3)  # 0.7 reads back as 0.699951172
    assert np.isin(0.699951172, lab)
    found = learn_storage(lab)
    assert (found["decimals"], found["bits"], found["mode"], found["digits"]) == \
        (1, 13, "trunc", 9)
    assert (store(lab, found) == lab).mean() > 0.999  # a real value is its own stored form
    fresh = np.round(rng.lognormal(0.5, 0.6, 500), 1)  # clean decimals, as a model would write
    expected = printed(keep_bits(fresh, 13, "trunc"))
    assert (store(fresh, found) == expected).mean() > 0.999  # the file's own form, 9 digits
    sweep = np.linspace(lab.min(), lab.max(), 200_001)
    assert np.all(np.diff(store(sweep, found)) >= 0)  # non-decreasing


def test_float32_and_longer_sas_lengths():
    rng = np.random.default_rng(1)
    x = rng.uniform(0, 1, 2000)
    as_float32 = np.round(x, 2).astype(np.float32).astype(float)  # full float32 digits
    found = learn_storage(as_float32)
    assert (found["decimals"], found["bits"], found["mode"]) == (2, 24, "round")
    found = learn_storage(sas_short(x, 2, 4))
    assert (found["decimals"], found["bits"]) == (2, 21)


@pytest.mark.parametrize(("low", "high", "decimals", "length"),
                         [(20, 200, 2, 3), (0, 100, 4, 4)])
def test_a_cut_coarser_than_half_a_decimal_is_still_the_recorded_decimals(low, high, decimals,
                                                                           length):
    rng = np.random.default_rng(3)
    values = sas_short(rng.uniform(low, high, 3000), decimals, length)
    found = learn_storage(values)
    assert (found["decimals"], found["bits"], found["mode"]) == (decimals, 8 * length - 11,
                                                                 "trunc")
    sweep = np.linspace(low, high, 100_001)
    written = store(sweep, found)
    assert np.all(np.diff(written) >= 0)
    assert written_digits(written[::97]).max() <= 9  # no more digits than the file printed


def test_plain_decimals_and_full_floats_have_no_storage():
    rng = np.random.default_rng(2)
    assert learn_storage(np.round(rng.normal(100, 15, 2000), 1)) is None
    assert learn_storage(rng.normal(0, 1, 2000)) is None
    assert learn_storage(rng.integers(0, 90, 2000).astype(float)) is None


def table(n: int = 600, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    return pd.DataFrame({"alb": sas_short(rng.normal(3.2 + 0.3 * y, 0.5, n).clip(1), 1, 3),
                         "ph": sas_short(rng.normal(7.4, 0.08, n), 2, 3),
                         "age": rng.integers(20, 90, n), "outcome": np.where(y, "yes", "no")})


def test_the_hybrid_writes_synthetic_values_as_the_file_stores_them(tmp_path):
    df = table()
    syn = HybridSynthesizer(weights="gmm", seed=0).fit(df, "outcome")
    assert set(syn.rules_.storages_) == {"alb", "ph"}
    assert "stored at 13 significant bits" in syn.rules_.report()["storage"]["alb"]
    fake = syn.sample(1000, seed=1)
    for name in ("alb", "ph"):
        values = fake[name].to_numpy(float)
        lo, hi = syn.rules_.bounds_[name]  # protected bounds: kept as they are
        values = values[(values > lo) & (values < hi)]
        assert len(values) > 900
        assert np.array_equal(store(values, syn.rules_.storages_[name]), values)
        assert np.isin(values, df[name]).mean() > 0.95  # not a clean decimal the file never has
    syn.save(tmp_path / "m")
    again = HybridSynthesizer.load(tmp_path / "m").sample(1000, seed=1)
    pd.testing.assert_frame_equal(again, fake)
    saved = json.loads(syn.rules_.schema_.to_json())
    alb = next(c for c in saved["columns"] if c["name"] == "alb")
    assert alb["storage"] == {"decimals": 1, "bits": 13, "mode": "trunc"}  # shown, editable


def test_storage_false_in_the_schema_writes_plain_decimals():
    df = table()
    schema = infer_schema(df, "outcome")
    schema["alb"].storage = False
    step = RulesStep().fit_table(df, schema)
    assert "alb" not in step.storages_ and "ph" in step.storages_


def test_a_bad_storage_is_a_one_line_error():
    schema = infer_schema(table(), "outcome").to_dict()
    for col in schema["columns"]:
        if col["name"] == "ph":
            col["storage"] = {"decimals": 2, "bits": 99, "mode": "trunc"}
    with pytest.raises(SchemaError, match="column 'ph': storage must be"):
        TableSchema.from_dict(schema).check()
