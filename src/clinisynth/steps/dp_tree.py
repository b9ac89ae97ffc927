"""The DP tree step: the source of a DP pipeline (a class-conditional tree of noisy
marginals, :mod:`clinisynth.dp.tree`), fitted on the domain step's codes through the ledger."""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from clinisynth.dp.tree import TreeModel, fit_tree
from clinisynth.errors import ClinisynthError
from clinisynth.schema import TableSchema
from clinisynth.steps.base import Arrays, Batch, FitContext, Step


class DPTreeStep(Step):
    """Draws codes per class from the noisy tree (see the module)."""

    name: ClassVar[str] = "dp_tree"
    reads: ClassVar[str] = ("through the privacy ledger only: noisy class × column counts, the "
                            "tree's edges (exponential mechanism) and noisy class × parent × "
                            "child counts")
    is_source: ClassVar[bool] = True

    def fit(self, batch: Batch, ctx: FitContext) -> DPTreeStep:
        domain = ctx.fitted.get("dp_domain")
        if ctx.ledger is None or domain is None:
            raise ClinisynthError("step 'dp_tree' runs in DP mode only, after 'dp_domain'")
        sizes = [d.size for d in domain.domains_]
        n_classes = len(domain.target_.categories) + 1  # the last: values not kept
        self.model_ = fit_tree(batch.frame, sizes, n_classes, ctx.ledger,  # type: ignore[arg-type]
                               ctx.choices["dp_rho"], self.name)
        counts = self.model_.class_counts[:-1]
        self.class_counts_ = counts if counts.sum() > 0 else np.ones(len(counts))
        self.model_schema_ = ctx.schema
        return self

    def transform(self, batch: Batch, rng: np.random.Generator) -> Batch:
        return batch  # the source: nothing after it reads the training rows

    def draw(self, counts: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        y = np.repeat(np.arange(len(counts)), np.asarray(counts, dtype=int))
        return self.model_.sample(y, rng).astype(float), y

    def redraw(self, y: np.ndarray, rng: np.random.Generator, fallback: bool) -> np.ndarray:
        return self.model_.sample(np.asarray(y), rng).astype(float)

    def report(self) -> dict[str, Any]:
        self._check_fitted()
        return {"parents": self.model_.parents, "sizes": self.model_.sizes}

    def get_state(self) -> tuple[dict[str, Any], Arrays]:
        self._check_fitted()
        meta, arrays = self.model_.to_state()
        return ({"tree": meta, "model_schema": self.model_schema_.to_dict()},
                {**arrays, "class_counts": np.asarray(self.class_counts_)})

    @classmethod
    def from_state(cls, meta: dict[str, Any], arrays: Arrays) -> DPTreeStep:
        step = cls()
        step.model_ = TreeModel.from_state(meta["tree"], arrays)
        step.class_counts_ = arrays["class_counts"]
        step.model_schema_ = TableSchema.from_dict(meta["model_schema"])
        return step
