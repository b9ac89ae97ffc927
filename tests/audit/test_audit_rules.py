"""The audit's rule check: rules true on every training row, broken by synthetic rows."""

from __future__ import annotations

import numpy as np
import pandas as pd

from clinisynth.audit import audit
from clinisynth.audit.rules import rule_violations
from clinisynth.schema import TableSchema, infer_schema


def cohort(n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    follow = rng.integers(30, 2000, n)
    return pd.DataFrame({"age": rng.integers(30, 90, n), "follow": follow,
                         "stay": np.floor(rng.uniform(0, 1, n) * follow).astype(int),
                         "y": rng.choice(["a", "b"], n)})


def test_a_broken_nesting_is_counted_and_flagged():
    train, holdout = cohort(400, 0), cohort(200, 1)
    synthetic = cohort(400, 2)
    bad = synthetic.index[:40]
    synthetic.loc[bad, "stay"] = synthetic.loc[bad, "follow"] + 5  # a stay past the follow-up
    found = rule_violations(train, holdout, synthetic, infer_schema(train, "y"))
    assert found.source == "discovered"
    row = next(r for r in found.rules if r["rule"] == "inequality: stay <= follow")
    assert row["train"] == 0 and row["holdout"] == 0 and row["synthetic"] == 0.1
    assert [r["rule"] for r in found.broken()] == ["inequality: stay <= follow"]
    result = audit(train, holdout, synthetic, "y", seed=0, models=("logistic_regression",),
                   n_attacks=20)
    flags = [f["message"] for f in result.flags if f["key"] == "rules"]
    assert flags and "stay <= follow (10.0%)" in flags[0]
    assert result.to_dict()["rules"]["rules"]


def test_real_rows_break_nothing_and_the_schema_rules_are_used():
    train, holdout = cohort(400, 0), cohort(200, 1)
    schema = TableSchema.from_dict({**infer_schema(train, "y").to_dict(), "rules": [
        {"type": "inequality", "left": "age", "right": "follow"}]})
    found = rule_violations(train, holdout, cohort(300, 3), schema)
    assert found.source == "schema" and len(found.rules) == 1
    clean = rule_violations(train, holdout, cohort(300, 3), infer_schema(train, "y"))
    assert clean.broken() == []


def test_discovery_uses_the_real_ranges_not_a_protected_schema():
    from dataclasses import replace

    train, holdout = cohort(400, 0), cohort(200, 1)
    train["share"] = np.random.default_rng(0).uniform(0, 1.4, len(train))
    holdout["share"] = np.random.default_rng(1).uniform(0, 1.4, len(holdout))
    schema = infer_schema(train, "y")
    narrow = replace(schema, columns=[replace(c, max=0.9) if c.name == "share" else c
                                      for c in schema.columns])  # as protection would store
    found = rule_violations(train, holdout, holdout, narrow)
    assert all(r["train"] == 0 for r in found.rules)
