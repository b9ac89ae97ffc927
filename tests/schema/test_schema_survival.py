"""The survival pair in the schema: inference by name and shape, JSON edits, validation."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from clinisynth.errors import SchemaError
from clinisynth.schema import TableSchema, infer_schema, pair_candidates
from clinisynth.schema.pairs import paired_names

#: follow-up in days, weekly visits: distinct integers, but not a consecutive run (which the
#: roles inference would take for row numbers, an identifier)
DAYS = np.arange(60) * 7 + 3


def table(**columns) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    n = 60
    base = {"age": rng.integers(30, 80, n), "y": rng.integers(0, 2, n)}
    return pd.DataFrame({**base, **columns})


@pytest.mark.parametrize("columns, target, expected", [
    ({"futime": DAYS, "death": np.arange(60) % 2}, "y", ("futime", "death", [1])),
    ({"follow_up_days": DAYS.astype(float)}, "y", ("follow_up_days", "y", [1])),  # the target
    ({"los": DAYS, "died": np.arange(60) % 2 == 0}, "died", ("los", "died", [True])),
    ({"time": DAYS, "status": np.arange(60) % 3}, "y", ("time", "status", [2])),
    ({"OS_time": DAYS, "vital_status": np.where(np.arange(60) % 2, "dead", "alive")},
     "y", ("OS_time", "vital_status", ["dead"])),
    ({"time": DAYS - 10, "status": np.arange(60) % 2}, "y", None),  # negative times
    ({"score": DAYS, "status": np.arange(60) % 2}, "y", None),  # no time-like name
    # named like a pair, but the "events" are the low values of a measurement (a race time by
    # group): none ends early
    ({"time": 50 + np.arange(60) % 20, "status": (np.arange(60) % 20 < 8).astype(int)},
     "y", None),
])
def test_inferred_pair(columns, target, expected):
    schema = infer_schema(table(**columns), target)
    if expected is None:
        assert schema.survival is None
    else:
        time, event, values = expected
        assert schema.survival == [{"time": time, "event": event, "event_values": values}]


def test_no_pair_on_breast_cancer_and_mixed(breast_cancer, mixed_table):
    assert infer_schema(*breast_cancer).survival is None
    assert infer_schema(mixed_table, "outcome").survival is None


def test_json_round_trip_and_edits():
    df = table(time=DAYS, status=np.arange(60) % 3)
    schema = infer_schema(df, "y")
    again = TableSchema.from_json(schema.to_json())
    assert again.survival == schema.survival
    data = schema.to_dict()
    data["survival"][0]["event_values"] = [1, 2]  # transplant and death as one event
    assert TableSchema.from_dict(data).survival[0]["event_values"] == [1, 2]
    data["survival"] = {"time": "time", "event": "status"}  # one mapping is one pair
    assert TableSchema.from_dict(data).survival == [
        {"time": "time", "event": "status", "event_values": [2]}]
    data["survival"] = []
    assert TableSchema.from_dict(data).survival is None
    data["survival"] = None
    assert TableSchema.from_dict(data).survival is None
    old = schema.to_dict()
    del old["survival"]  # schemas written before the pair existed still load
    assert TableSchema.from_dict(old).survival is None


@pytest.mark.parametrize("pair, message", [
    ({"time": "nope", "event": "status"}, "survival time column 'nope' is not in the schema"),
    ({"time": "time", "event": "age"}, "survival event column 'age' must be binary or"),
    ({"time": "status", "event": "y"}, "survival time column 'status' must be numeric"),
    ({"time": "neg", "event": "y"}, "survival time column 'neg' must be numeric with min >= 0"),
    ({"time": "time", "event": "status", "event_values": [7]},
     "survival event value 7 is not a category of 'status'"),
    ({"time": "time", "event": "time"}, "cannot be both time and event"),
    ({"time": "time"}, "survival must be null or"),
    ({"time": "time", "event": "y", "cause": 1}, "survival: unknown key 'cause'"),
])
def test_invalid_pairs_name_the_column(pair, message):
    df = table(time=DAYS, status=np.arange(60) % 3, neg=np.arange(60) - 1.0)
    data = infer_schema(df, "y").to_dict()
    data["survival"] = pair
    with pytest.raises(SchemaError, match=message):
        TableSchema.from_dict(data)


def cohort(n: int = 400, seed: int = 0) -> pd.DataFrame:
    """A cohort followed to a common close (columns named to say nothing): events end follow-up
    early; a nested inner duration (``a``: time to progression) equals the outer (``b``) where
    progression did not happen; ``noise`` is an unrelated positive covariate."""
    rng = np.random.default_rng(seed)
    close = rng.uniform(2000, 4000, n)
    death = rng.exponential(3000, n)
    dead = death < close
    outer = np.round(np.minimum(death, close))
    prog = rng.exponential(1500, n)
    progressed = prog < outer
    inner = np.where(progressed, np.round(prog), outer)
    return pd.DataFrame({"c1": rng.normal(60, 10, n).round(), "b": outer,
                         "e1": dead.astype(int), "a": inner, "e2": progressed.astype(int),
                         "noise": rng.gamma(2.0, 30.0, n).round(1),
                         "y": rng.integers(0, 2, n)})


def test_pairs_found_by_structure_whatever_the_names():
    schema = infer_schema(cohort(), "y")
    assert schema.survival == [{"time": "b", "event": "e1", "event_values": [1]},
                               {"time": "a", "event": "e2", "event_values": [1]}]


def test_no_pair_where_times_and_events_are_unrelated():
    df = cohort()
    rng = np.random.default_rng(1)
    df["e1"], df["e2"] = rng.permutation(df["e1"].to_numpy()), rng.permutation(df["e2"])
    df["a"] = rng.permutation(df["a"].to_numpy())  # no longer nested
    assert infer_schema(df, "y").survival is None


@pytest.mark.parametrize("time, event, expected", [
    ("t.tdm", "e.tdm", True), ("T3", "D3", True), ("srv", "srv.s", True),
    ("rel", "edrel", True), ("t1", "d1", True), ("age", "agegp", True),
    ("time", "time", False), ("ab", "abc", False), ("glucose", "diabetes", False),
])
def test_paired_names(time, event, expected):
    assert paired_names(time, event) is expected


def follow_up(seed: int = 0, n: int = 300) -> pd.DataFrame:
    """Times to metastasis under a constant hazard, censored at a close spread over accrual:
    events end early, censored rows sit late."""
    rng = np.random.default_rng(seed)
    event_time = rng.exponential(2000, n)
    close = rng.uniform(1500, 4000, n)
    return pd.DataFrame({"grade": rng.integers(1, 4, n), "size": rng.gamma(3, 8, n).round(1),
                         "t.tdm": np.round(np.minimum(event_time, close)),
                         "e.tdm": (event_time < close).astype(int)})


def test_a_pair_whose_names_pair_up_is_found_by_its_structure():
    """Neither name is on a list; the names read as one pair and the data shows follow-up."""
    df = follow_up()
    schema = infer_schema(df, "e.tdm")
    assert schema.survival == [{"time": "t.tdm", "event": "e.tdm", "event_values": [1]}]
    best = pair_candidates(schema, df)[0]
    assert best.paired and "names pair up" in best.describe()


@pytest.mark.parametrize("change", ["shuffled", "threshold", "shifted", "zeros"])
def test_paired_names_need_the_structure_too(change):
    """Paired names alone are not a pair: an indicator unrelated to the time, a threshold of
    it (a value and its group), a group whose values are lower but not early (ages of two
    groups), or one whose "events" are mostly the zeros of a count."""
    df = follow_up()
    rng = np.random.default_rng(1)
    n = len(df)
    t = df["t.tdm"].to_numpy()
    if change == "shuffled":
        df["e.tdm"] = rng.permutation(df["e.tdm"].to_numpy())
    elif change == "threshold":
        df["e.tdm"] = (t > np.median(t)).astype(int)
    elif change == "shifted":
        df["t.tdm"] = rng.normal(60, 8, n).round(1)
        df["e.tdm"] = (df["t.tdm"] + rng.normal(0, 4, n) < 58).astype(int)
    else:
        zero = rng.random(n) < 0.4
        df["t.tdm"] = np.where(zero, 0.0, rng.gamma(2.0, 10.0, n).round(1))
        df["e.tdm"] = (zero | (rng.random(n) < 0.15)).astype(int)
    assert infer_schema(df, "e.tdm").survival is None
