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
were redrawn; its categories are shared anew (a row redrawn for breaking a rule may need another
category to pass it).
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from clinisynth.encoding import TableEncoder
from clinisynth.schema import TableSchema
from clinisynth.steps.base import Arrays, Batch, Draw, FitContext, Step


class EncodeStep(Step):
    """Table <-> matrix (see :mod:`clinisynth.encoding`); ``quotas``: decode each class's
    categories in the real class's shares, not by arg-max; ``gap_fill``: ``"matched"``
    (numeric gaps by predictive mean matching) or ``"hot_deck"`` (a random observed value of
    the class)."""

    name: ClassVar[str] = "encode"
    reads: ClassVar[str] = ("every training row: each numeric column's mean and standard "
                            "deviation, and each column's missing rate and share of each "
                            "category per class; per numeric column with gaps, the weights "
                            "of a ridge regression on the other columns")

    def __init__(self, quotas: bool = True, gap_fill: str = "matched") -> None:
        self.quotas = quotas
        self.gap_fill = gap_fill

    def fit(self, batch: Batch, ctx: FitContext) -> EncodeStep:
        self.encoder_ = TableEncoder(ctx.schema, self.quotas, self.gap_fill).fit(
            batch.table(self.name))
        self.model_schema_ = ctx.schema
        return self

    def transform(self, batch: Batch, rng: np.random.Generator) -> Batch:
        self._check_fitted()
        X, y = self.encoder_.transform(batch.table(self.name), rng)
        return batch.with_matrix(X, y, self.encoder_.blocks_)

    def inverse_transform(self, batch: Batch, rng: np.random.Generator, draw: Draw) -> Batch:
        """Decode; the chunk's missing cells are kept in ``draw`` so a redraw of some of its
        rows (``batch.rows``) inherits their count of missing cells per column and class. The
        categories of a redraw are shared in the real class's proportions of its own rows, not
        inherited: rows redrawn for breaking a rule may need other categories to pass it."""
        self._check_fitted()
        X, y = batch.matrix(self.name)
        encoder = self.encoder_
        if batch.rows is None:
            masks = encoder.missing_masks(X, y)
            draw.notes[self.name] = masks
        else:
            chunk = draw.notes[self.name]
            classes = len(self.model_schema_.classes)
            kept = {c: np.bincount(y[m[batch.rows]], minlength=classes)
                    for c, m in chunk.items()}
            masks = encoder.missing_masks(X, y, kept)
            for c, m in chunk.items():
                m[batch.rows] = masks[c]
        return batch.with_frame(encoder.inverse_transform(X, y, masks))

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
