"""A pipeline of fitted steps: fit in order, sample from the source, redraw what filters refuse.

Fit: each step is fitted on the previous step's output (``fit_transform``), all drawing from one
random generator in list order. The steps that build the record view (subsample, protect, roles)
come first; the table they leave is the *record view*: the user's table without identifiers and
free text, dates as numbers, rare values and extremes protected. It is what filters judge and
what the weight search scores against.

Sample, one chunk of ``counts[k]`` rows per class, all randomness from the chunk's ``rng``:

1. the source (the mixture) draws encoded rows, which are shuffled;
2. the steps after the source map the draws forward (calibration); the steps between the
   record view and the source run backwards, in reverse order (encoder, rules, survival): the
   rows are now at the record view;
3. every filter checks them (the rules' checks: soft, redrawn for a bounded number of rounds
   then counted; the guard: hard, never let out). Refused rows are redrawn from the source and
   brought to the record view the same way; only they are checked again;
4. the record-view steps run backwards (roles: fresh identifiers, dates in the input's format;
   protect and subsample change nothing).

A hard filter's refused rows are redrawn from the whole mixture for up to its ``max_rounds``
rounds, then for up to ``max(max_rounds, FALLBACK_ROUNDS)`` rounds from the generators that do
not resample real rows; a row still refused after that fails the sample instead of being written.

State: :meth:`Pipeline.get_state` is one loop over the steps (each step's name, metadata and
arrays, prefixed by its position); :meth:`Pipeline.from_state` rebuilds each through the step
registry.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from clinisynth.errors import ClinisynthError
from clinisynth.persistence import split_arrays
from clinisynth.schema import TableSchema
from clinisynth.steps import STEPS
from clinisynth.steps.base import (
    Arrays,
    Batch,
    Draw,
    FilterReport,
    FitContext,
    Progress,
    Source,
    Step,
    TableStep,
)

#: least number of last-resort redraw rounds from the generators that do not resample patients
FALLBACK_ROUNDS = 10


class Pipeline:
    """Steps in order: the record-view builders first, exactly one source (see the module)."""

    def __init__(self, steps: Sequence[Step]) -> None:
        self.steps = list(steps)
        names = [s.name for s in self.steps]
        if len(set(names)) != len(names):
            raise ClinisynthError(f"pipeline: a step is named twice ({', '.join(names)})")
        builders = [s.builds_record for s in self.steps]
        if builders != sorted(builders, reverse=True):
            raise ClinisynthError("pipeline: the record-view steps (subsample, protect, roles) "
                                  "come first")
        sources = [i for i, s in enumerate(self.steps) if s.is_source]
        if len(sources) != 1:
            raise ClinisynthError(f"pipeline: needs exactly one source step, got {len(sources)}")
        self._source = sources[0]

    def step(self, name: str) -> Step | None:
        """The step named ``name``, or None."""
        return next((s for s in self.steps if s.name == name), None)

    @property
    def source(self) -> Any:
        return self.steps[self._source]

    @property
    def record_steps(self) -> list[Step]:
        return [s for s in self.steps if s.builds_record]

    @property
    def record_schema(self) -> TableSchema:
        """The schema of the record view (the input's, when no step builds it)."""
        return self.record_steps[-1].model_schema_ if self.record_steps else self.input_schema_

    @property
    def filters(self) -> list[Any]:
        return [s for s in self.steps if s.hard is not None]

    # -- fit ------------------------------------------------------------------------------------
    def fit(self, frame: pd.DataFrame, schema: TableSchema, rng: np.random.Generator,
            progress: Progress | None = None, ledger: Any = None) -> Pipeline:
        """Fit every step in order on ``frame`` (schema ``schema``), drawing from ``rng``; with
        a privacy ledger (DP mode) the steps get the rows only through it."""
        self.input_schema_ = schema
        views = _Views()
        ctx = FitContext(rng=rng, schema=schema, views=views, progress=progress, ledger=ledger)
        if ledger is not None:
            frame = ledger.protect(frame)
        batch = Batch(frame=frame)
        for step in self.steps:
            batch = step.fit_transform(batch, ctx)
            ctx.fitted[step.name] = step
            ctx.schema = step.model_schema_
            if step.builds_record:
                ctx.record, ctx.record_schema = batch.frame, step.model_schema_
            elif isinstance(step, TableStep):
                views.table_steps.append(step)
        return self

    def to_model(self, frame: pd.DataFrame) -> pd.DataFrame:
        """A record-view table through the table steps after the record view (what the
        encoder sees)."""
        for step in self.steps[len(self.record_steps):self._source]:
            if isinstance(step, TableStep):
                frame = step.transform_table(frame)
        return frame

    def record_view(self, frame: pd.DataFrame, skip: Sequence[str] = ()) -> pd.DataFrame:
        """A table with the user's columns at the record view (the steps named in ``skip``
        left out)."""
        batch = Batch(frame=frame)
        for step in self.record_steps:
            if step.name not in skip:
                batch = step.transform(batch, np.random.default_rng(0))  # no step draws here
        return batch.table("pipeline")

    # -- sample ---------------------------------------------------------------------------------
    def sample_chunk(self, counts: np.ndarray, rng: np.random.Generator,
                     skip: Sequence[str] = ()) -> tuple[pd.DataFrame, dict[str, Any]]:
        """``counts[k]`` rows of class ``k`` (see the module docstring) and each filter's report;
        the steps named in ``skip`` (maps after the source, e.g. ``"calibrate"``) are left out."""
        X, y = self.source.draw(np.asarray(counts, dtype=int), rng)
        order = rng.permutation(len(y))
        draw = Draw()
        frame, reports = self._accept(Batch(X=X[order], y=y[order]), rng, draw, skip)
        batch = Batch(frame=frame)
        for step in reversed(self.record_steps):
            batch = step.inverse_transform(batch, rng, draw)
        return batch.table("pipeline"), reports

    def to_source(self, batch: Batch, rng: np.random.Generator) -> Batch:
        """Training-side rows through the steps before the source (as the source sees them)."""
        for step in self.steps[len(self.record_steps):self._source]:
            batch = step.transform(batch, rng)
        return batch

    def to_record(self, batch: Batch, rng: np.random.Generator, draw: Draw,
                  skip: Sequence[str] = ()) -> pd.DataFrame:
        """Draws of the source at the record view: the maps after it forward, the steps between
        the record view and it backwards."""
        for step in self.steps[self._source + 1:]:
            if step.name not in skip:
                batch = step.transform(batch, rng)
        for step in reversed(self.steps[len(self.record_steps):self._source]):
            batch = step.inverse_transform(batch, rng, draw)
        return batch.table("pipeline")

    def _accept(self, batch: Batch, rng: np.random.Generator, draw: Draw,
                skip: Sequence[str]) -> tuple[pd.DataFrame, dict[str, FilterReport]]:
        """The chunk at the record view with every refused row redrawn (see the module)."""
        filters = self.filters
        hard = [f for f in filters if f.hard]
        soft = [f for f in filters if not f.hard]
        reports = {f.name: f.new_report() for f in filters}
        y = batch.y
        assert y is not None
        frame = current = self.to_record(batch, rng, draw, skip)
        rows = np.arange(len(y))
        still = {f.name: np.zeros(len(y), dtype=bool) for f in soft}
        max_hard = max((f.max_rounds for f in hard), default=0)
        soft_budget = max((f.max_rounds for f in soft), default=0)
        soft_rounds = hard_rounds = fallback_rounds = 0
        while True:
            verdicts = {f.name: f.check(current) for f in filters}
            refused = _any([verdicts[f.name].refused for f in hard], len(current))
            broken = _any([verdicts[f.name].refused for f in soft], len(current))
            for f in soft:
                still[f.name][rows] = verdicts[f.name].refused
            fix = bool(broken.any()) and soft_rounds < soft_budget
            if fix:
                soft_rounds += 1
                for f in soft:
                    reports[f.name].count(verdicts[f.name].reasons)
            redo = refused | broken if fix else refused
            if not redo.any():
                break
            for f in hard:
                reports[f.name].count(verdicts[f.name].reasons)
            rows = rows[redo]
            if not hard or hard_rounds < max_hard:
                fallback = False
                if hard:
                    hard_rounds += 1
            elif fallback_rounds < max(max_hard, FALLBACK_ROUNDS):
                fallback = True
                fallback_rounds += 1
                for f in hard:
                    reports[f.name].fallback += len(rows)
            else:
                raise ClinisynthError(hard[0].exhausted(int(refused.sum()), fallback_rounds))
            for f in hard:
                reports[f.name].rounds = hard_rounds
            source: Source = self.source
            X_new = source.redraw(y[rows], rng, fallback)
            draw.round += 1
            current = self.to_record(Batch(X=X_new, y=y[rows], rows=rows), rng, draw, skip)
            frame = replace_rows(frame, rows, current)
        for f in soft:
            reports[f.name].remaining += int(still[f.name].sum())
        return frame, reports

    # -- state ----------------------------------------------------------------------------------
    def get_state(self) -> tuple[dict[str, Any], Arrays]:
        """One entry per step (its registry name and metadata); arrays prefixed ``<i>.<name>``."""
        steps, arrays = [], {}
        for i, step in enumerate(self.steps):
            meta, step_arrays = step.get_state()
            steps.append({"step": step.name, "state": meta})
            arrays.update({f"{i}.{step.name}.{k}": v for k, v in step_arrays.items()})
        return {"steps": steps}, arrays  # not the input schema: the user's raw ranges

    @classmethod
    def from_state(cls, meta: dict[str, Any], arrays: Arrays) -> Pipeline:
        steps = [STEPS.get(entry["step"]).from_state(
                     entry["state"], split_arrays(arrays, f"{i}.{entry['step']}"))
                 for i, entry in enumerate(meta["steps"])]
        return cls(steps)


class _Views:
    """The fitted table steps after the record view, as a fitting step sees them."""

    def __init__(self) -> None:
        self.table_steps: list[TableStep] = []

    def to_model(self, frame: pd.DataFrame) -> pd.DataFrame:
        for step in self.table_steps:
            frame = step.transform_table(frame)
        return frame

    def to_record(self, frame: pd.DataFrame, rng: np.random.Generator) -> pd.DataFrame:
        for step in reversed(self.table_steps):
            frame = step.inverse_table(frame, rng)
        return frame

    def trial(self, steps: list[Step], rows: pd.DataFrame, ctx: FitContext, label: str
              ) -> _Trial:
        outer = ctx.progress

        def progress(text: str, done: int, total: int) -> None:
            if outer is not None:
                outer(label + text, done, total)

        pipeline = Pipeline(steps).fit(self.to_model(rows), ctx.schema, ctx.rng, progress)
        return _Trial(pipeline, self)


class _Trial:
    """A fitted pipeline without record-view steps, reached through the outer table steps."""

    def __init__(self, pipeline: Pipeline, views: _Views) -> None:
        self.pipeline = pipeline
        self.views = views

    @property
    def source(self) -> Any:
        return self.pipeline.source

    def transform(self, frame: pd.DataFrame, rng: np.random.Generator
                  ) -> tuple[np.ndarray, np.ndarray]:
        batch = Batch(frame=self.views.to_model(frame))
        return self.pipeline.to_source(batch, rng).matrix("trial")

    def decode(self, X: np.ndarray, y: np.ndarray) -> pd.DataFrame:
        rng = np.random.default_rng(0)  # the steps that decode draw nothing
        frame = self.pipeline.to_record(Batch(X=X, y=y), rng, Draw())
        return self.views.to_record(frame, rng)


def _any(masks: list[np.ndarray], n: int) -> np.ndarray:
    out = np.zeros(n, dtype=bool)
    for mask in masks:
        out |= mask
    return out


def replace_rows(frame: pd.DataFrame, rows: np.ndarray, new: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with its rows at positions ``rows`` replaced by ``new`` (same columns)."""
    keep = np.ones(len(frame), dtype=bool)
    keep[rows] = False
    kept = np.flatnonzero(keep)
    both = pd.concat([frame.iloc[kept], new], ignore_index=True)
    return both.iloc[np.argsort(np.concatenate([kept, rows]), kind="stable")].reset_index(
        drop=True)
