"""Adding a stage: one class and a registry entry, and no change to the synthesizer or the
pipeline. A no-op step that only counts the rows it sees joins the hybrid's pipeline, is fitted,
maps every sampled chunk, is saved and loaded by name, and changes no output byte."""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
import pandas as pd
import pytest

from clinisynth import HybridSynthesizer
from clinisynth.params import pipeline_steps
from clinisynth.pipeline import Pipeline
from clinisynth.schema import TableSchema
from clinisynth.steps import STEPS
from clinisynth.steps.base import Arrays, Batch, FitContext, Step
from conftest import make_mixed_table


class CountingStep(Step):
    """Sees the encoded training rows at fit, and every sampled batch after the source."""

    name: ClassVar[str] = "counting"
    reads: ClassVar[str] = "the number of training rows (nothing of their values)"

    def fit(self, batch: Batch, ctx: FitContext) -> CountingStep:
        self.rows_ = len(batch.matrix(self.name)[1])
        self.seen_ = 0
        self.model_schema_ = ctx.schema
        return self

    def transform(self, batch: Batch, rng: np.random.Generator) -> Batch:
        self.seen_ += len(batch.matrix(self.name)[1])
        return batch

    def get_state(self) -> tuple[dict[str, Any], Arrays]:
        return {"rows": self.rows_, "schema": self.model_schema_.to_dict()}, {}

    @classmethod
    def from_state(cls, meta: dict[str, Any], arrays: Arrays) -> CountingStep:
        step = cls()
        step.rows_, step.seen_ = meta["rows"], 0
        step.model_schema_ = TableSchema.from_dict(meta["schema"])
        return step


@pytest.fixture()
def registered():
    STEPS.register(CountingStep)
    yield
    STEPS.unregister(CountingStep.name)


def test_a_new_step_joins_the_pipeline(registered):
    table = make_mixed_table(200)
    syn = HybridSynthesizer(weights="gmm", calibration=None, seed=0)
    syn.fit(table, "outcome")
    steps = pipeline_steps(syn, syn.schema_)
    steps.insert(steps.index(next(s for s in steps if s.is_source)) + 1, CountingStep())
    pipeline = Pipeline(steps).fit(table, syn.schema_, np.random.default_rng(0))
    counting = pipeline.step("counting")
    assert counting.rows_ == len(table)
    frame, _ = pipeline.sample_chunk(np.array([60, 40]), np.random.default_rng(5))
    assert counting.seen_ >= 100  # the chunk and any redrawn rows
    plain, _ = syn.pipeline_.sample_chunk(np.array([60, 40]), np.random.default_rng(5))
    pd.testing.assert_frame_equal(frame, plain)  # a no-op: the same rows as without it
    meta, arrays = pipeline.get_state()
    again = Pipeline.from_state(meta, arrays)  # found by name in the registry
    assert isinstance(again.step("counting"), CountingStep)
    pd.testing.assert_frame_equal(again.sample_chunk(np.array([60, 40]),
                                                     np.random.default_rng(5))[0], frame)
