"""The privacy guard's two rules: singling out on quasi-identifiers, and the distance rule."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from clinisynth import HybridSynthesizer
from clinisynth.guard import PrivacyGuard
from clinisynth.schema import infer_schema
from conftest import shared_dataset


def patients(n: int = 400, seed: int = 0) -> pd.DataFrame:
    """Adults with age, sex and ethnicity (quasi-identifiers) and clinical columns; patient 0
    is the only one of ethnicity 'Z' (a rare category), so nobody else shares its QI class."""
    rng = np.random.default_rng(seed)
    df = pd.DataFrame({
        "age": np.clip(rng.normal(55, 12, n).round(), 18, 95).astype(int),
        "sex": rng.choice(["F", "M"], n),
        "ethnicity": rng.choice(["A", "B", "C"], n, p=[0.6, 0.25, 0.15]),
        "lab": rng.gamma(2.0, 3.0, n).round(1),
        "bmi": rng.normal(27, 4, n).round(1),
        "smoker": rng.choice(["no", "yes"], n),
        "outcome": rng.choice(["well", "ill"], n),
    })
    df.loc[0, "ethnicity"] = "Z"
    return df


@pytest.fixture(scope="module")
def fitted():
    df = patients()
    schema = infer_schema(df, "outcome")
    return df, PrivacyGuard().fit(df, schema)


def _flip(value: str, options: list[str]) -> str:
    return next(o for o in options if o != value)


def test_quasi_identifiers_and_rare_patients(fitted):
    df, guard = fitted
    assert guard.qi_ == ["age", "sex", "ethnicity"]  # by name; ethnicity also has a rare value
    assert guard.tolerance_["age"] == pytest.approx(0.5 * df["age"].std(ddof=0))
    assert 0 in guard.rare_rows_
    assert guard.threshold_ > 0


@pytest.mark.parametrize("nudge", [-3, -2, -1, 1, 2, 3])
def test_unique_patient_with_age_nudged_is_refused(fitted, nudge):
    df, guard = fitted
    row = df.iloc[[0]].copy()
    row["age"] += nudge
    refused, rules = guard.check(row)
    assert refused[0] and rules[0] == "singling_out"


@pytest.mark.parametrize("column,options", [("smoker", ["no", "yes"]),
                                            ("outcome", ["well", "ill"])])
def test_unique_patient_with_a_category_flipped_is_refused(fitted, column, options):
    df, guard = fitted
    row = df.iloc[[0]].copy()
    row[column] = _flip(row[column].iloc[0], options)
    refused, rules = guard.check(row)
    assert refused[0] and rules[0] == "singling_out"


def test_far_from_the_unique_patient_is_allowed(fitted):
    """Same quasi-identifiers as the rare patient, but different clinical values: allowed."""
    df, guard = fitted
    row = df.iloc[[0]].copy()
    row["lab"] = df["lab"].quantile(0.99) if row["lab"].iloc[0] < df["lab"].median() else 0.1
    row["bmi"] = 40.0 if row["bmi"].iloc[0] < 30 else 18.0
    row["smoker"] = _flip(row["smoker"].iloc[0], ["no", "yes"])
    assert not guard.check(row)[0][0]


def test_rule_needs_a_rare_class_k_from_the_schema():
    """With k = 1 no QI class is rare, so the nudged copy is left to the distance rule."""
    df = patients()
    schema = infer_schema(df, "outcome", k=1)
    guard = PrivacyGuard().fit(df, schema)
    assert len(guard.rare_rows_) == 0
    row = df.iloc[[0]].copy()
    row["age"] += 3
    assert "singling_out" not in guard.check(row)[1]


def test_common_pattern_is_allowed_and_exact_unique_copy_refused():
    """Discrete table: 40 patients share one record, which a synthetic row may repeat; the
    threshold stays positive although most records are shared."""
    rng = np.random.default_rng(0)
    n = 600
    df = pd.DataFrame({"age": rng.integers(60, 76, n), "gender": rng.integers(0, 2, n),
                       "died": rng.choice([0, 1], n, p=[0.9, 0.1]),
                       "los": rng.integers(1, 20, n), "procedure": rng.integers(0, 2, n)})
    common = {"age": 70, "gender": 1, "died": 0, "los": 5, "procedure": 1}
    df.iloc[:40] = list(common.values())
    schema = infer_schema(df, "procedure")
    guard = PrivacyGuard().fit(df, schema)
    assert guard.threshold_ > 0
    refused, _ = guard.check(pd.DataFrame([common]))
    assert not refused[0]
    counts = df.value_counts()
    unique_rows = np.flatnonzero(df.apply(tuple, axis=1).map(counts).to_numpy() == 1)
    # a unique record with fewer than min_shared patients within tau of it (share_radius 1)
    alone = unique_rows[guard.shared(unique_rows) < guard.min_shared]
    assert len(alone)
    refused, rules = guard.check(df.iloc[alone[:1]])
    assert refused[0]


def test_no_quasi_identifiers_turns_singling_out_off(breast_cancer):
    df, target = breast_cancer
    guard = PrivacyGuard().fit(df, infer_schema(df, target))
    assert not guard.singling_out_active
    refused, rules = guard.check(df.iloc[:50])
    assert refused.all() and set(rules) == {"distance"}  # training rows are their own copies


def test_state_round_trip(fitted):
    df, guard = fitted
    meta, arrays = guard.get_state()
    again = PrivacyGuard.from_state(guard.schema_, meta, arrays)
    probe = df.sample(100, random_state=0).assign(age=lambda d: d["age"] + 1)
    for a, b in zip(guard.check(probe), again.check(probe), strict=True):
        np.testing.assert_array_equal(a, b)


def test_hybrid_on_cardiology_writes_no_refused_row():
    """The hybrid's output on the discrete cardiology table: no row the guard refuses, and the
    refusals it replaced are counted per rule."""
    df = pd.read_csv(shared_dataset("cardiac_cabg_ptca.csv"))
    syn = HybridSynthesizer(weights={"smote": 1, "gmm": 1}, calibration=None,
                            seed=0).fit(df, "procedure")
    fake = syn.sample(1000, seed=0)
    report = syn.guard_report_
    assert len(fake) == 1000 and report.remaining == 0
    assert sum(report.by_rule.values()) == report.refused > 0
    assert set(report.by_rule) <= {"singling_out", "distance"}
    assert not syn.guard_.refused(syn.record_view(fake)).any()


@pytest.mark.parametrize("seed", range(3))
def test_pairs_within_per_row_radius_is_exact(seed):
    """Per-reference radii: exactly the pairs a brute-force float64 search finds."""
    from clinisynth.range_search import pairs_within

    rng = np.random.default_rng(seed)
    ref = rng.normal(size=(700, 12))
    query = np.vstack([ref[:50] + rng.normal(0, 0.3, (50, 12)), rng.normal(size=(300, 12))])
    radii = rng.uniform(0.5, 3.5, len(ref))
    rows, train, dist = pairs_within(query, ref, radii)
    full = np.linalg.norm(query[:, None, :] - ref[None, :, :], axis=2)
    want = np.argwhere(full < radii[None, :])
    pairs = sorted(zip(rows.tolist(), train.tolist(), strict=True))
    assert pairs == sorted(map(tuple, want.tolist()))
    assert np.allclose(dist, full[rows, train])


def isolated_table(n: int = 300, seed: int = 0) -> pd.DataFrame:
    """A dense cloud of patients plus patient 0 far out on two labs (an outlier)."""
    rng = np.random.default_rng(seed)
    df = pd.DataFrame({"lab1": rng.normal(0, 1, n), "lab2": rng.normal(0, 1, n),
                       "lab3": rng.normal(0, 1, n), "outcome": rng.choice(["a", "b"], n)})
    df.loc[0, ["lab1", "lab2"]] = [7.0, -7.0]
    return df


def test_isolation_rule_protects_an_outlying_patient():
    """A row well outside tau of the outlier but far nearer to it than anyone else is: the
    distance rule passes it, the isolation rule refuses it; a row in the cloud passes both."""
    df = isolated_table()
    schema = infer_schema(df, "outcome")
    plain = PrivacyGuard().fit(df, schema)
    guard = PrivacyGuard(isolation=0.5).fit(df, schema)
    near_outlier = df.iloc[[0]].copy()
    near_outlier[["lab1", "lab2"]] = [6.3, -6.4]  # about 0.9 away; its nearest other is ~7
    in_cloud = df.iloc[[5]].copy()
    in_cloud["lab1"] += 0.7
    probe = pd.concat([near_outlier, in_cloud], ignore_index=True)
    assert not plain.refused(probe).any()
    refused, rules = guard.check(probe)
    assert refused.tolist() == [True, False] and rules.tolist() == ["isolation"]
    loaded = PrivacyGuard.from_state(schema, *guard.get_state())
    assert loaded.refused(probe).tolist() == [True, False]
    with pytest.raises(Exception, match="isolation must be between 0 and 0.5"):
        PrivacyGuard(isolation=0.8)


def lattice_table(n: int = 600, seed: int = 0) -> pd.DataFrame:
    """Two integer counts on a 15 × 15 lattice and a binary outcome; patient 0 alone holds the
    record (7, 7, 'a') while its lattice neighbours are populated; patient 1 is far from all."""
    rng = np.random.default_rng(seed)
    df = pd.DataFrame({"stay": rng.integers(0, 15, n), "visits": rng.integers(0, 15, n),
                       "outcome": rng.choice(["a", "b"], n)})
    df = df[~((df["stay"] == 7) & (df["visits"] == 7))].reset_index(drop=True)
    df.loc[0, ["stay", "visits", "outcome"]] = [7, 7, "a"]
    df.loc[1, ["stay", "visits", "outcome"]] = [40, 40, "a"]
    return df


def test_share_radius_counts_lattice_neighbours_as_sharing_a_record():
    """Exact multiplicity makes patient 0's record a fingerprint; with ``share_radius`` 1 the
    patients one step away share it and its copy passes, while the isolated patient's copy is
    still refused, and a common record passes under both."""
    df = lattice_table()
    schema = infer_schema(df, "outcome")
    exact = PrivacyGuard(share_radius=0.0).fit(df, schema)
    shared = PrivacyGuard().fit(df, schema)  # share_radius 1 is the default
    probe = df.iloc[[0, 1]]
    assert exact.refused(probe).tolist() == [True, True]
    assert shared.refused(probe).tolist() == [False, True]
    counts = exact.shared(np.arange(len(df)))
    assert counts[0] == 1
    near_0, alone_1 = shared.shared(np.array([0, 1]))
    assert near_0 >= shared.min_shared and alone_1 == 1
    common = df.loc[[counts.argmax()]]  # the most repeated record
    assert counts.max() == len(df.merge(common))
    assert not exact.refused(common).any() and not shared.refused(common).any()
    meta, arrays = shared.get_state()
    loaded = PrivacyGuard.from_state(schema, meta, arrays)
    assert loaded.share_radius == 1.0 and loaded.refused(probe).tolist() == [False, True]
    # a model saved before share_radius existed: exact copies only, recounted from its records
    old_meta = {**meta, "params": {k: v for k, v in meta["params"].items()
                                   if k != "share_radius"}}
    old = PrivacyGuard.from_state(schema, old_meta, arrays)
    assert old.share_radius == 0.0 and old.refused(probe).tolist() == [True, True]
    with pytest.raises(Exception, match="share_radius must be between 0 and 10"):
        PrivacyGuard(share_radius=-1)


def test_share_counts_fill_a_read_only_cache():
    """A guard whose arrays arrive read-only (as a zero-copy buffer on a worker) still checks,
    and gives the same answer as a fresh one."""
    df = lattice_table()
    guard = PrivacyGuard().fit(df, infer_schema(df, "outcome"))
    want = guard.refused(df.iloc[:50])
    guard.set_records(guard.records_, df)
    guard.shared_counts_.flags.writeable = False
    assert guard.refused(df.iloc[:50]).tolist() == want.tolist()
