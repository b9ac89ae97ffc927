"""Conditional equality: an inner duration censored at the outer one (no recurrence: the recurrence
time is the follow-up time), found, kept through value protection, and true by construction."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from clinisynth import HybridSynthesizer
from clinisynth.rules.discovery import discover_rules
from clinisynth.schema import infer_schema
from clinisynth.schema.rules import ConditionalEqual, RuleError, rule_from_dict
from clinisynth.steps.rules import RulesStep


def recurrence(n: int = 500, seed: int = 0) -> pd.DataFrame:
    """Death or censoring at ``dtime``; a recurrence (``recur`` 1) at ``rtime`` before it, else
    ``rtime`` censored at ``dtime`` (``recur`` 0); unrelated columns beside."""
    rng = np.random.default_rng(seed)
    dtime = rng.integers(100, 3000, n).astype(float)
    recur = rng.integers(0, 2, n)
    rtime = np.where(recur == 1, np.floor(dtime * rng.uniform(0.05, 0.95, n)), dtime)
    return pd.DataFrame({"age": rng.normal(60, 10, n).round(), "rtime": rtime, "recur": recur,
                         "dtime": dtime, "death": rng.integers(0, 2, n),
                         "arm": rng.choice(["obs", "lev"], n)})


def test_found_when_every_censored_row_is_equal_and_not_by_chance() -> None:
    df = recurrence()
    rules = discover_rules(df, infer_schema(df, "death")).rules
    equal = [r for r in rules if isinstance(r, ConditionalEqual)]
    assert [(r.column, r.equals, r.when, r.values) for r in equal] == [
        ("rtime", "dtime", "recur", [0])]
    assert equal[0].violated(df).sum() == 0
    shuffled = df.assign(recur=np.random.default_rng(1).permutation(df["recur"].to_numpy()))
    assert not any(isinstance(r, ConditionalEqual)
                   for r in discover_rules(shuffled, infer_schema(shuffled, "death")).rules)


def test_json_form_checks_and_violations() -> None:
    rule = rule_from_dict({"type": "conditional_equal", "column": "rtime", "equals": "dtime",
                           "when": "recur", "values": [0]})
    frame = pd.DataFrame({"rtime": [5.0, 7.0, 3.0, np.nan], "dtime": [5.0, 9.0, 4.0, 8.0],
                          "recur": [0, 1, 0, 0]})
    assert rule.violated(frame).tolist() == [False, False, True, False]  # missing: unjudged
    assert rule_from_dict(rule.to_dict()) == rule
    with pytest.raises(RuleError, match="non-empty list"):
        rule_from_dict({"type": "conditional_equal", "column": "rtime", "equals": "dtime",
                        "when": "recur", "values": []})
    with pytest.raises(RuleError, match="cannot equal itself"):
        rule_from_dict({"type": "conditional_equal", "column": "rtime", "equals": "rtime",
                        "when": "recur", "values": [0]})


@pytest.mark.parametrize("seed", [0, 1])
def test_true_by_construction_for_any_model_values(seed: int) -> None:
    df = recurrence()
    schema = infer_schema(df, "arm")
    step = RulesStep().fit_table(df, schema)
    i = next(i for i, r in enumerate(step.rules_) if isinstance(r, ConditionalEqual))
    child = next(c for c in ("rtime", "dtime") if c in step.equals_)  # the fenced one
    other = {"rtime": "dtime", "dtime": "rtime"}[child]
    assert step.how_[i] == f"'{child}' set to '{other}' where the condition holds"
    model = step.transform_table(recurrence(seed=seed + 5))
    rng = np.random.default_rng(seed)
    model[child] = rng.normal(0.5, 1.0, len(model))  # whatever a generator draws
    back = RulesStep.from_state(*step.get_state()).inverse_table(model, rng)
    assert step.violations(back).sum() == 0
    assert (back.loc[back["recur"] == 1, "rtime"] < back.loc[back["recur"] == 1, "dtime"]).any()


def test_value_protection_keeps_censored_rows_equal_and_the_hybrid_writes_them() -> None:
    """Each duration's protected range differs at its ends; a row equal before stays equal."""
    df = recurrence(seed=3)
    syn = HybridSynthesizer(weights={"gmm": 1}, privacy_guard=False, seed=0).fit(df, "death")
    protect = syn.pipeline_.step("protect")
    assert ["rtime", "dtime"] in protect.ties_
    protected = protect.transform_table(df)
    censored = df["recur"] == 0
    assert (protected.loc[censored, "rtime"] == protected.loc[censored, "dtime"]).all()
    fake = syn.sample(600, seed=1)
    off = fake["recur"] == 0
    assert off.any() and (fake.loc[off, "rtime"] == fake.loc[off, "dtime"]).all()
