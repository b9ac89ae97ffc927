"""Value protection: no value that fewer than k patients hold reaches the model or its output."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from clinisynth import HybridSynthesizer
from clinisynth.errors import ClinisynthError
from clinisynth.schema import TableSchema, infer_schema
from clinisynth.steps.base import Batch, FitContext
from clinisynth.steps.protect import RARE, ProtectStep
from clinisynth.values import held_counts
from conftest import make_mixed_table

SYLLABLES = ["pha", "ber", "ka", "mi", "lo", "ren", "tu", "sa", "vo", "den", "gri", "ul"]


def exposed(n: int = 300, seed: int = 0) -> pd.DataFrame:
    """Columns that any hospital export has: a near-unique surname, a ward held once, a stage
    code held twice, a lab with one-patient extremes, and a total of two counts."""
    rng = np.random.default_rng(seed)
    lab = rng.normal(100, 15, n).round(1)
    lab[0], lab[1] = 190.3, 12.7  # one patient each, far out
    stage = rng.choice([1, 2, 3, 4], n)
    stage[2:4] = 5  # a code two patients hold
    first, second = rng.integers(0, 10, n), rng.integers(0, 6, n)
    wards = rng.choice(["A", "B", "C"], n).astype(object)
    wards[5] = "ICU-7 bed 3 (Dr Kowalski)"
    wards[6:8] = "Ward Z"  # two patients
    wards[8:11] = "Ward Y"  # three
    return pd.DataFrame({
        "surname": ["".join(rng.choice(SYLLABLES, rng.integers(2, 4))).capitalize()
                    for _ in range(n)],
        "ward": wards, "stage": stage, "lab": lab, "age": rng.integers(20, 90, n),
        "first": first, "second": second, "total": first + second,
        "outcome": rng.choice(["no", "yes"], n, p=[0.6, 0.4]),
    })


def fit_step(df: pd.DataFrame, schema: TableSchema | None = None) -> ProtectStep:
    schema = schema or infer_schema(df, "outcome")
    return ProtectStep().fit(Batch(frame=df), FitContext(np.random.default_rng(0), schema))


def test_near_unique_text_is_an_identifier_whatever_its_name():
    schema = infer_schema(exposed(), "outcome")
    assert schema["surname"].role == "identifier"
    assert schema["ward"].role == "quasi_identifier"  # a rare category, but mostly frequent


def test_rare_categories_pooled_or_folded_and_never_stored():
    df = exposed()
    step = fit_step(df)
    out = step.transform_table(df)
    assert "ICU-7 bed 3 (Dr Kowalski)" not in set(out["ward"])
    assert set(out["ward"]) == {"A", "B", "C", RARE}  # three rare wards, 6 rows: pooled
    assert set(out["stage"]) == {1, 2, 3, 4} and out["stage"].dtype == df["stage"].dtype
    assert out.loc[2, "stage"] == 4  # folded into the nearest kept code
    text = json.dumps(step.get_state()[0])
    assert "Kowalski" not in text and "Ward Z" not in text
    assert step.model_schema_["ward"].categories == ["A", "B", "C", RARE]
    assert step.pooled(infer_schema(df, "outcome")) == {"ward": 3, "stage": 1}
    few = df.assign(ward=df["ward"].replace({"Ward Y": "A"}))  # 3 rare rows: below k
    assert set(fit_step(few).transform_table(few)["ward"]) == {"A", "B", "C"}  # the mode


def test_extremes_are_protected_quantiles():
    df = exposed()
    k = 5
    step = fit_step(df)
    out = step.transform_table(df)
    for name in ("lab", "age"):
        real = df[name]
        counts = real.value_counts()
        lo, hi = out[name].min(), out[name].max()
        assert (real <= lo).sum() >= k and (real >= hi).sum() >= k  # k patients at each end
        assert counts.get(lo, 0) in (0, *range(k, len(df)))  # held by none or by k or more
        assert counts.get(hi, 0) in (0, *range(k, len(df)))
    assert out["lab"].max() < 190.3 and out["lab"].min() > 12.7
    assert "190.3" not in json.dumps(step.get_state()[0])


def test_relations_survive_the_protection():
    df = exposed()
    df["later"] = df["lab"] + np.random.default_rng(1).gamma(2.0, 3.0, len(df)).round(1)
    out = fit_step(df).transform_table(df)
    assert out["total"].equals(out["first"] + out["second"])  # recomputed, not clipped
    assert (out["lab"] <= out["later"]).all()  # bounds kept in order


def test_a_declared_public_bound_is_not_protected():
    df = exposed()
    data = infer_schema(df, "outcome").to_dict()
    for col in data["columns"]:
        if col["name"] == "age":
            col.update(public_min=18, public_max=100)
    schema = TableSchema.from_dict(data)
    step = fit_step(df, schema)
    assert step.model_schema_["age"].min == 18 and step.model_schema_["age"].max == 100
    assert step.transform_table(df)["age"].equals(df["age"])
    bad = json.loads(json.dumps(data))
    bad["columns"][3]["public_min"] = "low"
    with pytest.raises(ClinisynthError, match="public_min must be a number"):
        TableSchema.from_dict(bad)


def test_the_hybrid_shows_and_saves_no_rare_value(tmp_path):
    df = exposed()
    syn = HybridSynthesizer(weights="gmm", seed=0)
    with pytest.warns(UserWarning, match="surname' is an identifier"):
        syn.fit(df, "outcome")
    fake = syn.sample(2000, seed=1)
    assert not fake["surname"].isin(df["surname"]).any()
    held = held_counts(df["ward"])
    assert all(held.get(("s", v), 99) >= 5 for v in fake["ward"] if v != RARE)
    for name in ("lab", "age"):
        counts = df[name].value_counts()
        for end in (fake[name].min(), fake[name].max()):
            assert counts.get(end, 0) == 0 or counts.get(end, 0) >= 5, (name, end)
    syn.save(tmp_path / "m")
    text = (tmp_path / "m" / "manifest.json").read_text()
    assert "Kowalski" not in text and "Ward Z" not in text and "190.3" not in text
    assert not any(name in text for name in df["surname"])
    off = HybridSynthesizer(weights="gmm", seed=0, protect=False).fit(df, "outcome")
    off.save(tmp_path / "off")
    assert "190.3" in (tmp_path / "off" / "manifest.json").read_text()  # the check can fail


def test_guard_options_empty_means_on_and_a_typo_is_an_error():
    df = make_mixed_table(120)
    syn = HybridSynthesizer(weights="gmm", calibration=None, privacy_guard={}, seed=0)
    assert syn.fit(df, "outcome").guard_ is not None
    with pytest.raises(ClinisynthError, match="privacy_guard: unknown option 'percentil'"):
        HybridSynthesizer(privacy_guard={"percentil": 5}).fit(df, "outcome")
    assert HybridSynthesizer(weights="gmm", calibration=None, privacy_guard=False,
                             seed=0).fit(df, "outcome").guard_ is None


def transplant(n: int = 150, seed: int = 0) -> pd.DataFrame:
    """Nested durations as in a transplant cohort: relapse-free time ``t2`` and platelet
    recovery ``tp`` never past follow-up ``t1``, each equal to it when censored; the patients
    whose platelets never recover die early, a few of them late (one patient at 900 days)."""
    rng = np.random.default_rng(seed)
    t1 = rng.integers(100, 2500, n)
    never = np.arange(12)
    t1[never] = [20, 25, 30, 35, 40, 50, 60, 80, 150, 300, 491, 900]
    relapse = rng.random(n) < 0.4
    t2 = np.where(relapse, (t1 * rng.uniform(0.1, 0.9, n)).astype(int), t1)
    tp = np.minimum(rng.integers(8, 60, n), t1)
    tp[never] = t1[never]
    return pd.DataFrame({"t1": t1, "died": rng.integers(0, 2, n), "t2": t2,
                         "relapse": relapse.astype(int), "tp": tp,
                         "recovered": (np.arange(n) >= 12).astype(int)})


def test_a_censored_inner_duration_takes_the_outer_protected_value():
    """Clipping a tied row to the two ranges' overlap moved follow-up 491 to tp's end (about
    60) and broke t2 <= t1 on that row; the outer keeps its own clipping."""
    df = transplant()
    step = fit_step(df, infer_schema(df, "died"))
    assert {("tp", "t1"), ("t2", "t1")} <= {tuple(t) for t in step.ties_}
    out = step.transform_table(df)
    assert out["t1"].equals(df["t1"].clip(step.plans_["t1"]["lo"], step.plans_["t1"]["hi"]))
    for inner in ("t2", "tp"):
        assert (out[inner] <= out["t1"]).all(), inner
        tied = df[inner] == df["t1"]
        assert (out.loc[tied, inner] == out.loc[tied, "t1"]).all(), inner
        free = ~tied  # clipped to the inner column's own protected range
        plan = step.plans_[inner]
        assert out.loc[free, inner].between(plan["lo"], plan["hi"]).all(), inner
    assert out.loc[10, "tp"] == 491 > step.plans_["tp"]["hi"]  # t1's value, t1's ends
    assert step.model_schema_["tp"].max == out["tp"].max()  # the model may reach it


def test_a_tie_on_one_row_is_a_coincidence_and_each_column_is_clipped_alone():
    """One patient's lab equals its later value at the lab's one-patient maximum: the lab does
    not take the later value's ends there (that would publish 190.3), the later value keeps
    its own clipping, and the order still holds."""
    df = exposed()
    df["later"] = df["lab"] + np.random.default_rng(1).gamma(2.0, 3.0, len(df)).round(1)
    df.loc[0, "later"] = df.loc[0, "lab"]  # 190.3 both
    step = fit_step(df)
    assert ["lab", "later"] not in step.ties_
    out = step.transform_table(df)
    assert out.loc[0, "lab"] == step.plans_["lab"]["hi"] < 190.3
    assert out.loc[0, "later"] == min(190.3, step.plans_["later"]["hi"])
    assert (out["lab"] <= out["later"]).all()
    assert step.model_schema_["lab"].max == step.plans_["lab"]["hi"]


def response(n: int = 200, seed: int = 0) -> pd.DataFrame:
    """Complete response ``crtime`` (days 21-60, four late responders at 1800-2400) never past
    follow-up ``futime`` (mostly 100-2500 days, six at 40-58; four patients died within days,
    with no response): a shuffled table breaks ``crtime <= futime`` about 8 times, but once
    protection clips the four short follow-ups and the four late responses, about 4 times
    (below 5: chance)."""
    rng = np.random.default_rng(seed)
    futime = rng.integers(100, 2500, n).astype(float)
    crtime = rng.integers(21, 60, n).astype(float)
    futime[:4], crtime[:4] = [2, 3, 4, 5], np.nan
    futime[4:8], crtime[4:8] = [2450, 2460, 2470, 2480], [1800, 2000, 2200, 2400]
    futime[8:14], crtime[8:14] = [40, 44, 48, 52, 56, 58], [22, 30, 25, 40, 33, 50]
    return pd.DataFrame({"futime": futime, "crtime": crtime, "death": rng.integers(0, 2, n)})


def test_an_inequality_keeps_the_evidence_of_the_rows_before_protection():
    from clinisynth.rules.discovery import discover_rules

    df = response()
    rule = "inequality: crtime <= futime"
    assert rule in {r.describe() for r in discover_rules(df, infer_schema(df, "death")).rules}
    step = fit_step(df, infer_schema(df, "death"))
    assert ["crtime", "futime"] in step.order_
    protected = step.transform_table(df)
    found = discover_rules(protected, step.model_schema_).rules
    assert rule not in {r.describe() for r in found}  # the clipped rows alone: chance
    syn = HybridSynthesizer(weights="gmm", privacy_guard=False, seed=0).fit(df, "death")
    assert rule in {r.describe() for r in syn.pipeline_.step("rules").rules_}
    fake = syn.sample(2000, seed=1)
    both = fake["crtime"].notna()
    assert (fake.loc[both, "crtime"] <= fake.loc[both, "futime"]).all()
