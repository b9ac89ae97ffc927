"""The survival table step: follow-up time modelled per (class, event), on a log scale.

A survival pair (``schema.survival``: time ``T >= 0``, event indicator ``E``) is two columns the
generators would otherwise treat as unrelated. :class:`SurvivalStep` replaces ``T`` by a score
``z`` that is standard normal within each *cell* of rows sharing the class and the value of
``E`` (event, censored, or each cause of a competing-risks code such as liver's 0/1/2):

    forward   z = Φ⁻¹(F_c(log1p T))       F_c: the cell's empirical CDF at mid-ranks
    inverse   T = expm1(F_c⁻¹(Φ(z)))       F_c⁻¹: linear interpolation between the cell's values

where the cell ``c`` of a synthetic row is read from its own (synthetic) class and event value.
The generators model ``z`` jointly with the other columns (so covariates still shift a patient's
follow-up), and the step turns it back into days with the real cell's distribution.

What holds by construction, for every synthetic row:

* ``min_c ≤ T ≤ max_c`` for its cell: follow-up is never negative and never longer than the
  longest real follow-up of patients with that class and that event value; in particular an
  event time never exceeds the last real event time and a censoring time never precedes the
  first real censoring time (e.g. the end of recruitment);
* the time is drawn for the row's own event value, so the event indicator is respected even
  when it is not the target (time and censoring are never mixed up across rows);
* if the generators reproduce each cell's share of rows and keep ``z`` standard normal within
  it, the times of each cell follow the real cell's distribution, so the Kaplan-Meier curve
  (a function of the (time, event) pairs only) is the real one, per class.

What is learned, not guaranteed: the share of events per class (the generators' class-wise
model of ``E``) and how ``z`` depends on the covariates. Integer times are rounded. A cell
with fewer than :data:`MIN_CELL_ROWS` rows borrows the event value's cell over all classes, then
the pooled times. Mid-ranks (not scikit-learn's ``QuantileTransformer``) keep the extreme values
at finite scores ``Φ⁻¹(1/2m)`` rather than at ±5.2, where a mixture would fit them as outliers.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any, ClassVar

import numpy as np
import pandas as pd
from scipy.stats import norm

from clinisynth.errors import ClinisynthError
from clinisynth.schema import TableSchema, category_key, to_native
from clinisynth.steps import TABLE_STEPS, Arrays, TableStep

#: fewest rows with a time a (class, event) cell needs to keep its own distribution
MIN_CELL_ROWS = 10
#: the "any class" / "any event value" side of a cell label
ANY = None


@TABLE_STEPS.register
class SurvivalStep(TableStep):
    """Time of the schema's survival pair as a normal score within its (class, event) cell."""

    name: ClassVar[str] = "survival"

    def fit(self, real: pd.DataFrame, schema: TableSchema) -> SurvivalStep:
        if schema.survival is None:
            raise ClinisynthError("survival step: the schema has no survival pair")
        self.schema_ = schema
        self.pair_ = dict(schema.survival)
        by_class = schema.target != self.pair_["event"]
        t = pd.to_numeric(real[self.pair_["time"]], errors="coerce").to_numpy(dtype=float)
        ok = np.isfinite(t)
        events = real[self.pair_["event"]]
        classes = real[schema.target]
        labels: list[tuple[Any, Any]] = [(ANY, ANY)]
        masks = [ok]
        for e in schema[self.pair_["event"]].categories or []:
            e_mask = ok & _is(events, e)
            labels.append((ANY, e))
            masks.append(e_mask)
            for k in (schema.classes if by_class else []):
                labels.append((k, e))
                masks.append(e_mask & _is(classes, k))
        self.cells_: list[tuple[Any, Any]] = []
        self.values_: list[np.ndarray] = []
        self.ranks_: list[np.ndarray] = []
        for label, mask in zip(labels, masks, strict=True):
            if mask.sum() >= MIN_CELL_ROWS or (label == (ANY, ANY) and mask.any()):
                v, u = _midranks(np.log1p(t[mask]))
                self.cells_.append(label)
                self.values_.append(v)
                self.ranks_.append(u)
        if not self.cells_:
            raise ClinisynthError(f"survival step: column '{self.pair_['time']}' has no values")
        self._index()
        z = self.transform(real)[self.pair_["time"]]
        col = schema[self.pair_["time"]]
        model_col = replace(col, kind="continuous", dtype="float64", precision=0.0,
                            min=float(np.nanmin(z)), max=float(np.nanmax(z)))  # never rounded
        self.model_schema_ = TableSchema(
            columns=[model_col if c.name == col.name else c for c in schema.columns],
            target=schema.target, version=schema.version, survival=None)
        return self

    def _index(self) -> None:
        self._cell_of = {(_key(k), _key(e)): i for i, (k, e) in enumerate(self.cells_)}

    def _cells(self, frame: pd.DataFrame) -> np.ndarray:
        """Index of each row's cell: (class, event), else (any class, event), else pooled."""
        lookup = self._cell_of
        pooled = lookup[(_key(ANY), _key(ANY))]
        out = np.empty(len(frame), dtype=int)
        events = frame[self.pair_["event"]].to_numpy()
        classes = frame[self.schema_.target].to_numpy()
        for i, (k, e) in enumerate(zip(classes, events, strict=True)):
            ek = _key(ANY) if _missing(e) else _key(e)
            out[i] = lookup.get((_key(k), ek), lookup.get((_key(ANY), ek), pooled))
        return out

    def transform(self, frame: pd.DataFrame) -> pd.DataFrame:
        name = self.pair_["time"]
        t = pd.to_numeric(frame[name], errors="coerce").to_numpy(dtype=float)
        cells = self._cells(frame)
        z = np.full(len(frame), np.nan)
        for c in np.unique(cells):
            rows = (cells == c) & np.isfinite(t)
            u = np.interp(np.log1p(np.maximum(t[rows], 0.0)), self.values_[c], self.ranks_[c])
            z[rows] = norm.ppf(u)
        out = frame.copy()
        out[name] = z
        return out

    def inverse_transform(self, frame: pd.DataFrame, rng: np.random.Generator) -> pd.DataFrame:
        self._check_fitted()
        name = self.pair_["time"]
        z = pd.to_numeric(frame[name], errors="coerce").to_numpy(dtype=float)
        cells = self._cells(frame)
        t = np.full(len(frame), np.nan)
        for c in np.unique(cells):
            rows = (cells == c) & np.isfinite(z)
            t[rows] = np.expm1(np.interp(norm.cdf(z[rows]), self.ranks_[c], self.values_[c]))
        col = self.schema_[name]
        if col.kind == "integer":
            t = np.round(t)
        out = frame.copy()
        series = pd.Series(t, index=frame.index)
        if np.isfinite(t).all() or not col.dtype.startswith(("int", "uint")):
            series = series.astype(col.dtype)
        out[name] = series
        return out

    def report(self) -> dict[str, Any]:
        return {"time": self.pair_["time"], "event": self.pair_["event"],
                "cells": [{"class": to_native(k), "event": to_native(e), "rows": len(u),
                           "max": float(np.expm1(v[-1]))}
                          for (k, e), v, u in zip(self.cells_, self.values_, self.ranks_,
                                                  strict=True)]}

    def get_state(self) -> tuple[dict[str, Any], Arrays]:
        self._check_fitted()
        meta = {"schema": self.schema_.to_dict(), "model_schema": self.model_schema_.to_dict(),
                "cells": [[to_native(k), to_native(e)] for k, e in self.cells_]}
        arrays = {f"values.{i}": v for i, v in enumerate(self.values_)}
        arrays.update({f"ranks.{i}": u for i, u in enumerate(self.ranks_)})
        return meta, arrays

    @classmethod
    def from_state(cls, meta: dict[str, Any], arrays: Arrays) -> SurvivalStep:
        step = cls()
        step.schema_ = TableSchema.from_dict(meta["schema"])
        step.model_schema_ = TableSchema.from_dict(meta["model_schema"])
        step.pair_ = dict(step.schema_.survival or {})
        step.cells_ = [(k, e) for k, e in meta["cells"]]
        step.values_ = [np.asarray(arrays[f"values.{i}"]) for i in range(len(step.cells_))]
        step.ranks_ = [np.asarray(arrays[f"ranks.{i}"]) for i in range(len(step.cells_))]
        step._index()
        return step


def _midranks(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Distinct sorted values and their mid-rank CDF positions ``(before + count/2) / m``."""
    v, counts = np.unique(values, return_counts=True)
    before = np.cumsum(counts) - counts
    return v, (before + counts / 2.0) / counts.sum()


def _missing(value: Any) -> bool:
    return value is None or (not isinstance(value, str) and bool(pd.isna(value)))


def _key(value: Any) -> Any:
    return ("any",) if value is ANY else category_key(value)


def _is(series: pd.Series, value: Any) -> np.ndarray:
    key = category_key(value)
    return np.array([not _missing(v) and category_key(v) == key for v in series], dtype=bool)
