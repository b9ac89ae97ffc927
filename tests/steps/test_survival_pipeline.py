"""SurvivalStep wired into HybridSynthesizer, and ``sample(conditions=...)``."""

from __future__ import annotations

import hashlib
import json

import numpy as np
import pandas as pd
import pytest

from clinisynth import HybridSynthesizer
from clinisynth.errors import ClinisynthError
from clinisynth.persistence import DIGEST, MANIFEST, read_model
from clinisynth.steps.survival import SurvivalStep

WEIGHTS = {"gmm": 1, "smote": 1}


def cohort(n: int = 300, seed: int = 0) -> pd.DataFrame:
    """Arm B dies sooner; censoring only after day 100; ``visit`` always before follow-up ends
    (a rule on the survival time, which the survival step models as a score per cell)."""
    rng = np.random.default_rng(seed)
    arm = rng.choice(["A", "B"], n)
    marker = rng.normal(0, 1, n)
    event_time = rng.exponential(np.where(arm == "B", 150, 400) * np.exp(0.3 * marker))
    censor = rng.uniform(100, 700, n)
    time = np.minimum(event_time, censor).round().astype(int) + 1
    return pd.DataFrame({"marker": marker, "arm": arm, "time": time,
                         "visit": np.floor(rng.uniform(0, 1, n) * time),
                         "status": (event_time <= censor).astype(int)})


@pytest.fixture(scope="module")
def table() -> pd.DataFrame:
    return cohort()


@pytest.fixture(scope="module")
def syn(table: pd.DataFrame) -> HybridSynthesizer:
    return HybridSynthesizer(weights=WEIGHTS, seed=0).fit(table, "arm")


def test_follow_up_inside_each_class_event_cell(syn, table):
    assert isinstance(syn.survival_, SurvivalStep)
    assert [s.name for s in syn.pipeline_.steps] == [
        "subsample", "protect", "roles", "rules", "survival", "encode", "mixture", "calibrate",
        "guard"]
    fake = syn.sample(1000, seed=3)
    assert list(fake.columns) == list(table.columns)
    assert fake.dtypes.to_dict() == table.dtypes.to_dict()
    assert (fake["time"] >= 0).all()
    for (arm, status), rows in fake.groupby(["arm", "status"]):
        real = table.loc[(table["arm"] == arm) & (table["status"] == status), "time"]
        assert real.min() <= rows["time"].min() and rows["time"].max() <= real.max(), (arm, status)


def test_encoder_sees_the_score_and_the_guard_the_days(syn, table, monkeypatch):
    model_schema = syn.survival_.model_schema_
    assert syn.encoder_.schema is model_schema
    assert model_schema["time"].kind == "continuous" and model_schema["time"].min < 0
    model = syn.pipeline_.to_model(syn.record_view(table))
    assert abs(model["time"].mean()) < 0.1  # a normal score per cell, not days
    # the rule on days is kept: visit is modelled as its share of the follow-up time
    assert syn.rules_.fixed_ == ["time"] and syn.rules_.fences_["visit"]["upper"] == ["time"]
    assert "inequality: visit <= time" in [r.describe() for r in syn.rules_.rules_]
    assert model_schema["visit"].min >= 0 and model_schema["visit"].max <= 1
    fake = syn.sample(1000, seed=2)
    assert (fake["visit"] <= fake["time"]).all()
    seen: list[pd.DataFrame] = []
    check = syn.guard_.check
    monkeypatch.setattr(syn.guard_, "check", lambda frame: seen.append(frame) or check(frame))
    syn.sample(200, seed=1)
    # the first check sees the whole draw, redraw rounds only the redrawn rows: all in days
    assert seen and len(seen[0]) == 200 and seen[0]["time"].max() > 50
    assert all(f["time"].min() >= 0 and (f["time"] % 1 == 0).all() for f in seen)


def test_switched_off(table):
    off = HybridSynthesizer(weights=WEIGHTS, seed=0, survival=False).fit(table, "arm")
    assert off.survival_ is None and off.get_params()["survival"] is False
    assert [s.name for s in off.pipeline_.steps] == [
        "subsample", "protect", "roles", "rules", "encode", "mixture", "calibrate", "guard"]
    assert off.rules_.model_schema_["time"].max > 100  # days, as given
    assert any("time" in r.columns for r in off.rules_.rules_)
    fake = off.sample(300, seed=0)
    assert fake.dtypes.to_dict() == table.dtypes.to_dict()


