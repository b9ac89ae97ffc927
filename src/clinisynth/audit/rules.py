"""Rules a synthetic table breaks: the schema's rules, else those that hold on every training
row or all but a few (:func:`clinisynth.rules.discovery.discover_rules`), with the share of
training, holdout and synthetic rows breaking each; only a rule no real row breaks warns.

A rule true on every real row and broken by synthetic rows is a detector's easiest signal and a
row no clinician would believe (a progression after death, a stay longer than the follow-up).
Works for any synthetic table (ours or a peer's).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd

from clinisynth.rules.discovery import discover_rules
from clinisynth.schema import TableSchema
from clinisynth.schema.rules import parse_rules

#: training rows the rules are discovered on (a seeded subsample above it)
DISCOVERY_ROWS = 20_000


@dataclass
class RuleViolations:
    """Per rule: its text, where it came from, and the share of rows breaking it."""

    source: str  # "schema" or "discovered"
    rules: list[dict[str, Any]] = field(default_factory=list)

    def broken(self) -> list[dict[str, Any]]:
        """Rules no real row breaks that some synthetic row does."""
        return [r for r in self.rules if r["synthetic"] > 0 and r["train"] == 0
                and r["holdout"] == 0]

    def to_dict(self) -> dict[str, Any]:
        return {"source": self.source, "rules": self.rules}


def _observed_ranges(schema: TableSchema, rows: pd.DataFrame) -> TableSchema:
    """``schema`` with each numeric column's range as ``rows`` show it (a model's schema may
    hold protected ranges, narrower than the real rows)."""
    columns = []
    for col in schema.columns:
        values = pd.to_numeric(rows[col.name], errors="coerce") if col.is_numeric else None
        if values is not None and values.notna().any():
            col = replace(col, min=float(values.min()), max=float(values.max()))
        columns.append(col)
    return replace(schema, columns=columns)


def rule_violations(train: pd.DataFrame, holdout: pd.DataFrame, synthetic: pd.DataFrame,
                    schema: TableSchema, seed: int = 0) -> RuleViolations:
    """Share of ``train``, ``holdout`` and ``synthetic`` rows breaking each rule."""
    if schema.rules is not None:
        rules, source = parse_rules(schema.rules, schema), "schema"
    else:
        rows = train
        if len(train) > DISCOVERY_ROWS:
            pick = np.random.default_rng(seed).choice(len(train), DISCOVERY_ROWS, replace=False)
            rows = train.iloc[np.sort(pick)]
        observed = _observed_ranges(schema, rows)
        rules, source = list(discover_rules(rows[schema.names], observed).rules), "discovered"
    out = RuleViolations(source=source)
    for rule in rules:
        shares = {name: float(np.mean(rule.violated(frame))) if len(frame) else 0.0
                  for name, frame in (("train", train), ("holdout", holdout),
                                      ("synthetic", synthetic))}
        out.rules.append({"rule": rule.describe(), **shares})
    return out
