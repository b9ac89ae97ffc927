"""Rule discovery: finds planted and real rules, nothing on noise, fast, with skip reasons."""

from __future__ import annotations

import time

import numpy as np
import pandas as pd
import pytest

from clinisynth.rules import discover_rules
from clinisynth.rules.discovery import learn_precisions
from clinisynth.rules.precision import ceil_to, learn_step, round_to
from clinisynth.schema import infer_schema
from conftest import shared_dataset
from rules_helpers import make_planted


def described(df: pd.DataFrame, target: str) -> list[str]:
    found = discover_rules(df, infer_schema(df, target))
    for rule in found.rules:
        assert not rule.violated(df).any(), rule.describe()
    return [r.describe() for r in found.rules]


def test_planted_rules_are_found_and_noise_has_none() -> None:
    rules = described(make_planted(), "died")
    for expected in [
        "inequality: dbp <= sbp",
        "formula: bmi = weight / (height / 100) ** 2",
        "formula: total = first + second",
        "binning: agegrp = bins of age at 39.5, 64.5",
        "mapping: region is a function of site (4 entries)",
        "missing: cause is missing exactly when died in {'no'}",
        "forbidden: sex = 'M' and pregnant = 'yes'",
        "range: visits in [0, inf]",
    ]:
        assert expected in rules
    assert not [r for r in rules if "noise" in r and not r.startswith("range")]
    assert not [r for r in rules if r.startswith("forbidden") and "region" in r]


def test_independent_columns_give_no_rules() -> None:
    rng = np.random.default_rng(1)
    df = pd.DataFrame({"x": rng.normal(0, 1, 500), "y": rng.normal(0, 1, 500),
                       "z": rng.normal(5, 1, 500), "c": rng.choice(list("abc"), 500),
                       "d": rng.choice(list("uv"), 500), "t": rng.choice(["p", "q"], 500)})
    assert described(df, "t") == []


def test_breast_cancer_finds_the_worst_over_mean_family_fast(breast_cancer) -> None:
    df, target = breast_cancer
    schema = infer_schema(df, target)
    start = time.perf_counter()
    found = discover_rules(df, schema)
    seconds = time.perf_counter() - start
    names = {r.describe() for r in found.rules}
    measures = ["radius", "texture", "perimeter", "area", "smoothness", "compactness",
                "concavity", "concave points", "symmetry", "fractal dimension"]
    for m in measures:
        assert f"inequality: `mean {m}` <= `worst {m}`" in names
    assert not any(r.startswith(("formula", "mapping", "binning", "forbidden")) for r in names)
    assert found.skipped["inequality: implied by the columns' ranges"] > 100
    assert seconds < 15, seconds  # 435 numeric pairs; about 1 s on one free core


def test_support_thresholds_skip_small_tables() -> None:
    df = make_planted(n=15)
    rules = described(df, "died")
    assert not any(r.startswith(("inequality", "formula", "binning", "mapping", "missing"))
                   for r in rules)


def test_liver_gaps_explained_by_the_first_column() -> None:
    df = pd.read_csv(shared_dataset("liver_pbc.csv"))
    rules = described(df, "status")
    assert "missing: ascites is missing exactly when trt in {missing}" in rules
    assert not any("trt is missing" in r for r in rules)


@pytest.mark.parametrize(("values", "step"), [
    ([0.1, 0.2, 0.30000000000000004, 1.5], 0.1),
    ([1.0, 2.0, 7.0], 1.0),
    (list(np.arange(40) * 2.0), 2.0),
    ([2.0, 4.0, 6.0], 1.0),  # too few values to believe a step of 2
    (list(np.arange(40) * 0.25 + 0.5), 0.25),
    ([58.7652292950034, 1.0], 0.0),
    (list(np.float32(np.arange(1, 50) * 0.01).astype(float)), 0.01),  # float32 noise
    ([np.nan, 3.0, 4.0], 1.0),
])
def test_learn_step(values: list[float], step: float) -> None:
    assert learn_step(np.array(values)) == step


def test_rounding_helpers() -> None:
    np.testing.assert_array_equal(round_to(np.array([0.3333, 1.04999, -0.06]), 0.1),
                                  [0.3, 1.0, -0.1])
    np.testing.assert_array_equal(ceil_to(np.array([1.01, 1.1, 1.1000000001]), 0.1),
                                  [1.1, 1.1, 1.1])
    assert round_to(np.array([1.234567]), 0.0)[0] == 1.234567


def test_schema_precision_overrides_learning(mixed_table) -> None:
    schema = infer_schema(mixed_table, "outcome")
    schema["bmi"].precision = 0.5
    steps = learn_precisions(mixed_table, schema)
    assert steps["bmi"] == 0.5 and steps["age"] == 1.0
