"""Linked tables: one parent table (one row per patient) and child tables keyed to it.

The links are inferred from structure, never from names, and are data (``to_dict`` /
``from_dict``) that a user edits in the schema JSON:

* **key**: a column of the parent whose values are unique and non-missing, present in every
  other table, where every child value is a parent value (referential integrity) and some
  patient has several rows (a child with at most one row per patient is named with
  ``parent=`` / ``key=``);
* **order**: a numeric child column that never decreases within a patient, in the rows' order,
  and moves in some patient (a visit day, a time since entry);
* **intervals**: two numeric child columns ``start < stop`` on every row, contiguous within a
  patient (each ``start`` is the previous row's ``stop``); ``start`` is then the order;
* **counter**: an integer child column that is 1, 2, … within every patient;
* **bound**: the parent numeric column that no child's order (or stop) passes, in every
  patient (``visits.day <= patients.futime``); the tightest when several qualify;
* **monotone**: the other numeric child columns, never missing, that never fall within any
  patient (in order) and rise in some (a disease stage, a cumulative dose);
* **ids**: child columns with a different value on every row, text or whole numbers rising down
  the whole table (a visit number counting across patients): row identifiers, regenerated,
  never an order or a value.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from clinisynth.errors import SchemaError


@dataclass
class ChildLink:
    """How one child table hangs from the parent (every field editable in the JSON)."""

    table: str
    key: str
    order: str | None = None
    stop: str | None = None
    counter: str | None = None
    bound: str | None = None
    monotone: list[str] | None = None
    ids: list[str] | None = None

    @property
    def kind(self) -> str:
        """``intervals`` (start/stop), ``sequence`` (an order column) or ``set`` (none)."""
        return "intervals" if self.stop else "sequence" if self.order else "set"

    @property
    def end(self) -> str | None:
        """The column that marks where a patient's rows end in time (stop, else order)."""
        return self.stop or self.order

    def structural(self) -> list[str]:
        """Columns the link regenerates (key, order, stop, counter, row identifiers), not
        modelled as values."""
        return [c for c in (self.key, self.order, self.stop, self.counter, *(self.ids or []))
                if c]


@dataclass
class LinkSchema:
    """The parent table's name and key, and each child's link."""

    parent: str
    key: str
    children: list[ChildLink] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"parent": self.parent, "key": self.key,
                "children": [{k: v for k, v in asdict(c).items() if v is not None}
                             for c in self.children]}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> LinkSchema:
        try:
            children = [ChildLink(**c) for c in data.get("children", [])]
            return cls(parent=str(data["parent"]), key=str(data["key"]), children=children)
        except (KeyError, TypeError) as exc:
            raise SchemaError(f"links: not a link schema ({exc})") from None

    def validate(self, tables: Mapping[str, pd.DataFrame]) -> None:
        """One-line :class:`SchemaError` naming the table or column a link gets wrong."""
        if self.parent not in tables:
            raise SchemaError(f"links: parent table {self.parent!r} is not among the tables "
                              f"({', '.join(tables)})")
        parent = tables[self.parent]
        _require(parent, self.key, self.parent)
        keys = parent[self.key]
        if keys.isna().any() or keys.duplicated().any():
            raise SchemaError(f"links: key {self.parent}.{self.key} must be unique and never "
                              "missing")
        for child in self.children:
            if child.table not in tables:
                raise SchemaError(f"links: child table {child.table!r} is not among the tables")
            frame = tables[child.table]
            for col in (child.key, child.order, child.stop, child.counter,
                        *(child.monotone or []), *(child.ids or [])):
                if col:
                    _require(frame, col, child.table)
            if child.bound:
                _require(parent, child.bound, self.parent)
            orphans = ~frame[child.key].isin(keys)
            if orphans.any():
                raise SchemaError(f"links: {orphans.sum()} rows of {child.table} have a "
                                  f"{child.key} that no {self.parent} row has")
            for col in (child.order, child.stop):
                if col and not pd.api.types.is_numeric_dtype(frame[col]):
                    raise SchemaError(f"links: {child.table}.{col} must be numeric (a day or "
                                      "time count)")


def links_from_sdv(metadata: Mapping[str, Any], tables: Mapping[str, pd.DataFrame]
                   ) -> LinkSchema:
    """The links of SDV multi-table metadata (its ``relationships``: one parent table, each
    child's foreign key, a ``sequence_index`` as the order); what SDV does not say (intervals,
    counters, bounds, monotone columns) is inferred from the tables as above."""
    relations = metadata.get("relationships") or []
    parents = {r.get("parent_table_name") for r in relations}
    if len(parents) != 1:
        raise SchemaError("links: the SDV metadata must relate one parent table to its "
                          f"children (it names {len(parents)} parents)")
    parent = str(parents.pop())
    if parent not in tables:
        raise SchemaError(f"links: the SDV metadata's parent {parent!r} is not among the "
                          f"tables ({', '.join(tables)})")
    key = str(relations[0]["parent_primary_key"])
    children = []
    for rel in relations:
        name, fk = str(rel["child_table_name"]), str(rel["child_foreign_key"])
        if name not in tables:
            raise SchemaError(f"links: the SDV metadata's child {name!r} is not among the "
                              "tables")
        link = infer_child(tables[name], name, fk, tables[parent].rename(columns={key: fk}))
        order = (metadata.get("tables", {}).get(name) or {}).get("sequence_index")
        if order and not link.stop:
            link.order = str(order)
        children.append(link)
    links = LinkSchema(parent, key, children)
    links.validate(tables)
    return links


def _require(frame: pd.DataFrame, column: str, table: str) -> None:
    if column not in frame.columns:
        raise SchemaError(f"links: {table} has no column {column!r}")


