"""The DP domain step: every column's codes, learned through the privacy ledger (DP mode).

The first step of a DP pipeline (``HybridSynthesizer(epsilon=...)``). It gets the training
rows as :class:`~clinisynth.dp.Sensitive` and reads them only through the ledger
(:mod:`clinisynth.dp.domain`: DP or public bounds, noisy histograms, thresholded category
counts); it maps the rows to codes (row-wise, uncharged) for the tree. Identifiers are written
as fresh sequence numbers and free text is left empty: neither is read. Dates are days from
1970-01-01, written back in the input's format. It also splits the budget
(:data:`SHARES`) for the tree step.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from clinisynth.dp.accountant import gaussian_sigma
from clinisynth.dp.domain import (
    OTHER,
    ColumnDomain,
    coarse_cuts,
    discrete_domain,
    fine_bins,
    numeric_domain,
    public_categories,
)
from clinisynth.dp.sensitive import Sensitive
from clinisynth.dp.tree import Y
from clinisynth.encoding import restore_dtype
from clinisynth.errors import ClinisynthError
from clinisynth.schema import ColumnSchema, TableSchema
from clinisynth.schema.dates import dates_from_days, days_since_epoch
from clinisynth.steps.base import Arrays, Batch, Draw, FitContext, Step
from clinisynth.steps.roles import write_dates

#: shares of the zCDP budget ρ: DP bounds, the 1-way measurements (histograms, category
#: counts), the class × column counts, the tree's edges, the class × parent × child counts
#: (the shares of stages a table does not need go to the others, in proportion)
SHARES = {"bounds": 0.15, "one_way": 0.15, "pairs": 0.25, "select": 0.08, "tree": 0.37}
#: the target's share of the 1-way budget, in columns' shares (its classes matter most)
TARGET_UNITS = 3
#: the share of the 1-way budget, in columns' shares, of one noisy row count (taken when the
#: target's categories are declared, so its counts are not measured): the count only sets the
#: fine histograms' resolution, which needs it to within tens of per cent
ROW_COUNT_UNITS = 0.1
#: coarse bins of a numeric column, at least and at most
MIN_BINS, MAX_BINS = 3, 16


def coarse_bins(n: float, k: int, sigma_tree: float) -> int:
    """Coarse bins per numeric column: ``sqrt(n / (2·k·σ_tree))`` within
    [:data:`MIN_BINS`, :data:`MAX_BINS`], so a class × parent × child cell of the tree holds
    about ``2·σ_tree`` rows when the ``n`` rows spread over ``k`` classes and ``bins²`` cells."""
    return int(np.clip(np.sqrt(max(n, 1.0) / (2.0 * k * sigma_tree)), MIN_BINS, MAX_BINS))


def budget(rho: float, needs: dict[str, bool]) -> dict[str, float]:
    """``ρ`` per stage: :data:`SHARES` of the stages ``needs`` marks, rescaled to sum to 1."""
    used = {k: v for k, v in SHARES.items() if needs.get(k, True)}
    total = sum(used.values())
    return {k: rho * used.get(k, 0.0) / total for k in SHARES}


class DPDomainStep(Step):
    """Columns to codes under a privacy budget (see the module)."""

    name: ClassVar[str] = "dp_domain"
    reads: ClassVar[str] = ("through the privacy ledger only: DP bounds (exponential mechanism) "
                            "and a noisy histogram of each numeric column, thresholded noisy "
                            "counts of each discrete one; declared public bounds and categories "
                            "cost nothing")

    def fit(self, batch: Batch, ctx: FitContext) -> DPDomainStep:
        ledger, data = ctx.ledger, batch.frame
        if ledger is None or not isinstance(data, Sensitive):
            raise ClinisynthError("step 'dp_domain' runs in DP mode only (it needs the "
                                  "privacy ledger)")
        schema = ctx.schema
        self.input_schema_ = schema
        data = data.map(lambda f: _days(f, schema))
        modelled = [c for c in schema.columns
                    if c.role not in ("identifier", "text") and c.name != schema.target]
        bounded = sum(c.public_min is None or c.public_max is None
                      for c in modelled if _numeric(c))
        rho = budget(ledger.rho_budget, {"bounds": bounded > 0, "select": len(modelled) > 1,
                                         "tree": len(modelled) > 1})
        ctx.choices["dp_rho"] = rho
        private = [c for c in [*modelled, schema[schema.target]]
                   if not _numeric(c) and public_categories(c) is None]
        measured = [c for c in modelled if _numeric(c) or public_categories(c) is None]
        target_units = TARGET_UNITS if public_categories(schema[schema.target]) is None else 0
        # without the target's counts, one noisy count of the rows sets the fine resolution
        count_rows = not target_units and any(_numeric(c) for c in modelled)
        units = max(len(measured) + target_units + ROW_COUNT_UNITS * count_rows, 1)
        sigma = gaussian_sigma(rho["one_way"] / units)
        sigma_target = gaussian_sigma(rho["one_way"] * TARGET_UNITS / units) \
            if target_units else sigma
        delta_c = ledger.delta / 2 / max(len(private), 1)
        sigma_bounds = gaussian_sigma(rho["bounds"] / bounded) if bounded else 0.0
        self.target_, totals = _discrete(schema[schema.target], data, ledger, sigma_target,
                                         delta_c, self.name)
        self.target_.other = True
        sigma_tree = (gaussian_sigma(rho["tree"] / (len(modelled) - 1)) if len(modelled) > 1
                      else gaussian_sigma(rho["pairs"]))
        k = max(len(self.target_.categories), 1)
        # the fine histograms' resolution from the noisy class counts (already charged) or
        # one noisy count of the rows
        rows = float(np.sum(totals)) if totals else 1.0
        if count_rows:
            sigma_rows = gaussian_sigma(rho["one_way"] * ROW_COUNT_UNITS / units)
            rows = float(ledger.gaussian_counts(data, lambda f: np.array([len(f)]), sigma_rows,
                                                self.name, "the number of rows")[0])
        fine = fine_bins(coarse_bins(rows, k, sigma_tree))
        self.domains_: list[ColumnDomain] = []
        pending = []
        for col in modelled:
            if _numeric(col):
                dom = numeric_domain(col, data, ledger, sigma_bounds, sigma, 1, self.name, fine)
                pending.append(dom)
                totals.append(float(np.sum(dom.fine_counts)))
            else:
                dom, counts = _discrete(col, data, ledger, sigma, delta_c, self.name)
                totals += counts
            self.domains_.append(dom)
        n = float(np.median(totals)) if totals else 1.0
        bins = coarse_bins(n, k, sigma_tree)
        for dom in pending:
            dom.cuts = coarse_cuts(np.asarray(dom.fine_counts), bins)
        self.bins_ = bins
        self.model_schema_ = self._schema(schema)
        self.input_schema_ = self.model_schema_  # what is kept of the input: released values
        return self

    def _schema(self, schema: TableSchema) -> TableSchema:
        """The input's columns with what DP released: bounds, kept categories (+ ``_RARE_``);
        no rules, no survival pair."""
        by_name = {d.name: d for d in self.domains_}
        columns = []
        for col in schema.columns:
            dom = by_name.get(col.name)
            if col.name == schema.target:
                cats = list(self.target_.categories)
                col = replace(col, categories=cats, min=None, max=None, public_categories=None,
                              kind=_kind(col.kind, cats))
            elif dom is None:
                col = replace(col, categories=None, min=None, max=None)
            elif dom.numeric:
                col = replace(col, min=dom.lo, max=dom.hi, precision=None, categories=None)
            else:
                cats = [*dom.categories, *([OTHER] if dom.fold is None else [])]
                col = replace(col, categories=cats, min=None, max=None, public_categories=None,
                              kind=_kind(col.kind, cats))
            columns.append(replace(col, missing_rate=1e-3 if col.missing_rate > 0 else 0.0))
        return TableSchema(columns=columns, target=schema.target, version=schema.version,
                           k=schema.k)

    def class_index(self, label: Any) -> int:
        """The code of a class label (a :class:`KeyError` naming the known ones)."""
        codes = self.target_.encode(pd.Series([label], dtype=object))
        if codes[0] >= len(self.target_.categories):
            raise KeyError(f"unknown class {label!r} for target '{self.input_schema_.target}'; "
                           f"known: {self.target_.categories}")
        return int(codes[0])

    # -- maps -----------------------------------------------------------------------------------
    def transform(self, batch: Batch, rng: np.random.Generator) -> Batch:
        schema = self.input_schema_

        def codes(frame: pd.DataFrame) -> pd.DataFrame:
            out = pd.DataFrame({i: d.encode(frame[d.name])
                                for i, d in enumerate(self.domains_)}, index=frame.index)
            out[Y] = self.target_.encode(frame[schema.target])
            return out

        data = batch.frame
        if isinstance(data, Sensitive):
            return batch.with_frame(data.map(lambda f: codes(_days(f, schema))))  # type: ignore[arg-type]
        return batch.with_frame(codes(_days(batch.table(self.name), schema)))

    def inverse_transform(self, batch: Batch, rng: np.random.Generator, draw: Draw) -> Batch:
        X, y = batch.matrix(self.name)
        schema = self.input_schema_
        n = len(y)
        values: dict[str, Any] = {}
        for i, dom in enumerate(self.domains_):
            values[dom.name] = dom.decode(X[:, i].astype(np.int64), rng)
        classes = np.array(self.target_.categories, dtype=object)
        values[schema.target] = classes[np.minimum(y, len(classes) - 1)]
        columns = {}
        for col in schema.columns:
            if col.role == "identifier":
                series = _identifiers(col, n, rng)
            elif col.role == "text":
                series = pd.Series([None] * n, dtype=object)
            elif col.role == "datetime":
                days = np.asarray(values[col.name], dtype=float)
                series = write_dates(np.asarray(dates_from_days(days), dtype="datetime64[ns]"),
                                     col.format, col)
            else:
                series = restore_dtype(pd.Series(values[col.name]), col)
            columns[col.name] = series.reset_index(drop=True)
        return batch.with_frame(pd.DataFrame(columns))

    def report(self) -> dict[str, Any]:
        self._check_fitted()
        return {"bins": self.bins_, "columns": [
            {"column": d.name, "numeric": d.numeric, "bounds": [d.lo, d.hi] if d.numeric
             else None, "public": d.public, "codes": d.size,
             "categories_kept": len(d.categories) if not d.numeric else None}
            for d in self.domains_]}

    # -- state ----------------------------------------------------------------------------------
    def get_state(self) -> tuple[dict[str, Any], Arrays]:
        self._check_fitted()
        return {"model_schema": self.model_schema_.to_dict(), "bins": self.bins_,
                "target": self.target_.to_dict(),
                "domains": [d.to_dict() for d in self.domains_]}, {}

    @classmethod
    def from_state(cls, meta: dict[str, Any], arrays: Arrays) -> DPDomainStep:
        step = cls()
        step.model_schema_ = TableSchema.from_dict(meta["model_schema"])
        step.input_schema_ = step.model_schema_
        step.bins_ = int(meta["bins"])
        step.target_ = ColumnDomain(**meta["target"])
        step.domains_ = [ColumnDomain(**d) for d in meta["domains"]]
        return step


def _kind(kind: str, categories: list[Any]) -> str:
    """A binary column whose released categories are not two is categorical."""
    return "categorical" if kind == "binary" and len(categories) != 2 else kind


def _numeric(col: ColumnSchema) -> bool:
    return col.is_numeric or col.role == "datetime"


def _discrete(col: ColumnSchema, data: Sensitive, ledger: Any, sigma: float, delta: float,
              step: str) -> tuple[ColumnDomain, list[float]]:
    dom, counts = discrete_domain(col, data, ledger, sigma, delta, step)
    return dom, ([float(sum(counts.values()))] if counts else [])


def _days(frame: pd.DataFrame, schema: TableSchema) -> pd.DataFrame:
    """Date columns as days from 1970-01-01 (row-wise)."""
    dates = [c for c in schema.columns if c.role == "datetime" and c.name in frame.columns]
    if not dates:
        return frame
    out = frame.copy()
    for col in dates:
        out[col.name] = days_since_epoch(frame[col.name], col.format, col.name)
    return out


def _identifiers(col: ColumnSchema, n: int, rng: np.random.Generator) -> pd.Series:
    """Fresh identifiers (nothing read): random 9-digit numbers, or ``DP-`` and them as text."""
    numbers = rng.choice(np.arange(10**8, 10**9), size=n, replace=False)
    if pd.api.types.is_integer_dtype(np.dtype(col.dtype)) if col.dtype != "str" else False:
        return pd.Series(numbers, dtype=col.dtype)
    return pd.Series([f"DP-{v}" for v in numbers], dtype=object)
