"""The subsample step: tables above ``max_rows`` rows are fitted on a stratified subsample.

The first step: every step after it (protection, roles, survival, rules, encoder, generators,
calibration, guard) sees only the subsample; the other rows are never read again, so no
synthetic row depends on them: like holdout patients they cannot be copied, and the guard checks
each synthetic row against the rows the model saw. (Regenerated identifiers are made longer than
every real one, the other rows' included: only the identifiers' lengths are read there.)
Synthetic rows pass through it unchanged.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
import pandas as pd

from clinisynth.schema import TableSchema
from clinisynth.steps.base import Arrays, Batch, FitContext, Step
from clinisynth.values import apportion

#: the fewest rows per class any stratified cap keeps (when the class has them): what
#: learning weights needs to hold out a validation split
MIN_ROWS_PER_CLASS = 6


def stratified_cap(frame: pd.DataFrame, target: str, cap: int, rng: np.random.Generator
                   ) -> pd.DataFrame:
    """``frame`` itself when it has at most ``cap`` rows; else a seeded subsample of about
    ``cap`` rows in the classes' proportions, each class keeping at least
    ``min(its rows, MIN_ROWS_PER_CLASS)`` (no random draw is made when nothing is capped)."""
    if len(frame) <= cap:
        return frame
    codes, _ = pd.factorize(frame[target])
    sizes = np.bincount(codes)
    quota = np.maximum(apportion(cap, sizes / sizes.sum()),
                       np.minimum(sizes, MIN_ROWS_PER_CLASS))
    keep = np.concatenate([rng.choice(np.flatnonzero(codes == k), size=int(q), replace=False)
                           for k, q in enumerate(quota)])
    return frame.iloc[np.sort(keep)]


class SubsampleStep(Step):
    """Fit on a stratified subsample of ``max_rows`` rows (class shares kept); None: every row.

    ``fit_rows_`` records ``(rows given, rows fitted)``.
    """

    name: ClassVar[str] = "subsample"
    reads: ClassVar[str] = "the class of every row (to keep the class shares)"
    builds_record: ClassVar[bool] = True

    def __init__(self, max_rows: int | None = None) -> None:
        self.max_rows = max_rows

    model_schema_: TableSchema | None

    def fit(self, batch: Batch, ctx: FitContext) -> SubsampleStep:
        self.fit_transform(batch, ctx)
        return self

    def fit_transform(self, batch: Batch, ctx: FitContext) -> Batch:
        frame = batch.table(self.name)
        used = frame if self.max_rows is None else stratified_cap(
            frame, ctx.schema.target, int(self.max_rows), ctx.rng)
        self.fit_rows_ = (len(frame), len(used))
        self.model_schema_ = ctx.schema
        return batch.with_frame(used)

    def report(self) -> dict[str, Any]:
        return {"rows_given": self.fit_rows_[0], "rows_fitted": self.fit_rows_[1]}

    def get_state(self) -> tuple[dict[str, Any], Arrays]:
        """The row counts only: the schema it passed on is the user's, raw ranges and every
        category included, which the protection step after it exists to keep out of a model."""
        self._check_fitted()
        return {"max_rows": self.max_rows, "fit_rows": list(self.fit_rows_)}, {}

    @classmethod
    def from_state(cls, meta: dict[str, Any], arrays: Arrays) -> SubsampleStep:
        step = cls(meta["max_rows"])
        step.fit_rows_ = (int(meta["fit_rows"][0]), int(meta["fit_rows"][1]))
        step.model_schema_ = None  # a loaded pipeline reads no schema off a pass-through step
        return step
