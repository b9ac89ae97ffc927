"""The declared rules in DP mode: a soft filter on synthetic rows.

A rule the schema declares (``"rules"`` in the schema JSON) is public knowledge, and checking
synthetic rows against it is post-processing: it costs no ε and reads no training row. Rows
that break a declared rule are redrawn from the DP model for at most ``max_rounds`` rounds,
then kept and counted (the audit's rule check reports them). Rules are not discovered in DP
mode (discovery reads every row), and nothing is rewritten by construction as the non-DP rules
step does (that fits on the rows).
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
import pandas as pd

from clinisynth.schema import TableSchema
from clinisynth.schema.rules import parse_rules
from clinisynth.steps.base import Arrays, Batch, FitContext, Step, Verdict
from clinisynth.steps.rules import RulesReport


class DPRulesStep(Step):
    """Checks the declared rules on synthetic rows (see the module)."""

    name: ClassVar[str] = "dp_rules"
    reads: ClassVar[str] = ("nothing: the rules the schema declares (public knowledge), checked "
                            "on synthetic rows only (post-processing, free)")
    hard: ClassVar[bool] = False
    max_rounds: ClassVar[int] = 10

    def fit(self, batch: Batch, ctx: FitContext) -> DPRulesStep:
        self.declared_ = list(ctx.schema.rules or [])
        self.rules_ = parse_rules(self.declared_, ctx.schema)
        self.model_schema_ = ctx.schema
        return self

    def check(self, frame: pd.DataFrame) -> Verdict | None:
        self._check_fitted()
        if not self.rules_:
            return None
        bad = np.zeros(len(frame), dtype=bool)
        for rule in self.rules_:
            bad |= rule.violated(frame)
        return Verdict(bad, np.full(int(bad.sum()), "rule", dtype=object))

    def new_report(self) -> RulesReport:
        return RulesReport()

    def report(self) -> dict[str, Any]:
        return {"declared": [rule.describe() for rule in self.rules_]}

    def get_state(self) -> tuple[dict[str, Any], Arrays]:
        self._check_fitted()
        return {"declared": self.declared_, "model_schema": self.model_schema_.to_dict()}, {}

    @classmethod
    def from_state(cls, meta: dict[str, Any], arrays: Arrays) -> DPRulesStep:
        step = cls()
        step.model_schema_ = TableSchema.from_dict(meta["model_schema"])
        step.declared_ = list(meta["declared"])
        step.rules_ = parse_rules(step.declared_, step.model_schema_)
        return step
