"""Conditions: parsing against a schema, masks, JSON, and exact conditioned sampling."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from clinisynth.conditions import (
    ConditionSet,
    draw_conditioned,
    parse_condition,
    parse_conditions,
    sample_conditioned,
)
from clinisynth.errors import ClinisynthError
from clinisynth.schema import infer_schema


@pytest.fixture(scope="module")
def schema(mixed_table):
    return infer_schema(mixed_table, "outcome")


@pytest.mark.parametrize("text, expected", [
    ("age>=65", lambda d: d["age"] >= 65),
    ("age<80", lambda d: d["age"] < 80),
    ("40<=age<=65", lambda d: (d["age"] >= 40) & (d["age"] <= 65)),
    ("40 < age < 65", lambda d: (d["age"] > 40) & (d["age"] < 65)),
    ("sex=F", lambda d: d["sex"] == "F"),
    ("sex == F", lambda d: d["sex"] == "F"),
    ("site in north,east", lambda d: d["site"].isin(["north", "east"])),
    ("site not in north", lambda d: d["site"] != "north"),
    ("stage!=4", lambda d: d["stage"].notna() & (d["stage"] != 4)),
    ("stage in 3, 4", lambda d: d["stage"].isin([3.0, 4.0])),
    ("smoker=1", lambda d: d["smoker"] == 1),
    ("age=50", lambda d: d["age"] == 50),
    ("lab>5", lambda d: d["lab"] > 5),  # missing cells never satisfy a condition
])
def test_parse_and_mask(mixed_table, schema, text, expected):
    cond = parse_condition(text, schema)
    want = expected(mixed_table).fillna(False).to_numpy(dtype=bool)
    assert want.any()
    np.testing.assert_array_equal(cond.mask(mixed_table), want)


@pytest.mark.parametrize("texts, message", [
    (["weight>3"], "condition 'weight>3': unknown column 'weight'"),
    (["site=west"], "condition 'site=west': 'west' is not a category of 'site'"),
    (["age>=95"], "condition 'age>=95': no value of 'age' can satisfy it"),
    (["age<20"], "condition 'age<20': no value of 'age' can satisfy it"),
    (["65<=age<=40"], "no value of 'age' can satisfy it"),
    (["30<age<31"], "no value of 'age' can satisfy it"),  # no whole number in between
    (["age=200"], "200 is outside column 'age''s observed range"),
    (["age=50.5"], "holds whole numbers"),
    (["sex>3"], "column 'sex' is binary; ranges need a numeric column"),
    (["age>old"], "'old' is not a number"),
    (["age>=70", "age<60"], "conditions 'age>=70' and 'age<60' on column 'age' leave no"),
    (["site=north", "site in south,east"], "on column 'site' leave no possible value"),
    (["age~3"], "not understood"),
])
def test_impossible_conditions_name_themselves(schema, texts, message):
    with pytest.raises(ClinisynthError, match=message.replace("(", r"\(")) as info:
        parse_conditions(texts, schema)
    assert "\n" not in str(info.value)


def test_combined_mask_and_json_round_trip(mixed_table, schema):
    conds = parse_conditions(["age>=50", "sex in F", "site!=south"], schema)
    want = ((mixed_table["age"] >= 50) & (mixed_table["sex"] == "F")
            & (mixed_table["site"] != "south")).to_numpy()
    np.testing.assert_array_equal(conds.mask(mixed_table), want)
    again = ConditionSet.from_json(conds.to_json(), schema)
    assert again == conds


def fake_draw(acceptance_of_age: float = 1.0):
    """A per-class sampler: ages uniform on [20, 90), labels exactly as asked."""
    calls = []

    def draw(counts, rng):
        calls.append(dict(counts))
        labels = np.concatenate([[k] * c for k, c in counts.items()]) if counts else []
        n = len(labels)
        return pd.DataFrame({"age": rng.integers(20, 90, n), "outcome": labels,
                             "sex": rng.choice(["F", "M"], n)})
    return draw, calls


def test_draw_conditioned_exact_counts_and_deterministic(schema):
    conds = parse_conditions(["age>=80", "sex=F"], schema)  # acceptance about 1/14
    draw, calls = fake_draw()
    out = draw_conditioned(draw, {"No": 120, "Yes": 30}, conds, "outcome",
                           np.random.default_rng(0))
    assert len(out) == 150 and conds.mask(out).all()
    assert out["outcome"].value_counts().to_dict() == {"No": 120, "Yes": 30}
    assert len(calls) <= 4  # the pilot's acceptance estimate sizes the later rounds
    again = draw_conditioned(fake_draw()[0], {"No": 120, "Yes": 30}, conds, "outcome",
                             np.random.default_rng(0))
    pd.testing.assert_frame_equal(out, again)


def test_too_rare_condition_raises_with_the_rate(schema):
    conds = parse_conditions(["age=89"], schema)  # 1 in 70 draws
    draw, _ = fake_draw()
    with pytest.raises(ClinisynthError, match=r"too rare for the model: \d+ of \d+ drawn rows "
                       r"satisfied it \(acceptance 1\.\d+%\) after 2 rounds"):
        draw_conditioned(draw, {"No": 1000}, conds, "outcome", np.random.default_rng(0),
                         max_rounds=2, max_factor=3)


def test_sample_conditioned_end_to_end(mixed_table):
    from clinisynth.synthesizer import HybridSynthesizer

    syn = HybridSynthesizer(weights="gmm", calibration=None, privacy_guard=False,
                            seed=0).fit(mixed_table, "outcome")
    out = sample_conditioned(syn, 200, ["age>=65", "sex=F", "site in north,east"], seed=0)
    assert len(out) == 200
    assert (out["age"] >= 65).all() and (out["sex"] == "F").all()
    assert out["site"].isin(["north", "east"]).all()
    assert list(out.columns) == list(mixed_table.columns)
    counts = sample_conditioned(syn, 50, ["outcome=Yes", "age<40"], seed=1)
    assert (counts["outcome"] == "Yes").all() and len(counts) == 50
    with pytest.raises(ClinisynthError, match="ask for class 'No' but the conditions"):
        sample_conditioned(syn, 10, ["outcome=Yes"], class_counts={"No": 5, "Yes": 5})
