"""SurvivalStep: follow-up time per (class, event) cell, bounded by construction."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from clinisynth.errors import ClinisynthError
from clinisynth.schema import infer_schema
from clinisynth.steps import STEPS
from clinisynth.steps.survival import SurvivalStep
from conftest import shared_dataset


def cohort(n: int = 400, seed: int = 0) -> pd.DataFrame:
    """Event times shorter in arm B; censoring only after day 100 (end of recruitment)."""
    rng = np.random.default_rng(seed)
    arm = rng.choice(["A", "B"], n)
    event_time = rng.exponential(np.where(arm == "B", 150, 400))
    censor = rng.uniform(100, 700, n)
    return pd.DataFrame({"marker": rng.normal(0, 1, n), "arm": arm,
                         "time": np.minimum(event_time, censor).round().astype(int),
                         "status": (event_time <= censor).astype(int)})


def test_round_trip_and_model_schema():
    df = cohort()
    schema = infer_schema(df, "arm")  # the event indicator is not the target
    assert schema.survival[0]["event"] == "status"
    step = SurvivalStep().fit_table(df, schema)
    model = step.transform_table(df)
    assert step.model_schema_["time"].kind == "continuous"
    assert step.model_schema_["time"].score and not step.model_schema_["marker"].score
    assert "score" not in schema.to_dict()["columns"][0]  # never in a user's schema
    assert step.model_schema_.to_dict()["columns"][2]["score"] is True
    assert step.model_schema_.survival is None
    assert abs(model["time"].mean()) < 0.05 and 0.9 < model["time"].std() < 1.05
    back = step.inverse_table(model, np.random.default_rng(0))
    assert back["time"].dtype == df["time"].dtype
    assert np.abs(back["time"] - df["time"]).max() <= 1  # exact up to rounding
    pd.testing.assert_frame_equal(back.drop(columns="time"), df.drop(columns="time"))


def test_any_score_decodes_inside_its_cell():
    df = cohort()
    schema = infer_schema(df, "arm")
    step = SurvivalStep().fit_table(df, schema)
    rng = np.random.default_rng(1)
    fake = df.sample(2000, replace=True, random_state=0).reset_index(drop=True)
    fake["time"] = rng.normal(0, 4, len(fake))  # wild scores, far outside the real ones
    out = step.inverse_table(fake, rng)
    assert (out["time"] >= 0).all() and out["time"].max() <= df["time"].max()
    for (arm, status), rows in out.groupby(["arm", "status"]):
        real = df[(df["arm"] == arm) & (df["status"] == status)]["time"]
        assert rows["time"].min() >= real.min() and rows["time"].max() <= real.max()
    # censoring never before the first real censoring time (day 100), whatever the arm
    assert out.loc[out["status"] == 0, "time"].min() >= df.loc[df["status"] == 0, "time"].min()


def test_state_round_trip_and_registry():
    df = cohort()
    step = SurvivalStep().fit_table(df, infer_schema(df, "status"))
    meta, arrays = step.get_state()
    again = STEPS.get("survival").from_state(meta, arrays)
    z = step.transform_table(df)
    pd.testing.assert_frame_equal(again.transform_table(df), z)
    rng = np.random.default_rng(0)
    pd.testing.assert_frame_equal(again.inverse_table(z, rng), step.inverse_table(z, rng))


def test_needs_a_pair():
    df = cohort().rename(columns={"time": "marker2"})
    with pytest.raises(ClinisynthError, match="no survival pair"):
        SurvivalStep().fit_table(df, infer_schema(df, "arm"))


def test_liver_competing_events_keep_their_own_times():
    liver = pd.read_csv(shared_dataset("liver_pbc.csv"))
    schema = infer_schema(liver, "status")
    assert schema.survival == [{"time": "time", "event": "status", "event_values": [2]}]
    step = SurvivalStep().fit_table(liver, schema)
    assert [e for _, e, _, _ in step.cells_] == [None, 0, 1, 2]
    z = step.transform_table(liver)
    back = step.inverse_table(z, np.random.default_rng(0))
    assert np.abs(back["time"] - liver["time"]).max() <= 1


def test_composed_with_the_hybrid_censoring_stays_consistent():
    """Event indicator not the target: without the step a mixture writes censoring times
    before the first real one (day 100); with it (the synthesizer's default) every time stays
    inside its cell."""
    from clinisynth.synthesizer import HybridSynthesizer

    df = cohort()
    schema = infer_schema(df, "arm")

    def hybrid(survival: bool):
        return HybridSynthesizer(weights="gmm", calibration=None, privacy_guard=False, seed=0,
                                 survival=survival)

    plain = hybrid(survival=False).fit(df, schema=schema).sample(400)
    fake = hybrid(survival=True).fit(df, schema=schema).sample(400)  # the step, wired in
    first_censoring = df.loc[df["status"] == 0, "time"].min()
    assert plain.loc[plain["status"] == 0, "time"].min() < first_censoring
    assert fake.loc[fake["status"] == 0, "time"].min() >= first_censoring
    for (arm, status), rows in fake.groupby(["arm", "status"]):
        real = df[(df["arm"] == arm) & (df["status"] == status)]["time"]
        assert real.min() <= rows["time"].min() and rows["time"].max() <= real.max()
    assert fake["time"].dtype == df["time"].dtype


def windowed_cohort(n: int = 600, seed: int = 0) -> pd.DataFrame:
    """Recruited over 2000-2009 (whole years), followed to the close on day 11 of 2011:
    ``365.25 * year + time <= close`` for every patient, most censored at the close."""
    rng = np.random.default_rng(seed)
    year = rng.integers(2000, 2010, n)
    day = rng.uniform(0, 365, n)  # the day of entry, unrecorded
    close = 365.25 * 2011 + 10
    event_time = rng.exponential(4000, n)
    window = close - (365.25 * year + day)
    return pd.DataFrame({"year": year, "marker": rng.normal(0, 1, n),
                         "arm": rng.choice(["A", "B"], n),
                         "time": np.floor(np.minimum(event_time, window)).astype(int),
                         "status": (event_time <= window).astype(int)})


def test_study_window_is_found_and_holds_for_any_score():
    df = windowed_cohort()
    schema = infer_schema(df, "arm")
    step = SurvivalStep().fit_table(df, schema)
    window = step.window_
    assert window is not None and window["entry"] == "year" and window["scale"] == 365.25
    end = window["end"]
    assert end == (365.25 * df["year"] + df["time"]).max()
    back = step.inverse_table(step.transform_table(df), np.random.default_rng(0))
    assert np.abs(back["time"] - df["time"]).max() <= 1  # still a round trip
    rng = np.random.default_rng(2)
    fake = df.sample(3000, replace=True, random_state=1).reset_index(drop=True)
    fake["year"] = rng.integers(2000, 2010, len(fake))  # entries independent of the scores
    fake["time"] = rng.normal(0, 4, len(fake))
    out = step.inverse_table(fake, rng)
    assert (out["time"] >= 0).all()
    assert (365.25 * out["year"] + out["time"] <= end).all()
    saved = SurvivalStep.from_state(*step.get_state())
    pd.testing.assert_frame_equal(saved.inverse_table(fake, np.random.default_rng(2)),
                                  step.inverse_table(fake, np.random.default_rng(2)))


def test_without_the_window_late_entrants_pass_the_close(monkeypatch):
    """What the window prevents: the per-cell time model alone lets late entrants run past it."""
    import clinisynth.steps.survival as survival

    df = windowed_cohort()
    monkeypatch.setattr(survival, "find_window", lambda *args: None)
    step = SurvivalStep().fit_table(df, infer_schema(df, "arm"))
    rng = np.random.default_rng(2)
    fake = df.sample(3000, replace=True, random_state=1).reset_index(drop=True)
    fake["year"] = rng.integers(2000, 2010, len(fake))
    fake["time"] = rng.normal(0, 1, len(fake))
    out = step.inverse_table(fake, rng)
    end = (365.25 * df["year"] + df["time"]).max()
    assert (365.25 * out["year"] + out["time"] > end).mean() > 0.1


def test_no_window_when_censoring_ignores_entry():
    df = cohort()  # censoring uniform on days 100-700, whatever the marker
    assert SurvivalStep().fit_table(df, infer_schema(df, "arm")).window_ is None
    late = windowed_cohort()
    late["year"] = np.random.default_rng(5).permutation(late["year"].to_numpy())
    assert SurvivalStep().fit_table(late, infer_schema(late, "arm")).window_ is None


def test_censored_times_follow_their_entry_years_gap():
    """Most censored rows reach the close, so censored cells model the gap to it, one cell per
    entry year: whatever the score, a censored time stays within its year's real range."""
    df = windowed_cohort(n=2000)
    step = SurvivalStep().fit_table(df, infer_schema(df, "arm"))
    assert step.window_["gap"] and step.window_["levels"] == sorted(df["year"].unique())
    rng = np.random.default_rng(4)
    fake = df.sample(4000, replace=True, random_state=2).reset_index(drop=True)
    fake["year"] = rng.integers(2000, 2010, len(fake))
    fake["status"] = 0
    fake["time"] = rng.normal(0, 1, len(fake))
    out = step.inverse_table(fake, rng)
    real = df[df["status"] == 0].groupby("year")["time"].agg(["min", "max"])
    for year, rows in out.groupby("year"):
        assert real.loc[year, "min"] <= rows["time"].min()
        assert rows["time"].max() <= real.loc[year, "max"]


def test_smoothed_cells_hold_no_rare_time_inside_their_ends():
    """With smoothing (value protection) a cell's table holds no time fewer than k rows hold,
    but its two ends; decoded times stay inside the cell's real range; the step round-trips."""
    df = cohort()
    schema = infer_schema(df, "arm")
    step = SurvivalStep(smoothing=1.0).fit_table(df, schema)
    raw = SurvivalStep().fit_table(df, schema)
    held = df["time"].value_counts()
    rare = np.log1p(held[held < schema.k].index.to_numpy(dtype=float))
    for values, raw_values in zip(step.values_, raw.values_, strict=True):
        inside = values[1:-1]
        assert not np.isin(inside, rare).any()
        assert values[0] == raw_values[0] and values[-1] == raw_values[-1]
    assert sum(step.rows_) == sum(raw.rows_) and step.report()["cells"][0]["rows"] == len(df)
    z = pd.DataFrame({**{c: df[c] for c in df.columns if c != "time"},
                      "time": np.linspace(-6, 6, len(df))})[df.columns]
    back = step.inverse_table(z, np.random.default_rng(0))
    assert back["time"].between(df["time"].min(), df["time"].max()).all()
    model = step.transform_table(df)
    again = step.transform_table(step.inverse_table(model, np.random.default_rng(0)))
    assert np.allclose(again["time"], model["time"], atol=0.05)  # up to rounding to days
    state = SurvivalStep.from_state(*step.get_state())
    assert state.smoothing == 1.0
    pd.testing.assert_frame_equal(state.inverse_table(z, np.random.default_rng(0)), back)


@pytest.mark.parametrize("protect", [True, False])
def test_value_protection_smooths_the_times_where_they_are_written(protect):
    """With ``protect`` (the default) the survival step smooths its tables of times, as the
    calibration does its columns; without it neither does."""
    from clinisynth import HybridSynthesizer

    syn = HybridSynthesizer(weights={"gmm": 1}, privacy_guard=False, protect=protect, seed=0)
    syn.fit(cohort(200), "arm")
    assert (syn.pipeline_.step("survival").smoothing > 0) is protect
    assert syn.smoothed_ is protect


def in_hospital(n: int = 600, seed: int = 0) -> pd.DataFrame:
    """Follow-up ``futime``/``death`` and a nested stay ``los``/``hosp_death``: a death in
    hospital ends follow-up at the stay's end (days, short); other deaths come much later."""
    rng = np.random.default_rng(seed)
    hosp = rng.random(n) < 0.3
    los = rng.integers(2, 40, n).astype(float)
    later = los + rng.exponential(600, n).round()
    death = hosp | (rng.random(n) < 0.5)
    return pd.DataFrame({"marker": rng.normal(0, 1, n), "arm": rng.choice(["A", "B"], n),
                         "futime": np.where(hosp, los, later), "death": death.astype(int),
                         "los": los, "hosp_death": hosp.astype(int)})


def test_other_pairs_events_split_the_cells():
    """The other pair's event (death in hospital) splits the follow-up's cells: whatever score
    a synthetic row with ``hosp_death = 1`` gets, its follow-up is one of the short in-hospital
    times, not a time drawn from every death."""
    df = in_hospital()
    schema = infer_schema(df, "arm")
    schema.survival = [{"time": "futime", "event": "death"},
                       {"time": "los", "event": "hosp_death"}]
    step = SurvivalStep().fit_table(df, schema)
    assert step.secondary_ == ["hosp_death"]
    assert (None, 1, None, (1,)) in step.cells_
    z = step.transform_table(df)
    for hosp in (0, 1):
        rows = (df["death"] == 1) & (df["hosp_death"] == hosp)
        assert abs(z.loc[rows, "futime"].mean()) < 0.15  # standard normal within the cell
    grid = pd.DataFrame({"marker": 0.0, "arm": "A", "futime": np.linspace(-3, 3, 61),
                         "death": 1, "los": 10.0, "hosp_death": 1})
    back = step.inverse_table(grid, np.random.default_rng(0))
    assert back["futime"].max() <= df.loc[df["hosp_death"] == 1, "futime"].max()
    meta, arrays = step.get_state()
    again = STEPS.get("survival").from_state(meta, arrays)
    pd.testing.assert_frame_equal(again.inverse_table(grid, np.random.default_rng(0)), back)
    one = SurvivalStep().fit_table(df, schema, pairs=schema.survival[:1])  # no other pair
    assert one.secondary_ == [] and all(c[3] is None for c in one.cells_)
    assert one.inverse_table(grid, np.random.default_rng(0))["futime"].max() > 100


def test_the_pipeline_hands_the_step_the_pairs_the_rules_step_encodes():
    """In the hybrid the rules step fences ``los <= futime`` and drops that pair from its model
    table; the survival step still splits its cells by the pair's event (the record view's)."""
    from clinisynth.synthesizer import HybridSynthesizer

    df = in_hospital()
    schema = infer_schema(df, "arm")
    schema.survival = [{"time": "futime", "event": "death"},
                       {"time": "los", "event": "hosp_death"}]
    syn = HybridSynthesizer(weights="gmm", privacy_guard=False, seed=0).fit(df, schema=schema)
    assert syn.pipeline_.step("survival").secondary_ == ["hosp_death"]
    fake = syn.sample(600)
    hosp = fake["hosp_death"] == 1
    assert fake.loc[hosp, "futime"].max() <= df.loc[df["hosp_death"] == 1, "futime"].max()
