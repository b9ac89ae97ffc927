"""The guard step: a hard filter refusing synthetic rows that single out a training patient.

Fitted on the training rows at the record view (identifiers and text left out, dates as numbers;
the rows the model saw), it checks every synthetic row at the same view with the rules of
:class:`~clinisynth.guard.PrivacyGuard` (singling out on quasi-identifiers, distance to a
distinguishable record, optional isolation). A refused row is never written: the pipeline redraws
it from the mixture for up to ``max_rounds`` rounds, then from the generators that do not resample
real rows, and fails the sample if any row is still refused after that.

The guard keeps the training records it compares with: a saved model holds patient data, so share
the synthetic table, never the model directory.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

import pandas as pd

from clinisynth.errors import ClinisynthError
from clinisynth.guard import GuardReport, PrivacyGuard
from clinisynth.schema import TableSchema
from clinisynth.steps.base import Arrays, Batch, FitContext, Step, Verdict


class GuardStep(Step):
    """The privacy guard with ``options`` (:class:`~clinisynth.guard.PrivacyGuard`'s parameters;
    empty: the defaults)."""

    name: ClassVar[str] = "guard"
    reads: ClassVar[str] = ("every training row at the record view, kept whole: the records a "
                            "synthetic row is compared with, their nearest-neighbour distances "
                            "and the quasi-identifier classes")
    hard: ClassVar[bool] = True

    def __init__(self, options: Mapping[str, Any] | None = None) -> None:
        self.options = options

    def fit(self, batch: Batch, ctx: FitContext) -> GuardStep:
        if ctx.record is None or ctx.record_schema is None:
            raise ClinisynthError("privacy guard: the pipeline has no record view to guard")
        try:
            self.guard_ = PrivacyGuard(**dict(self.options or {})).fit(ctx.record,
                                                                      ctx.record_schema)
        except TypeError as exc:
            raise ClinisynthError(f"privacy_guard: {exc}") from None
        self.model_schema_ = ctx.schema
        return self

    @property
    def max_rounds(self) -> int:
        return self.guard_.max_rounds

    def check(self, frame: pd.DataFrame) -> Verdict:
        refused, rules = self.guard_.check(frame)
        return Verdict(refused, rules)

    def new_report(self) -> GuardReport:
        return GuardReport(threshold=self.guard_.threshold_)

    def exhausted(self, refused: int, fallback_rounds: int) -> str:
        return (f"privacy guard: {refused} synthetic row(s) were still refused after "
                f"{self.guard_.max_rounds} redraw rounds from the mixture and {fallback_rounds} "
                "from the generators that do not resample patients; refusing to write them (try "
                "more privacy_guard max_rounds, or more weight on gmm/cvae)")

    def report(self) -> dict[str, Any]:
        return {"params": self.guard_.get_params(), "threshold": self.guard_.threshold_,
                "quasi_identifiers": list(self.guard_.qi_)}

    def get_state(self) -> tuple[dict[str, Any], Arrays]:
        self._check_fitted()
        meta, arrays = self.guard_.get_state()
        return {"options": dict(self.options or {}), "schema": self.model_schema_.to_dict(),
                "record_schema": self.guard_.schema_.to_dict(), "guard": meta}, arrays

    @classmethod
    def from_state(cls, meta: dict[str, Any], arrays: Arrays) -> GuardStep:
        step = cls(meta["options"])
        step.model_schema_ = TableSchema.from_dict(meta["schema"])
        step.guard_ = PrivacyGuard.from_state(TableSchema.from_dict(meta["record_schema"]),
                                              meta["guard"], arrays)
        return step