def test_save_load_same_sample(syn, tmp_path):
    path = tmp_path / "model"
    syn.save(path)
    manifest, _ = read_model(path)
    survival = next(s for s in manifest["pipeline"]["steps"] if s["step"] == "survival")
    assert survival["state"]["cells"] and manifest["params"]["survival"] is True
    again = HybridSynthesizer.load(path)
    assert isinstance(again.survival_, SurvivalStep)
    pd.testing.assert_frame_equal(again.sample(400, seed=5), syn.sample(400, seed=5))


def test_model_of_the_previous_format_says_fit_again(table, tmp_path):
    old = HybridSynthesizer(weights="gmm", seed=0, survival=False).fit(table, "arm")
    old.save(tmp_path / "m")
    manifest = json.loads((tmp_path / "m" / MANIFEST).read_text())
    edited = json.dumps({**manifest, "format_version": 2}).encode()  # as the last version wrote
    (tmp_path / "m" / MANIFEST).write_bytes(edited)
    (tmp_path / "m" / DIGEST).write_text(f"{hashlib.sha256(edited).hexdigest()}  {MANIFEST}\n")
    with pytest.raises(ClinisynthError) as info:
        HybridSynthesizer.load(tmp_path / "m")
    assert "format version 2" in str(info.value) and "fit the model again" in str(info.value)
    assert "\n" not in str(info.value)


# -- conditions ------------------------------------------------------------------------------
def test_conditions_exact_rows_all_satisfied_and_reproducible(syn):
    conds = ["time>=200", "status=1", "marker > 0"]
    out = syn.sample(150, conditions=conds, seed=0)
    assert len(out) == 150
    assert (out["time"] >= 200).all() and (out["status"] == 1).all() and (out["marker"] > 0).all()
    pd.testing.assert_frame_equal(out, syn.sample(150, conditions=conds, seed=0))
    assert not out.equals(syn.sample(150, conditions=conds, seed=1))
    pd.testing.assert_frame_equal(syn.sample(50, conditions=[], seed=2), syn.sample(50, seed=2))
    one = syn.sample(40, conditions="arm=B", seed=0)  # a single string; only class B allowed
    assert len(one) == 40 and (one["arm"] == "B").all()
    counts = syn.sample(30, class_counts={"A": 10, "B": 20}, conditions=["status=0"], seed=0)
    assert counts["arm"].value_counts().to_dict() == {"B": 20, "A": 10}
    assert (counts["status"] == 0).all()


def test_conditions_without_seed_follow_the_model_stream(table):
    a = HybridSynthesizer(weights="gmm", privacy_guard=False, seed=4).fit(table, "arm")
    b = HybridSynthesizer(weights="gmm", privacy_guard=False, seed=4).fit(table, "arm")
    first = a.sample(20, conditions=["status=1"])
    pd.testing.assert_frame_equal(first, b.sample(20, conditions=["status=1"]))
    assert not first.equals(a.sample(20, conditions=["status=1"]))


@pytest.mark.parametrize("conds, message", [
    (["time>=100000"], "no value of 'time'"),
    (["stage=I"], "unknown column 'stage'"),
    (["status=7"], "not a category of 'status'"),
    (["marker>1", "marker<0"], "on column 'marker' leave no possible value"),
])
def test_impossible_condition_names_the_column(syn, conds, message):
    with pytest.raises(ClinisynthError, match=message):
        syn.sample(10, conditions=conds, seed=0)


def test_too_rare_condition_raises(syn):
    with pytest.raises(ClinisynthError, match="too rare for the model"):
        syn.sample(5, conditions=["0.5<=marker<=0.5000001"], seed=0)


def test_fit_reports_the_study_window_and_every_row_keeps_it(tmp_path):
    """`clinisynth fit` names the window it found; the hybrid's rows all stay inside it."""
    from typer.testing import CliRunner

    from clinisynth.cli import app
    from steps.test_survival_step import windowed_cohort

    df = windowed_cohort(n=400)
    df.to_csv(tmp_path / "c.csv", index=False)
    result = CliRunner().invoke(app, ["fit", "--data", str(tmp_path / "c.csv"), "--target",
                                      "arm", "--model", str(tmp_path / "m"), "--weights",
                                      "gmm=1,noise=1"])
    assert result.exit_code == 0, result.output
    out = " ".join(result.stdout.split())
    assert ("survival: time modelled per (arm, status) cell (times fewer than 5 patients hold "
            "kernel-smoothed over their nearest times); study window year × 365.25 + time"
            in out), out
    syn = HybridSynthesizer.load(tmp_path / "m")
    fake = syn.sample(1000, seed=2)
    assert (365.25 * fake["year"] + fake["time"] <= syn.survival_.window_["end"]).all()
