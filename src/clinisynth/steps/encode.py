"""The encode step: the model table as one numeric matrix plus class codes, and back.

Forward, :class:`~clinisynth.encoding.TableEncoder` standardises numeric columns, one-hot encodes
categories and adds a missing indicator per column with gaps (gaps hot-deck filled within class
from the ``rng``, numeric ones then drawn by predictive mean matching,
:mod:`clinisynth.gap_fill`). Backward, it decodes a matrix into the model table; the cells left
missing are,
within each class, the rows with the highest missing-indicator scores, as many as the column's
real missing rate asks (:meth:`~clinisynth.encoding.TableEncoder.missing_masks`); with ``quotas``
(the default) each category takes as many rows of a class as the real class's share of it asks
(:meth:`~clinisynth.encoding.TableEncoder.decoded_categories`). A redrawn batch inherits the missing
cells of the rows it replaces, so a chunk's missing counts stay exact however many of its rows
were redrawn, and for its first rounds their categories too, so the rows the filters refuse
(rarer categories more often: a rare flag's rows break more rules and sit nearer a
distinguishable patient) do not lose their categories' share; later rounds share the categories
anew (a row redrawn for breaking a rule may need another category to pass it). The rules step's
forbidden combinations of categories reach the encoder at fit, which decodes around them
(:meth:`~clinisynth.encoding.TableEncoder.forbid`), so few rows are refused for them.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from clinisynth.encoding import TableEncoder
from clinisynth.schema import TableSchema
from clinisynth.schema.rules import ForbiddenCombination
from clinisynth.steps.base import Arrays, Batch, Draw, FitContext, Step

#: redraw rounds in which a redrawn batch keeps the categories of the rows it replaces: the
#: chunk's category counts per class stay those of its first draw (the real shares), whichever
#: rows the filters refuse; a refusal that the categories themselves cause (a forbidden
#: combination) is left to the later rounds, which share them anew. One round: five gave the same
#: shares for more redraws (``benchmarks/results/redraw_categories_rounds1.md``, ``_rounds5.md``)
INHERITED_ROUNDS = 1


def forbidden_combinations(rules: Step | None) -> list[dict[str, Any]]:
    """The forbidden combinations the rules step enforces (none without one)."""
    found = getattr(rules, "rules_", None) or []
    return [dict(r.values) for r in found if isinstance(r, ForbiddenCombination)]


class EncodeStep(Step):
    """Table <-> matrix (see :mod:`clinisynth.encoding`); ``quotas``: decode each class's
    categories in the real class's shares, not by arg-max; ``gap_fill``: ``"matched"``
    (numeric gaps by predictive mean matching) or ``"hot_deck"`` (a random observed value of
    the class)."""

    name: ClassVar[str] = "encode"
    reads: ClassVar[str] = ("every training row: each numeric column's mean and standard "
                            "deviation, and each column's missing rate and share of each "
                            "category per class; per numeric column with gaps, the weights "
                            "of a ridge regression on the other columns; and the rules "
                            "step's forbidden combinations of categories")

    def __init__(self, quotas: bool = True, gap_fill: str = "matched") -> None:
        self.quotas = quotas
        self.gap_fill = gap_fill

    def fit(self, batch: Batch, ctx: FitContext) -> EncodeStep:
        self.encoder_ = TableEncoder(ctx.schema, self.quotas, self.gap_fill).fit(
            batch.table(self.name)).forbid(forbidden_combinations(ctx.fitted.get("rules")))
        self.model_schema_ = ctx.schema
        return self

    def transform(self, batch: Batch, rng: np.random.Generator) -> Batch:
        self._check_fitted()
        X, y = self.encoder_.transform(batch.table(self.name), rng)
        return batch.with_matrix(X, y, self.encoder_.blocks_)

    def inverse_transform(self, batch: Batch, rng: np.random.Generator, draw: Draw) -> Batch:
        """Decode; the chunk's missing cells and categories are kept in ``draw`` so a redraw of
        some of its rows (``batch.rows``) inherits their count of missing cells per column and
        class, and, in its first :data:`INHERITED_ROUNDS` rounds, their count of each category
        per class (later rounds share the class's real proportions anew: a row redrawn for
        breaking a rule may need another category to pass it)."""
        self._check_fitted()
        X, y = batch.matrix(self.name)
        encoder = self.encoder_
        if batch.rows is None:
            masks = encoder.missing_masks(X, y)
            codes = encoder.decoded_categories(X, y)
            draw.notes[self.name] = {"missing": masks, "codes": codes}
        else:
            chunk = draw.notes[self.name]
            classes = len(self.model_schema_.classes)
            kept = {c: np.bincount(y[m[batch.rows]], minlength=classes)
                    for c, m in chunk["missing"].items()}
            masks = encoder.missing_masks(X, y, kept)
            for c, m in chunk["missing"].items():
                m[batch.rows] = masks[c]
            inherit = None
            if encoder.quotas and draw.round <= INHERITED_ROUNDS:
                inherit = encoder.category_counts(
                    {c: v[batch.rows] for c, v in chunk["codes"].items()}, y)
            codes = encoder.decoded_categories(X, y, inherit)
            for c, v in chunk["codes"].items():
                v[batch.rows] = codes[c]
        return batch.with_frame(encoder.inverse_transform(X, y, masks, codes))

    def get_state(self) -> tuple[dict[str, Any], Arrays]:
        self._check_fitted()
        return {"schema": self.model_schema_.to_dict(),
                "encoder": self.encoder_.get_state()}, {}

    @classmethod
    def from_state(cls, meta: dict[str, Any], arrays: Arrays) -> EncodeStep:
        step = cls()
        step.model_schema_ = TableSchema.from_dict(meta["schema"])
        step.encoder_ = TableEncoder.from_state(step.model_schema_, meta["encoder"])
        step.quotas, step.gap_fill = step.encoder_.quotas, step.encoder_.gap_fill
        return step
