"""Columns recorded at more than one resolution: levels found, shares learned and reproduced."""

from __future__ import annotations

import numpy as np
import pandas as pd

from clinisynth.rules.precision import learn_step, mix_levels, mix_shares
from clinisynth.schema import infer_schema
from clinisynth.steps.rules import RulesStep


def on(x: np.ndarray, step: float) -> float:
    return float(np.mean(np.abs(x / step - np.round(x / step)) < 1e-6))


def two_resolutions(n: int, coarse_share: float, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    x = rng.lognormal(0.3, 0.5, n)
    coarse = rng.random(n) < coarse_share
    return np.where(coarse, np.round(x, 2), np.round(x, 3))


def test_levels_and_shares_of_a_two_resolution_lab():
    x = two_resolutions(5000, 0.85, 0)
    assert learn_step(x) == 0.001
    levels = mix_levels(x, 0.001)
    assert levels == [0.001, 0.01]
    q = mix_shares(x, levels)
    assert abs(q[1] - 0.85) < 0.02  # deconvolved: the 10 % of fine values that land on 0.01


def test_one_resolution_peaked_at_a_round_value_is_not_a_mix():
    rng = np.random.default_rng(1)
    creatinine = np.round(rng.normal(1.0, 0.15, 5000).clip(0.3), 1)  # many 1.0, recorded at 0.1
    assert mix_levels(creatinine, 0.1) == [0.1]
    assert mix_levels(np.round(rng.uniform(0, 5, 2000), 3), 0.001) == [0.001]


def test_the_rules_step_reproduces_the_mix_per_class():
    n = 4000
    rng = np.random.default_rng(2)
    y = rng.choice(["a", "b"], n)
    lab = np.where(y == "a", two_resolutions(n, 0.95, 3), two_resolutions(n, 0.5, 4))
    df = pd.DataFrame({"lab": lab, "y": y})
    step = RulesStep().fit_table(df, infer_schema(df, "y"))
    assert step.mixes_["lab"]["levels"] == [0.001, 0.01]
    model = step.transform_table(df)
    model["lab"] = model["lab"] + rng.normal(0, 0.02, n)  # a generator's continuous draw
    back = step.inverse_table(model, np.random.default_rng(5))
    for label in ("a", "b"):
        real, fake = df.loc[y == label, "lab"], back.loc[y == label, "lab"]
        assert abs(on(fake.to_numpy(), 0.01) - on(real.to_numpy(), 0.01)) < 0.05, label
    again = RulesStep.from_state(*step.get_state())
    assert again.mixes_ == step.mixes_
