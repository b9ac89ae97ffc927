"""Fences: a column held between several others by inequality rules, by construction (issue 26:
nested follow-up times, a day that can fall before admission, a bound column with gaps)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from clinisynth.rules.fences import (
    choose_mode,
    decode,
    encode,
    envelope,
    fence_rounded,
    new_fence,
    primary,
)
from clinisynth.schema import infer_schema
from clinisynth.steps.rules import RulesStep


def nested_times(n: int = 400, seed: int = 0) -> pd.DataFrame:
    """ebmt4's shape: recovery ``rec`` and adverse event ``ae`` before their combined time
    ``recae = max(rec, ae)`` plus a wait, all before the follow-up ``srv``; ``dnr`` a day that can
    fall before admission (negative) and is never after ``srv``, missing for some patients;
    ``stay`` between ``dnr`` and ``srv``."""
    rng = np.random.default_rng(seed)
    srv = rng.integers(30, 3000, n).astype(float)
    rec = np.floor(srv * rng.uniform(0, 0.5, n))
    ae = np.floor(srv * rng.uniform(0, 0.5, n))
    recae = np.minimum(np.maximum(rec, ae) + rng.integers(0, 40, n), srv)
    dnr = np.minimum(rng.integers(-20, 60, n), srv).astype(float)
    stay = np.floor(np.maximum(dnr, 0) + (srv - np.maximum(dnr, 0)) * rng.uniform(0, 0.2, n))
    dnr[rng.random(n) < 0.05] = np.nan
    return pd.DataFrame({"rec": rec, "ae": ae, "recae": recae, "srv": srv, "dnr": dnr,
                         "stay": stay, "srv_s": rng.integers(0, 2, n),
                         "arm": rng.choice(["a", "b"], n)})


@pytest.fixture(scope="module")
def step() -> RulesStep:
    df = nested_times()
    schema = infer_schema(df, "arm")
    schema.survival = [{"time": "srv", "event": "srv_s", "event_values": [1]}]
    schema.rules = [{"type": "inequality", "left": a, "right": b} for a, b in [
        ("rec", "recae"), ("ae", "recae"), ("recae", "srv"), ("rec", "srv"), ("ae", "srv"),
        ("dnr", "srv"), ("dnr", "stay"), ("stay", "srv")]]
    return RulesStep().fit_table(df, schema)


def test_every_inequality_is_fenced(step) -> None:
    """No rule is left to the redraw filter: each one is a fence of its column."""
    hows = [step.how_[i] for i in range(len(step.rules_))]
    assert all(h.startswith("modelled as") for h in hows), hows
    recae = step.fences_["recae"]
    assert sorted(recae["lower"]) == ["ae", "rec"] and recae["upper"] == ["srv"]
    assert recae["mode"] == "gap" and recae["primary"] in ("ae", "rec")
    assert step.fences_["rec"]["mode"] == "share"  # a time nested in the follow-up
    # a day of weeks bounded by a follow-up of years is not explained by it: kept as it is
    assert step.fences_["dnr"]["mode"] == "raw"
    assert step.fences_["stay"]["lower"] == ["dnr"]


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_rules_hold_for_any_model_values(step, seed: int) -> None:
    """Whatever a generator draws for the modelled columns (overshooting [0, 1], negative gaps,
    missing bounds), the decoded rows keep every rule, after rounding to whole days too."""
    df = nested_times(seed=seed + 10)
    model = step.transform_table(df)
    rng = np.random.default_rng(seed)
    for col in step.fences_:
        model[col] = rng.normal(0.5, 1.0, len(model))
    back = RulesStep.from_state(*step.get_state()).inverse_table(model, rng)
    assert step.violations(back).sum() == 0
    assert (back[["rec", "ae", "recae", "stay"]] % 1 == 0).all().all()


def test_round_trip_keeps_the_real_rows(step) -> None:
    df = nested_times()  # the fitted rows: inside every column's observed range
    back = step.inverse_table(step.transform_table(df), np.random.default_rng(0))
    for col in ["rec", "ae", "recae", "srv", "stay"]:
        np.testing.assert_allclose(back[col], df[col], atol=1e-9, err_msg=col)
    np.testing.assert_allclose(back["dnr"], df["dnr"], atol=1e-9)


def test_encode_decode_inverse_each_mode() -> None:
    rng = np.random.default_rng(0)
    a, b = rng.uniform(0, 5, 50), rng.uniform(10, 20, 50)
    x = rng.uniform(5, 10, 50)
    for side, kind in [("lower", "gap"), ("upper", "share"), ("upper", "below"),
                       ("upper", "raw")]:
        fence = {**new_fence(), side: ["a" if side == "lower" else "b"], "mode": kind,
                 "primary": "a" if side == "lower" else "b"}
        p = primary(fence, {"a": a, "b": b})
        np.testing.assert_allclose(decode(encode(x, p, fence), p, fence), x, err_msg=kind)


def test_the_mode_follows_how_much_the_bound_explains() -> None:
    rng = np.random.default_rng(0)
    follow = rng.uniform(30, 3000, 500)
    nested = follow * rng.uniform(0.5, 1.0, 500)  # a progression time near the follow-up
    stay = rng.integers(3, 30, 500).astype(float)  # days in hospital, whatever the follow-up
    worst = stay + rng.uniform(0, 2, 500)  # a worst value close to its mean value
    assert choose_mode(nested, follow, "upper") == "share"
    assert choose_mode(stay, follow, "upper") == "raw"
    assert choose_mode(worst, stay, "lower") == "gap"
    assert choose_mode(worst, rng.uniform(0, 3, 500), "lower") == "raw"


def test_a_missing_bound_counts_as_the_columns_own_range() -> None:
    fence = {**new_fence(), "lower": ["a"], "upper": ["b"], "fill": [1.0, 9.0]}
    low, high = envelope(fence, {"a": np.array([np.nan, 2.0]), "b": np.array([5.0, np.nan])})
    np.testing.assert_array_equal(low, [1.0, 2.0])
    np.testing.assert_array_equal(high, [5.0, 9.0])


def test_rounding_stays_inside_a_strict_fence() -> None:
    fence = {**new_fence(), "lower": ["a"], "upper": ["b"], "strict_lower": True,
             "strict_upper": True}
    low, high = np.array([1.0, 1.0]), np.array([4.0, 4.0])
    x = fence_rounded(np.array([1.0, 4.0]), low, high, fence, 1.0)
    np.testing.assert_array_equal(x, [2.0, 3.0])
