"""LinkedSynthesizer: structure by construction, the input's shape, determinism, value
protection in the child tables, persistence."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from clinisynth.audit.linked import lag1, linked_audit, structure
from clinisynth.errors import ClinisynthError, NotFittedError, SchemaError
from clinisynth.linked import LinkedSynthesizer
from clinisynth.linked.cohort import simulate_cohort
from clinisynth.persistence import read_model
from conftest import FAST_PARAMS

PARENT = {"search": {"episodes": 6}, "generator_params": FAST_PARAMS}  # not a time cap


@pytest.fixture(scope="module")
def cohort():
    tables = simulate_cohort(200, seed=1)
    visits = tables["visits"]
    first = visits.index[visits["id"] == visits["id"].iloc[0]]
    visits.loc[first[0], "lab_b"] = 999.0  # one patient's extreme value
    visits["site"] = np.where(np.arange(len(visits)) % 2 == 0, "A", "B")
    visits.loc[first, "site"] = "ICU-7 bed 3"  # a category one patient holds
    return tables


@pytest.fixture(scope="module")
def fitted(cohort):
    return LinkedSynthesizer(seed=0, parent_options=PARENT).fit(cohort, "status")


@pytest.fixture(scope="module")
def fake(fitted):
    return fitted.sample(150, seed=4)


def test_tables_columns_and_dtypes_are_the_input_s(cohort, fake):
    assert list(fake) == list(cohort)
    for name, frame in fake.items():
        assert list(frame.columns) == list(cohort[name].columns)
        for col in frame.columns:
            real, syn = cohort[name][col].dtype, frame[col].dtype
            assert real == syn or (real.kind == "i" and str(syn) == "Int64"), (name, col)
    assert len(fake["patients"]) == 150 and fake["patients"]["id"].is_unique


def test_structure_holds_by_construction(fitted, fake):
    counts = structure(fake, fitted.links_)
    for table, row in counts.items():
        broken = {k: v for k, v in row.items() if k != "rows" and v}
        assert not broken, (table, broken)
    stage = fake["visits"].groupby("id")["stage"].diff().dropna()
    assert (stage >= 0).all()  # the monotone column never falls
    infections = fake["infections"]
    assert (infections.groupby("id")["tstart"].first() == 0).all()


def test_structure_check_can_fail(fitted, fake):
    broken = {k: v.copy() for k, v in fake.items()}
    visits = broken["visits"]
    second = visits.index[visits["id"].duplicated()][0]
    visits.loc[second, "day"] = -5  # falls below the patient's first visit
    visits.loc[visits.index[-1], "id"] = 10_000_000  # an orphan
    counts = structure(broken, fitted.links_)["visits"]
    assert counts["orphans"] == 1 and counts["order_falls"] >= 1


def test_same_seed_same_tables_and_persistence(fitted, fake, tmp_path):
    again = fitted.sample(150, seed=4)
    fitted.save(tmp_path / "model")
    loaded = LinkedSynthesizer.load(tmp_path / "model")
    reloaded = loaded.sample(150, seed=4)
    for name in fake:
        pd.testing.assert_frame_equal(fake[name], again[name])
        pd.testing.assert_frame_equal(fake[name], reloaded[name])
    other = fitted.sample(150, seed=5)
    assert not fake["visits"].equals(other["visits"])


def test_values_few_patients_hold_never_leave(cohort, fake, tmp_path, fitted):
    assert "ICU-7 bed 3" not in set(fake["visits"]["site"].dropna())
    assert fake["visits"]["lab_b"].max() < 999.0
    fitted.save(tmp_path / "m")
    stored = b"".join(p.read_bytes() for p in (tmp_path / "m").iterdir() if p.is_file())
    assert b"ICU-7" not in stored
    _, arrays = read_model(tmp_path / "m")
    assert not any((a == 999.0).any() for a in arrays.values() if a.dtype.kind == "f")


def test_dynamics_and_audit(cohort, fake, fitted):
    real = cohort["visits"].sort_values(["id", "day"])
    link = fitted.links_.children[0]
    assert abs(lag1(fake["visits"], link, "lab_a") - lag1(real, link, "lab_a")) < 0.15
    report = linked_audit(cohort, cohort, fake, fitted.links_, target="status", seed=0)
    assert set(report) >= {"structure", "dynamics", "patient_detection", "longitudinal",
                           "patient_risks", "marginals"}
    assert 0.0 <= report["patient_detection"]["synthetic"] <= 1.0
    intervals = report["patient_risk_intervals"]
    assert set(intervals) == set(report["patient_risks"])
    for name, (low, high) in intervals.items():
        risk = report["patient_risks"][name]
        assert not math.isfinite(risk) or low <= risk <= high, name


def test_errors_are_one_line(cohort, tmp_path):
    with pytest.raises(NotFittedError):
        LinkedSynthesizer().sample(3)
    with pytest.raises(SchemaError, match="--target"):
        LinkedSynthesizer(parent_options=PARENT).fit(cohort, "nope")
    with pytest.raises(SchemaError, match="parent and at least one child"):
        LinkedSynthesizer().fit({"patients": cohort["patients"]}, "status")
    from clinisynth import HybridSynthesizer

    one = HybridSynthesizer(seed=0, weights={"gmm": 1.0}).fit(cohort["patients"], "status")
    one.save(tmp_path / "single")
    with pytest.raises(ClinisynthError, match="not a linked-tables model"):
        LinkedSynthesizer.load(tmp_path / "single")


def test_long_format_values_follow_their_test():
    rng = np.random.default_rng(0)
    patients = pd.DataFrame({"id": range(1, 161), "age": rng.normal(60, 8, 160).round(),
                             "died": rng.integers(0, 2, 160)})
    rows = []
    for i in range(1, 161):
        day = 0
        for _ in range(int(rng.integers(1, 4))):
            for test, mu in (("hb", 13.0), ("crp", 40.0), ("na", 140.0)):
                rows.append((i, day, test, round(mu + rng.normal(0, mu / 20), 1)))
            day += int(rng.integers(20, 90))
    labs = pd.DataFrame(rows, columns=["id", "days", "test", "value"])
    syn = LinkedSynthesizer(seed=0, parent_options=PARENT).fit(
        {"patients": patients, "labs": labs}, "died")
    fake = syn.sample(160, seed=0)["labs"]
    real = labs.groupby("test")["value"].agg(["mean", "std"])
    drawn = fake.groupby("test")["value"].agg(["mean", "std"])
    assert set(drawn.index) == set(real.index)
    assert ((drawn["mean"] - real["mean"]).abs() < real["std"]).all()
    assert (drawn["std"] < 2 * real["std"]).all()  # not one pooled spread for every test


def test_visit_dates_are_orders_bounded_by_a_parent_date():
    tables = simulate_cohort(150, seed=0)
    patients, visits = tables["patients"].copy(), tables["visits"].copy()
    enrolled = pd.Timestamp("2015-03-01") + pd.to_timedelta(patients["id"] * 3, unit="D")
    patients["end"] = (enrolled + pd.to_timedelta(patients["futime"], unit="D")).dt.strftime(
        "%d/%m/%Y")
    visits["date"] = (visits["id"].map(enrolled.set_axis(patients["id"]))
                      + pd.to_timedelta(visits["day"], unit="D")).dt.strftime("%d/%m/%Y")
    visits = visits.drop(columns=["day"])
    syn = LinkedSynthesizer(seed=0, parent_options=PARENT).fit(
        {"patients": patients, "visits": visits}, "status")
    link = syn.links_.children[0]
    assert (link.order, link.bound) == ("date", "end")
    fake = syn.sample(100, seed=0)
    dates = pd.to_datetime(fake["visits"]["date"], format="%d/%m/%Y")
    ends = pd.to_datetime(fake["patients"].set_index("id")["end"], format="%d/%m/%Y")
    assert (dates <= fake["visits"]["id"].map(ends)).all()
    assert (dates.groupby(fake["visits"]["id"]).diff().dt.days.dropna() > 0).all()
    assert fake["visits"]["date"].dtype == object


def test_the_patient_guard_refuses_copied_patients(cohort, fitted, fake):
    from clinisynth.audit.linked import patient_rows
    from clinisynth.linked.guard import PatientGuard

    real = fitted.links_
    rows = patient_rows({"patients": cohort["patients"],
                         "visits": cohort["visits"].sort_values(["id", "day"]),
                         "infections": cohort["infections"]}, real)
    guard = PatientGuard.fit(rows)
    assert guard.refused(rows).mean() > 0.95  # a copied patient is refused
    assert guard.refused(patient_rows(fake, real)).mean() < 0.2
    assert set(fitted.guard_report_) == {"refused", "remaining"}
    assert fitted.guard_report_["remaining"] == 0


def test_a_first_visit_keeps_its_missing_cells():
    """A lab not taken at 40 % of first visits and always taken later: the first rows are the
    hybrid's draw, missing cells included, so the share holds (a model draw that filled the
    hybrid's missing cells left about a sixth of first visits without it)."""
    from clinisynth.audit.linked import missing_shares

    tables = simulate_cohort(200, seed=2)
    tables.pop("infections")
    visits = tables["visits"]
    first = ~visits["id"].duplicated()
    visits["lab_b"] = visits["lab_b"].where(~(first & (visits["id"] % 5 < 2)))
    syn = LinkedSynthesizer(seed=0, parent_options=PARENT).fit(tables, "status")
    fake = syn.sample(200, seed=1)
    link = syn.links_.children[0]
    real, made = (missing_shares(t["visits"], link, ["lab_b"])["lab_b"] for t in (tables, fake))
    assert real == {"first": 0.4, "later": 0.0}
    assert abs(made["first"] - real["first"]) < 0.1
    assert made["later"] < 0.02
