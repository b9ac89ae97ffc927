"""The calibrate step: per class, monotone maps of each numeric column toward the real class.

Fit: the calibration chain (:class:`~clinisynth.calibration.CalibrationChain`, e.g. moment then
adaptive soft matching) summarises the real encoded rows of each class; then, with ``freeze``
(the default), the chain's effect on one large reference draw from the fitted mixture is
recorded as fixed piecewise-linear maps (:class:`~clinisynth.calibration.fitted.FittedCalibration`,
``REFERENCE_ROWS_FACTOR`` times each class's training rows, within bounds), so every chunk and
every redraw is calibrated alike. Without ``freeze`` the chain maps each batch itself (the weight
search's trial pipelines).

Sample: the draws of the mixture, mapped forward. Each map is monotone per class and column, so
within-class ranks and rank correlations are kept; missing indicators and categories are not
touched.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

import numpy as np

from clinisynth.calibration import CalibrationChain
from clinisynth.calibration.fitted import FittedCalibration
from clinisynth.encoding import NUMERIC
from clinisynth.persistence import split_arrays
from clinisynth.schema import TableSchema
from clinisynth.steps.base import Arrays, Batch, FitContext, Step

#: rows per class of the reference draw the frozen maps are learned on: a multiple of the
#: class's training rows, within bounds
REFERENCE_ROWS_FACTOR, REFERENCE_ROWS_MIN, REFERENCE_ROWS_MAX = 20, 5_000, 50_000


class CalibrateStep(Step):
    """The calibration chain ``steps`` (calibrator names, in order), frozen or not."""

    name: ClassVar[str] = "calibrate"
    reads: ClassVar[str] = ("every training row, encoded: quantiles (and moments) of each "
                            "numeric column within each class")

    def __init__(self, steps: Sequence[str] = ("moment", "adaptive_soft"),
                 params: Mapping[str, Mapping[str, Any]] | None = None,
                 freeze: bool = True, smoothing: float = 0.0) -> None:
        self.steps = steps
        self.params = params
        self.freeze = freeze
        self.smoothing = smoothing

    def fit(self, batch: Batch, ctx: FitContext) -> CalibrateStep:
        X, y = batch.matrix(self.name)
        numeric = [b for b in batch.blocks or () if b.kind == NUMERIC]
        columns = [b.start for b in numeric]
        scores = [b.start for b in numeric if b.column in ctx.schema.names
                  and ctx.schema[b.column].score]  # a step's score, no released value
        chain = CalibrationChain(list(self.steps), self.params)  # checks the names and params
        self.chain_: CalibrationChain | None = (
            chain.fit(X, y, columns, smoothing=self.smoothing, k=int(ctx.schema.k),
                      unsmoothed=scores) if columns else None)
        self.map_: FittedCalibration | None = None
        if self.chain_ is not None and self.freeze:
            ctx.report("calibration maps", 0, 1)
            counts = np.bincount(y, minlength=len(ctx.schema.classes))
            per_class = np.clip(REFERENCE_ROWS_FACTOR * counts, REFERENCE_ROWS_MIN,
                                REFERENCE_ROWS_MAX)
            X_ref, y_ref = ctx.source.draw(per_class, ctx.rng)
            self.map_ = FittedCalibration.learn(self.chain_, X_ref, y_ref)
        self.model_schema_ = ctx.schema
        return self

    def transform(self, batch: Batch, rng: np.random.Generator) -> Batch:
        """Calibrated draws: the frozen maps, or the chain on this batch."""
        self._check_fitted()
        X, y = batch.matrix(self.name)
        if self.map_ is not None:
            X = self.map_.transform(X, y)
        elif self.chain_ is not None:
            X = self.chain_.transform(X, y)
        return batch.with_matrix(X, y, batch.blocks)

    def report(self) -> dict[str, Any]:
        return {"steps": list(self.steps), "smoothing": self.smoothing}

    def get_state(self) -> tuple[dict[str, Any], Arrays]:
        self._check_fitted()
        meta: dict[str, Any] = {"steps": list(self.steps), "freeze": self.freeze,
                                "smoothing": self.smoothing,
                                "schema": self.model_schema_.to_dict(), "chain": None,
                                "map": None}
        arrays: Arrays = {}
        for key, part in (("chain", self.chain_), ("map", self.map_)):
            if part is not None:
                meta[key], part_arrays = part.get_state()
                arrays.update({f"{key}.{k}": v for k, v in part_arrays.items()})
        return meta, arrays

    @classmethod
    def from_state(cls, meta: dict[str, Any], arrays: Arrays) -> CalibrateStep:
        step = cls(meta["steps"], meta["chain"]["params"] if meta["chain"] else None,
                   meta["freeze"], meta.get("smoothing", 0.0))  # older models: raw quantiles
        step.model_schema_ = TableSchema.from_dict(meta["schema"])
        step.chain_ = (CalibrationChain.from_state(meta["chain"], split_arrays(arrays, "chain"))
                       if meta["chain"] else None)
        step.map_ = (FittedCalibration.from_state(meta["map"], split_arrays(arrays, "map"))
                     if meta["map"] else None)
        return step
