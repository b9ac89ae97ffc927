"""The link step: each child table summarised onto its parent row, and back.

Per patient and child table (``c``), the parent row gains (as HMA does for its parents):

* ``c.n``: the number of child rows (0 for a patient without any);
* ``c.first.<order>``: the first row's order value (a sequence's first day, an interval's start);
* ``c.share``: where the last row ends, as a share of the parent's bound,
  ``end_last / bound`` in [0, 1] (``c.last.<end>`` in the child's own units when the child has
  no bound, or an order below 0, or a bound of 0 or less);
* ``c.first.<col>``: the first row's value of every other child column.

The hybrid learns the augmented parent table, so a synthetic patient's count, span and first
values are drawn together with their baseline columns; the child model then draws the rows in
between. Decoding ``share × bound`` keeps every child inside the parent's follow-up by
construction.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from clinisynth.errors import SchemaError
from clinisynth.schema.links import ChildLink, LinkSchema


@dataclass
class ChildSummary:
    """The summary columns of one child, named once."""

    link: ChildLink
    value_columns: list[str]
    uses_share: bool

    @property
    def n(self) -> str:
        return f"{self.link.table}.n"

    @property
    def first_order(self) -> str | None:
        return f"{self.link.table}.first.{self.link.order}" if self.link.order else None

    @property
    def last(self) -> str | None:
        if not self.link.end:
            return None
        return f"{self.link.table}.share" if self.uses_share else \
            f"{self.link.table}.last.{self.link.end}"

    def first(self, column: str) -> str:
        return f"{self.link.table}.first.{column}"

    def columns(self) -> list[str]:
        named = [self.n, self.first_order, self.last]
        return [c for c in named if c] + [self.first(c) for c in self.value_columns]


def child_summary(link: ChildLink, child: pd.DataFrame, parent: pd.DataFrame) -> ChildSummary:
    """Which summary columns one child gets (``share`` only where it is well defined)."""
    values = [c for c in child.columns if c not in link.structural()]
    uses_share = bool(link.bound and link.end
                      and (child[link.order] >= 0).all()
                      and (parent[link.bound] > 0).all())
    return ChildSummary(link, values, uses_share)


def summarise(parent: pd.DataFrame, children: Mapping[str, pd.DataFrame], links: LinkSchema,
              summaries: list[ChildSummary]) -> pd.DataFrame:
    """The parent table with every child's summary columns (module doc), in parent order."""
    out = parent.copy()
    keys = parent[links.key]
    for summary in summaries:
        link = summary.link
        child = children[link.table]
        clash = [c for c in summary.columns() if c in parent.columns]
        if clash:
            raise SchemaError(f"links: parent column {clash[0]!r} clashes with a summary of "
                              f"{link.table}; rename it")
        grouped = child.groupby(link.key, sort=False)
        counts = grouped.size()
        out[summary.n] = keys.map(counts).fillna(0).astype(int).to_numpy()
        firsts = child.drop_duplicates(link.key, keep="first").set_index(link.key)
        if summary.first_order:
            out[summary.first_order] = keys.map(firsts[link.order]).to_numpy()
        if summary.last:
            last = keys.map(grouped[link.end].max()).to_numpy(dtype=float)
            if summary.uses_share:
                last = last / parent[link.bound].to_numpy(dtype=float)
            out[summary.last] = last
        for col in summary.value_columns:
            out[summary.first(col)] = keys.map(firsts[col]).to_numpy()
            if pd.api.types.is_integer_dtype(child[col]) and out[summary.first(col)].isna().any():
                out[summary.first(col)] = out[summary.first(col)].astype("Int64")
    return out


def child_plan(row_frame: pd.DataFrame, summary: ChildSummary, bound: np.ndarray | None,
               integer_order: bool) -> pd.DataFrame:
    """Per synthetic patient: ``n``, first order and last end, made consistent.

    ``n`` is a non-negative integer; ``last >= first``; with a bound ``last = share × bound``
    (share clipped to [0, 1]); integer orders are rounded, and ``m`` distinct integer steps
    (``n - 1`` for a sequence, ``n`` for intervals) need ``bound - first >= m``, so ``n`` is cut
    where the bound leaves less room.
    """
    n = np.clip(np.round(pd.to_numeric(row_frame[summary.n], errors="coerce")
                         .fillna(0).to_numpy(dtype=float)), 0, None).astype(int)
    plan = pd.DataFrame({"n": n})
    if summary.first_order is None:
        return plan
    first = pd.to_numeric(row_frame[summary.first_order], errors="coerce").to_numpy(dtype=float)
    last = pd.to_numeric(row_frame[summary.last], errors="coerce").to_numpy(dtype=float)
    first = np.where(np.isnan(first), np.nanmedian(first) if np.isfinite(first).any() else 0.0,
                     first)
    if summary.uses_share:
        share = np.clip(np.nan_to_num(last, nan=0.0), 0.0, 1.0)
        last = share * bound
    last = np.where(np.isnan(last), first, last)
    if bound is not None:
        first = np.minimum(first, bound)
        last = np.minimum(last, bound)
    last = np.maximum(last, first)
    if integer_order:
        first, last = np.ceil(first - 1e-9), np.floor(last + 1e-9)
        last = np.maximum(last, first)
        room = np.floor(bound) - first if bound is not None else np.full(len(n), np.inf)
        m = np.maximum(n - 1, 0) if summary.link.kind == "sequence" else n
        m = np.minimum(m, room).astype(int)  # room for m distinct integer steps
        plan["n"] = np.where(n > 0, m + 1, 0) if summary.link.kind == "sequence" else m
    plan["first"], plan["last"] = first, last
    plan["cap"] = bound if bound is not None else np.inf
    return plan