def infer_links(tables: Mapping[str, pd.DataFrame], parent: str | None = None,
                key: str | None = None, dates: Mapping[str, Any] | None = None) -> LinkSchema:
    """The parent, key and each child's order, intervals, counter and bound (module doc).

    ``dates`` names each table's date columns (given as day counts): a date order is bounded
    only by a parent date, a duration only by a parent duration."""
    if len(tables) < 2:
        raise SchemaError("links: linked tables need a parent and at least one child table")
    candidates = [(p, k) for p, k in _key_candidates(tables)
                  if (parent is None or p == parent) and (key is None or k == key)]
    if not candidates:
        if key is not None:
            raise SchemaError(f"--key {key!r}: no table holds it once per row with every "
                              "other table's values among them")
        raise SchemaError("links: no column is unique in one table and found in every other; "
                          "give --key, or the links in a file (--links)")
    if len(candidates) > 1:
        named = ", ".join(f"{p}.{k}" for p, k in candidates)
        raise SchemaError(f"links: several parent keys fit ({named}); give --key, or the "
                          "links in a file (--links)")
    parent_name, key_name = candidates[0]
    dates = dates or {}
    children = [infer_child(tables[name], name, key_name, tables[parent_name],
                            set(dates.get(name, ())), set(dates.get(parent_name, ())))
                for name in tables if name != parent_name]
    links = LinkSchema(parent_name, key_name, children)
    links.validate(tables)
    return links


def _key_candidates(tables: Mapping[str, pd.DataFrame]) -> list[tuple[str, str]]:
    out = []
    for name, frame in tables.items():
        others = [t for n, t in tables.items() if n != name]
        for col in frame.columns:
            values = frame[col]
            if values.isna().any() or values.duplicated().any():
                continue
            if all(col in o.columns and o[col].notna().all() and o[col].isin(values).all()
                   and o[col].duplicated().any() for o in others):
                out.append((name, col))
    return out


def infer_child(frame: pd.DataFrame, name: str, key: str, parent: pd.DataFrame,
                dates: set[str] | None = None, parent_dates: set[str] | None = None
                ) -> ChildLink:
    """One child's link: intervals first, else the order column, then counter and bound."""
    link = ChildLink(table=name, key=key)
    frame = frame.iloc[np.argsort(frame[key].to_numpy(), kind="stable")]  # rows kept in order
    groups = frame[key].to_numpy()
    link.ids = [c for c in frame.columns if c != key and _row_identifier(frame[c])] or None
    numeric = [c for c in frame.columns if c != key and pd.api.types.is_numeric_dtype(frame[c])
               and frame[c].notna().all() and c not in (link.ids or [])]
    link.counter = next((c for c in numeric if _is_counter(frame[c], groups)), None)
    candidates = [c for c in numeric if c != link.counter]
    intervals = [(a, b) for a in candidates for b in candidates
                 if a != b and _contiguous(frame[a], frame[b], groups)]
    if intervals:
        link.order, link.stop = intervals[0]
    else:
        ordered = [c for c in candidates if _non_decreasing(frame[c], groups)]
        # the column that moves most within patients: a day count, not a flag that never falls
        link.order = max(ordered, key=lambda c: frame[c].nunique(), default=None)
    if link.end:
        dated = link.end in (dates or set())
        candidates = [c for c in parent.columns if (c in (parent_dates or set())) == dated]
        link.bound = _bound(frame, link, parent[[link.key, *candidates]]
                            if link.key in parent.columns and link.key not in candidates
                            else parent[candidates])
        link.monotone = [c for c in numeric if c not in link.structural()
                         and _non_decreasing(frame[c], groups)] or None
    return link


def _row_identifier(values: pd.Series) -> bool:
    """A different value on every row: text, or whole numbers rising down the whole table
    (a visit number counting across patients); a measurement that happens to be unique is
    neither."""
    if len(values) < 2 or values.isna().any() or not values.is_unique:
        return False
    if not pd.api.types.is_numeric_dtype(values):
        return True
    v = values.to_numpy(dtype=float)
    return bool(np.allclose(v, np.round(v)) and (np.diff(v) > 0).all())


def _group_diffs(values: pd.Series, groups: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Differences between consecutive rows and whether both rows are one patient's."""
    v = values.to_numpy(dtype=float)
    same = groups[1:] == groups[:-1]
    return np.diff(v), same


def _non_decreasing(values: pd.Series, groups: np.ndarray) -> bool:
    diff, same = _group_diffs(values, groups)
    return bool(same.any() and (diff[same] >= 0).all() and (diff[same] > 0).any())


def _is_counter(values: pd.Series, groups: np.ndarray) -> bool:
    v = values.to_numpy(dtype=float)
    if not np.allclose(v, np.round(v)):
        return False
    expected = pd.Series(groups).groupby(groups).cumcount().to_numpy() + 1
    return bool((v == expected).all() and expected.max() > 1)


def _contiguous(start: pd.Series, stop: pd.Series, groups: np.ndarray) -> bool:
    a, b = start.to_numpy(dtype=float), stop.to_numpy(dtype=float)
    same = groups[1:] == groups[:-1]
    return bool((a < b).all() and same.any() and (a[1:][same] == b[:-1][same]).all())


def _bound(frame: pd.DataFrame, link: ChildLink, parent: pd.DataFrame) -> str | None:
    last = frame.groupby(link.key)[link.end].max()
    rows = parent.set_index(link.key).reindex(last.index)
    best, slack = None, np.inf
    for col in rows.columns:
        if not pd.api.types.is_numeric_dtype(rows[col]) or rows[col].isna().any():
            continue
        gap = rows[col].to_numpy(dtype=float) - last.to_numpy(dtype=float)
        if (gap >= 0).all() and float(np.median(gap)) < slack:
            best, slack = col, float(np.median(gap))
    return best
