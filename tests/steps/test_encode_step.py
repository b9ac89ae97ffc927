"""The encode step across redraws: a redrawn batch keeps the categories of the rows it replaces
(for :data:`INHERITED_ROUNDS` rounds) and the rules' forbidden combinations reach the encoder."""

from __future__ import annotations

import numpy as np
import pandas as pd

from clinisynth.schema import infer_schema
from clinisynth.schema.rules import ForbiddenCombination
from clinisynth.steps.base import Batch, Draw, FitContext
from clinisynth.steps.encode import INHERITED_ROUNDS, EncodeStep


class _Rules:
    """What the encode step reads of a fitted rules step: its ``rules_``."""

    rules_ = [ForbiddenCombination(values={"rare": "yes", "common": "no"})]


def _table(n: int = 600, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    common = rng.choice(["yes", "no"], n, p=[0.4, 0.6])
    rare = np.where((common == "yes") & (rng.random(n) < 0.2), "yes", "no")
    return pd.DataFrame({"x": rng.normal(size=n), "common": common, "rare": rare,
                         "outcome": rng.integers(0, 2, n)})


def _fitted(table: pd.DataFrame) -> EncodeStep:
    schema = infer_schema(table, "outcome")
    ctx = FitContext(np.random.default_rng(0), schema, fitted={"rules": _Rules()})
    return EncodeStep().fit(Batch(frame=table), ctx)


def _counts(frame: pd.DataFrame) -> pd.Series:
    return frame.groupby(["outcome", "rare"]).size()


def test_a_redraw_keeps_the_replaced_rows_categories_then_shares_them_anew():
    table = _table()
    step = _fitted(table)
    assert step.encoder_.forbidden_ == [[("rare", 1), ("common", 0)]]
    rng = np.random.default_rng(1)
    X, y = step.encoder_.transform(table, rng)
    draw = Draw()
    chunk = step.inverse_transform(Batch(X=X, y=y), rng, draw).frame
    refused = np.flatnonzero(chunk["rare"].to_numpy() == "yes")[:9]  # the rare rows, refused
    fresh = rng.normal(size=(len(refused), X.shape[1]))  # their redraw leans to nothing
    for round_, keeps in ((1, True), (INHERITED_ROUNDS, True), (INHERITED_ROUNDS + 1, False)):
        draw.round = round_
        before = draw.notes["encode"]["codes"]["rare"].copy()
        redrawn = step.inverse_transform(Batch(X=fresh, y=y[refused], rows=refused), rng,
                                         draw).frame
        after = draw.notes["encode"]["codes"]["rare"]
        assert (np.delete(after, refused) == np.delete(before, refused)).all()
        kept = (redrawn["rare"] == "yes").sum() == len(refused)
        assert kept == keeps  # later rounds: arg-max of 9 rows leaning to nothing
        draw.notes["encode"]["codes"]["rare"][:] = before  # the next round replaces the same


def _cohort(n: int = 1200, seed: int = 0) -> pd.DataFrame:
    """Nested event flags (``angina`` and ``mi`` only where ``chd``; ``stroke`` only where
    ``cvd``, and ``chd`` only where ``cvd``), as a cohort's outcome flags are."""
    rng = np.random.default_rng(seed)
    age = rng.normal(60, 8, n)
    risk = (age - 60) / 8 + rng.normal(size=n)
    cvd = (risk + rng.normal(size=n) > 0.8).astype(int)
    chd = cvd * (rng.random(n) < 0.6)
    stroke = cvd * (rng.random(n) < 0.35)
    angina = chd * (rng.random(n) < 0.5)
    mi = chd * (rng.random(n) < 0.4)
    death = (risk + cvd + rng.normal(size=n) > 1.2).astype(int)
    return pd.DataFrame({"age": age.round(), "bmi": rng.normal(26, 4, n).round(1),
                         "cvd": cvd, "chd": chd, "stroke": stroke, "angina": angina, "mi": mi,
                         "death": death})


def test_nested_flags_keep_their_shares_through_the_rules():
    from clinisynth import HybridSynthesizer
    from conftest import FAST_PARAMS

    real = _cohort()
    syn = HybridSynthesizer(seed=0, generator_params=FAST_PARAMS, search={"episodes": 8})
    syn.fit(real, "death")
    assert len(syn.pipeline_.step("encode").encoder_.forbidden_) >= 4
    fake = syn.sample(len(real), seed=0)
    for rule in syn.rules_.rules_:
        assert not rule.violated(fake).any(), rule.describe()
    flags = ["cvd", "chd", "stroke", "angina", "mi"]
    gaps = (fake[flags].mean() - real[flags].mean()).abs()
    assert gaps.max() <= 0.01, gaps.to_dict()
    assert syn.rules_report_["redrawn"] <= 0.02 * len(fake)
