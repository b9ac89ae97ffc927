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
    bounds = envelope(fence, {"a": np.array([np.nan, 2.0]), "b": np.array([5.0, np.nan])})
    np.testing.assert_array_equal(bounds["low"], [1.0, 2.0])
    np.testing.assert_array_equal(bounds["high"], [5.0, 9.0])
    assert bounds["low_strict"] is None and bounds["high_strict"] is None


def test_rounding_stays_inside_a_strict_fence() -> None:
    bounds = {"low": None, "low_strict": np.array([1.0, 1.0, 1.0]), "high": None,
              "high_strict": np.array([4.0, 4.0, 10.5])}
    x = fence_rounded(np.array([1.0, 4.0, 11.0]), bounds, 1.0)
    np.testing.assert_array_equal(x, [2.0, 3.0, 10.0])  # 10 < 10.5: not pulled down to 9


def _fit(df: pd.DataFrame, rules: list[tuple[str, str, str]], survival: str | None = None,
         **options) -> RulesStep:
    schema = infer_schema(df, "y")
    if survival:
        schema.survival = [{"time": survival, "event": "ev", "event_values": [1]}]
    schema.rules = [{"type": "inequality", "left": a, "op": op, "right": b}
                    for a, op, b in rules]
    return RulesStep(**options).fit_table(df, schema)


def test_no_room_on_the_grid_takes_the_middle_of_the_bounds() -> None:
    """A whole-month ``x`` between ``a`` and ``T`` recorded to 0.1 month: where ``a = T = 9.8``
    no whole month fits, and the row keeps both rules off the grid instead of breaking one."""
    rng = np.random.default_rng(0)
    t = rng.uniform(3, 60, 400).round(1)
    a = (t * rng.uniform(0, 0.3, 400)).round(1)
    x = np.ceil(a + (np.floor(t) - a) * rng.uniform(0, 1, 400))
    df = pd.DataFrame({"a": a, "x": x, "T": t, "ev": rng.integers(0, 2, 400),
                       "y": rng.choice(["u", "v"], 400)})[(x >= a) & (x <= t)]
    step = _fit(df, [("a", "<=", "x"), ("a", "<=", "T"), ("x", "<=", "T")], survival="T")
    model = step.transform_table(df).iloc[:2].copy()
    model["T"], model["a"], model["x"] = [9.8, 20.6], [1.0, 1.0], [0.5, 0.99]
    back = step.inverse_table(model, np.random.default_rng(0))
    assert step.violations(back).sum() == 0


def test_a_bound_just_off_the_grid_is_not_rounded_onto_it() -> None:
    """``ceil_to`` forgives 1e-6 relative noise; a full-precision bound at 1000.0005 must still
    lift a whole-day ``x`` to 1001, not leave it at 1000."""
    rng = np.random.default_rng(0)
    a = rng.uniform(500, 1500, 400)  # full float precision: no recorded step
    x = np.ceil(a + rng.uniform(0, 300, 400))  # whole days
    df = pd.DataFrame({"a": a, "x": x, "y": rng.choice(["u", "v"], 400)})
    step = _fit(df, [("a", "<=", "x")])
    model = step.transform_table(df).iloc[:3].copy()
    model["a"], model["x"] = [1000.0005, 999.9995, 1200.0004], -50.0  # x drawn below a
    back = step.inverse_table(model, np.random.default_rng(0))
    assert (back["x"] >= back["a"]).all() and (back["x"] % 1 == 0).all()


def test_a_strict_secondary_rule_leaves_the_primary_gap_alone() -> None:
    """``a <= x`` (equal on half the rows) with a loose ``c < x``: the real rows decode to
    themselves, and a zero gap above ``a`` stays zero."""
    rng = np.random.default_rng(0)
    a = rng.integers(0, 100, 400).astype(float)
    x = a + np.where(rng.random(400) < 0.5, 0, rng.integers(1, 5, 400))
    df = pd.DataFrame({"a": a, "x": x, "c": x - rng.integers(1, 200, 400),
                       "y": rng.choice(["u", "v"], 400)})
    step = _fit(df, [("a", "<=", "x"), ("c", "<", "x")])
    back = step.inverse_table(step.transform_table(df), np.random.default_rng(0))
    np.testing.assert_array_equal(back["x"], df["x"])


def test_an_integer_column_without_a_step_stays_above_a_strict_bound() -> None:
    """No recorded step (``precision=False``) on an integer column: a strict bound lifts it to
    the next integer, not to the next float, which writing it as an integer would undo."""
    rng = np.random.default_rng(0)
    t = rng.integers(30, 400, 400)
    x = np.floor(t * rng.uniform(0.5, 1, 400)).astype(int)
    a = np.floor(rng.uniform(0, 1, 400) * np.minimum(x, 20)).astype(int)
    df = pd.DataFrame({"a": a, "x": x, "T": t, "ev": rng.integers(0, 2, 400),
                       "y": rng.choice(["u", "v"], 400)})
    step = _fit(df, [("a", "<", "x"), ("x", "<=", "T")], survival="T", precision=False)
    model = step.transform_table(df).iloc[:3].copy()
    model["T"], model["a"], model["x"] = [100, 100, 100], [15, 18, 19], [0.0, 0.01, 0.1]
    back = step.inverse_table(model, np.random.default_rng(0))
    assert (back["x"] > back["a"]).all()
