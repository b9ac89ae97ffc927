"""Survival audit: Kaplan-Meier distances and Cox concordance on known cases."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from clinisynth.audit import audit
from clinisynth.audit.report import render_html
from clinisynth.audit.survival import km_distance, km_fit, survival_scores
from clinisynth.errors import ClinisynthError
from clinisynth.schema import infer_schema

pytest.importorskip("lifelines")


def cohort(n: int, seed: int) -> pd.DataFrame:
    """Exponential event times whose hazard rises with ``marker`` and in arm ``B``; uniform
    administrative censoring."""
    rng = np.random.default_rng(seed)
    marker = rng.normal(0, 1, n)
    arm = rng.choice(["A", "B"], n)
    rate = 0.0015 * np.exp(0.9 * marker + 0.6 * (arm == "B"))
    event_time = rng.exponential(1 / rate)
    censor = rng.uniform(50, 600, n)
    return pd.DataFrame({"marker": marker.round(3), "arm": arm,
                         "futime": np.minimum(event_time, censor).round().astype(int),
                         "death": (event_time <= censor).astype(int)})


@pytest.fixture(scope="module")
def tables():
    return cohort(700, 1), cohort(300, 2), cohort(700, 3)


def scores(train, holdout, synthetic, **kw):
    schema = infer_schema(train, "death")
    return survival_scores(train, holdout, synthetic, schema, schema.survival[0], **kw)


def test_pair_is_inferred(tables):
    schema = infer_schema(tables[0], "death")
    assert schema.survival == [{"time": "futime", "event": "death", "event_values": [1]}]


def test_fresh_real_rows_score_like_the_holdout(tables):
    train, holdout, fresh = tables
    res = scores(train, holdout, fresh)
    o = res.overall
    # an independent draw of the same cohort sits as close to train as the holdout does
    assert o["sup"]["synthetic"] < 1.5 * o["sup"]["holdout"] + 0.02
    assert o["iad"]["synthetic"] < 1.5 * o["iad"]["holdout"] + 0.01
    assert abs(res.cindex["TSTR"] - res.cindex["TRTR"]) < 0.03
    assert res.cindex["TRTR"] > 0.65


@pytest.mark.parametrize("damage", ["shuffle", "double"])
def test_broken_times_score_far_worse(tables, damage):
    train, holdout, fresh = tables
    bad = fresh.copy()
    if damage == "shuffle":  # times no longer belong to their patients
        bad["futime"] = np.random.default_rng(0).permutation(bad["futime"].to_numpy())
    else:
        bad["futime"] = bad["futime"] * 2
    res, good = scores(train, holdout, bad), scores(train, holdout, fresh)
    o, g = res.overall, good.overall
    assert not o["within_baseline"] and g["iad"]["synthetic"] < 2 * g["iad"]["holdout"]
    assert o["iad"]["synthetic"] > 2 * o["iad"]["holdout"]
    assert o["sup"]["synthetic"] > g["sup"]["synthetic"] + 0.05


def test_outcomes_moved_to_other_patients_lose_concordance(tables):
    train, holdout, fresh = tables
    bad = fresh.copy()
    order = np.random.default_rng(0).permutation(len(bad))
    bad[["futime", "death"]] = bad[["futime", "death"]].to_numpy()[order]
    res, good = scores(train, holdout, bad), scores(train, holdout, fresh)
    # the (time, event) pairs are unchanged, so the curves are too; the Cox model is not
    assert res.overall["sup"] == good.overall["sup"]
    assert res.cindex["TSTR"] < good.cindex["TSTR"] - 0.1
    assert res.cindex["TRTR"] == good.cindex["TRTR"]


def test_the_gap_interval_holds_fresh_rows_and_not_moved_outcomes(tables):
    """Fresh real rows: the interval of TSTR - TRTR holds 0. Outcomes moved to other patients:
    the whole interval lies below 0, so the check can fail."""
    train, holdout, fresh = tables
    good = scores(train, holdout, fresh)
    assert good.gap["low"] < 0 < good.gap["high"]
    assert good.gap["gap"] == pytest.approx(good.cindex["TSTR"] - good.cindex["TRTR"])
    assert good.headline()["cindex_gap_low"] == good.gap["low"]
    bad = fresh.copy()
    order = np.random.default_rng(0).permutation(len(bad))
    bad[["futime", "death"]] = bad[["futime", "death"]].to_numpy()[order]
    assert scores(train, holdout, bad).gap["high"] < 0


def test_the_audit_flags_a_gap_only_beyond_the_holdouts_noise(tables):
    train, holdout, fresh = tables
    bad = fresh.copy()
    order = np.random.default_rng(0).permutation(len(bad))
    bad[["futime", "death"]] = bad[["futime", "death"]].to_numpy()[order]
    keys = {}
    for name, synthetic in (("fresh", fresh), ("moved", bad)):
        result = audit(train, holdout, synthetic, "death", models=("logistic_regression",),
                       privacy_sample=200)
        keys[name] = [f for f in result.flags if f["key"] == "survival"]
    assert keys["fresh"] == []
    assert len(keys["moved"]) == 1 and "futime/death" in keys["moved"][0]["message"]


def test_the_gap_interval_narrows_as_the_holdout_grows():
    """A C-index moves as 1/sqrt(n): 4x the holdout rows, about half the width, also where a
    resample holds fewer rows than the holdout (m-out-of-n, scaled by sqrt(m / n))."""
    from clinisynth.audit.survival import gap_interval

    rng = np.random.default_rng(0)
    widths = {}
    for n in (400, 1600):
        t = rng.exponential(size=n)
        e = (rng.random(n) < 0.7).astype(float)
        real = -np.log(t) + rng.normal(0, 1.0, n)  # informative risks, one noisier
        synthetic = -np.log(t) + rng.normal(0, 1.5, n)
        for rows in (n, 400):
            g = gap_interval(t, e, real, synthetic, np.random.default_rng(1), rows=rows)
            assert g["low"] < g["gap"] < g["high"]
            widths[n, rows] = g["high"] - g["low"]
    assert 0.35 < widths[1600, 1600] / widths[400, 400] < 0.65
    assert 0.35 < widths[1600, 400] / widths[400, 400] < 0.65


def test_evaluate_prints_each_pair_with_the_gap_interval(tables, tmp_path):
    from typer.testing import CliRunner

    from clinisynth.cli import app

    for name, df in zip(("train", "holdout", "synthetic"), tables, strict=True):
        df.to_csv(tmp_path / f"{name}.csv", index=False)
    result = CliRunner().invoke(app, [
        "evaluate", "--train", str(tmp_path / "train.csv"), "--holdout",
        str(tmp_path / "holdout.csv"), "--synthetic", str(tmp_path / "synthetic.csv"),
        "--target", "death", "--privacy-sample", "200", "--n-attacks", "50"])
    assert result.exit_code == 0, result.output
    text = " ".join(result.output.split())
    assert "survival futime/death: Kaplan-Meier distance to train" in text
    assert "95 % over holdout patients" in text


def test_km_distance_is_exact_on_step_functions():
    # one event at t=10 in a, at t=20 in b, both followed to 40: S differs by 1 on [10, 20)
    a = km_fit(np.array([10.0, 40.0]), np.array([1.0, 0.0]))
    b = km_fit(np.array([20.0, 40.0]), np.array([1.0, 0.0]))
    sup, iad, horizon = km_distance(a, b)
    assert (sup, horizon) == (0.5, 40.0)
    assert iad == pytest.approx(0.5 * 10 / 40)


def test_per_group_curves_and_determinism(tables):
    train, holdout, fresh = tables
    one = scores(train, holdout, fresh, group="arm")
    two = scores(train, holdout, fresh, group="arm")
    assert [d["group"] for d in one.distances] == ["all", "A", "B"]
    assert json.dumps(one.to_dict(), default=list) == json.dumps(two.to_dict(), default=list)
    with pytest.raises(ClinisynthError, match="group column 'marker'"):
        scores(train, holdout, fresh, group="marker")


def test_audit_wires_survival_into_json_and_html(tables):
    train, holdout, fresh = tables
    result = audit(train, holdout, fresh, "death", models=("logistic_regression",),
                   privacy_sample=200)
    data = json.loads(result.to_json())
    assert data["survival"]["time"] == "futime"
    assert set(data["survival"]["headline"]) >= {"km_sup_synthetic", "cindex_tstr",
                                                 "cindex_gap_low", "cindex_gap_high"}
    page = render_html(result)
    assert "Kaplan-Meier" in page and "data:image/png;base64" in page
    assert "over resamples of the holdout patients" in page
    # no pair in the schema and none given: no survival section
    plain = audit(train.drop(columns="futime"), holdout.drop(columns="futime"),
                  fresh.drop(columns="futime"), "death", models=("logistic_regression",),
                  privacy_sample=200)
    assert plain.survival is None and json.loads(plain.to_json())["survival"] is None
    # an explicit pair on a table whose names say nothing
    renamed = [df.rename(columns={"futime": "t", "death": "y"}) for df in tables]
    explicit = audit(*renamed, "y", models=("logistic_regression",), privacy_sample=200,
                     survival=("t", "y"))
    assert explicit.survival.headline() == pytest.approx(result.survival.headline())


def test_a_synthetic_table_without_events_scores_nan_with_notes(tables):
    train, holdout, fresh = tables
    res = scores(train, holdout, fresh.assign(death=0))
    assert res.overall is None and res.distances == []
    assert all(np.isnan(v) for k, v in res.headline().items() if k != "cindex_trtr")
    assert any("no event" in n for n in res.notes) and any("Cox TSTR" in n for n in res.notes)
