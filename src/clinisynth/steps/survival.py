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

**Study window** (administrative censoring). Cohorts recruited over calendar time and followed
to a common closing date obey ``s·D + T ≤ C`` for an entry column ``D`` (a year, or a date as
days), ``s`` days per unit of ``D`` and ``C`` the closing date: a patient recruited late cannot
have been followed long. At fit the step looks for such a column (:func:`find_window`: the
bound ``W = C - s·D`` with ``C = max(s·D + T)`` must be reached, within one step of ``D``, by at
least :data:`WINDOW_TIGHT` of the rows, and be shorter than 90 % of the longest follow-up for at
least :data:`WINDOW_GAIN` of them); when one is found a cell's distribution is that of

* the share of the window used, ``f = T / W`` in ``[0, 1]``, inverse ``T = f·W(D)`` with the
  synthetic row's own ``D`` (event cells); or
* when at least :data:`GAP_SHARE` of the censored rows reach the end, for censored cells the gap
  to the close, ``g = W - T``, modelled as ``-log1p g`` (inverse ``T = W - g``): how long before
  the close follow-up stopped, which depends on the entry much less than ``T`` does. With at
  most :data:`MAX_ENTRY_LEVELS` entry values (years) each censored cell is split by entry
  value, so a censored time stays within its entry year's real range.

Then ``s·D + T ≤ C`` holds for every synthetic row (flchain: enrolment year + follow-up never
passes the study's end, which a real-vs-synthetic classifier otherwise spots), and ``T`` stays
within its cell's real ``[min, max]`` wherever the row's window allows (a row's window can be
shorter than its cell's shortest real follow-up; the window wins).

**Value protection** (``smoothing`` > 0, the pipeline's default with ``protect``): a cell's
table is that of its times with the rare ones kernel-smoothed, each time fewer than ``k``
patients hold spread as wide as the distance to its ``k``-th nearest time (:meth:`_smoothed`),
so a synthetic time is not placed between two patients' sparse times (univariate singling out
on the time: ``benchmarks/results/singling_out_population_mixed.md``).

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

from clinisynth.calibration.reference import DEFAULT_QUANTILES, common_values, smoothed_quantiles
from clinisynth.errors import ClinisynthError
from clinisynth.schema import TableSchema, category_key, primary_pair, to_native
from clinisynth.steps.base import Arrays, Batch, FitContext, TableStep

#: fewest rows with a time a (class, event) cell needs to keep its own distribution
MIN_CELL_ROWS = 10
#: study window: least share of rows whose follow-up reaches the window's end (within one step
#: of the entry column), and least share whose window is shorter than 90 % of the longest
#: follow-up (so the bound says more than the time's own maximum)
WINDOW_TIGHT, WINDOW_GAIN = 0.2, 0.1
#: least share of censored rows at the window's end for their cells to model the gap to it
GAP_SHARE = 0.5
#: a gap cell is split by the entry value when the entry column has at most this many values
MAX_ENTRY_LEVELS = 30
#: days (of the time column) per unit of a candidate entry column, and the reverse
WINDOW_SCALES = (1.0, 7.0, 30.4375, 365.25, 1 / 7.0, 1 / 30.4375, 1 / 365.25)
#: the "any class" / "any event value" side of a cell label
ANY = None
#: a cell's label: (class, event value, entry value, other pairs' event values), ANY for "any"
Cell = tuple[Any, Any, Any, Any]


class SurvivalStep(TableStep):
    """Time of the schema's survival pair as a normal score within its (class, event) cell."""

    name: ClassVar[str] = "survival"
    reads: ClassVar[str] = ("every training row's follow-up time and event: the times of each "
                            "(class, event) cell (its empirical distribution), and the study "
                            "window's entry column, scale and closing date")

    def __init__(self, smoothing: float = 0.0) -> None:
        #: > 0 (value protection): each cell's table of times smoothed (:meth:`_smoothed`)
        self.smoothing = smoothing

    def fit(self, batch: Batch, ctx: FitContext) -> SurvivalStep:
        """As :meth:`fit_table`; the other pairs are the record view's (the rules step's model
        table drops a pair whose time it encodes against another column, not its event)."""
        pairs = (ctx.record_schema or ctx.schema).survival
        return self.fit_table(batch.table(self.name), ctx.schema, pairs)

    def fit_table(self, real: pd.DataFrame, schema: TableSchema,
                  pairs: list[dict[str, Any]] | None = None) -> SurvivalStep:
        """Learn each cell's times; ``pairs``: the table's survival pairs (default the
        schema's), whose other events split the cells (:func:`secondary_events`)."""
        pair = primary_pair(schema)
        if pair is None:
            raise ClinisynthError("survival step: the schema has no survival pair")
        self.schema_ = schema
        self.pair_ = dict(pair)
        by_class = schema.target != self.pair_["event"]
        t = pd.to_numeric(real[self.pair_["time"]], errors="coerce").to_numpy(dtype=float)
        ok = np.isfinite(t)
        events = real[self.pair_["event"]]
        self.window_ = find_window(real, schema, t)
        if self.window_ is not None:  # censored rows mostly at the end: model the gap to it
            censored = ok & ~_in(events, self.pair_["event_values"])
            at_end = t >= self._width(real) - self.window_["step"]
            self.window_["gap"] = bool(censored.any() and at_end[censored].mean() >= GAP_SHARE)
            entry = pd.to_numeric(real[self.window_["entry"]]).to_numpy(dtype=float)
            levels = np.unique(entry)
            self.window_["levels"] = (levels.tolist() if self.window_["gap"]
                                      and len(levels) <= MAX_ENTRY_LEVELS else [])
        width = self._windows(real)
        classes = real[schema.target]
        self.secondary_ = secondary_events(schema, self.pair_,
                                           schema.survival if pairs is None else pairs)
        combos = _combos(real, self.secondary_)
        labels: list[Cell] = [(ANY, ANY, ANY, ANY)]
        masks = [ok]
        for e in schema[self.pair_["event"]].categories or []:
            e_mask = ok & _is(events, e)
            for k in [ANY, *(schema.classes if by_class else [])]:
                k_mask = e_mask if k is ANY else e_mask & _is(classes, k)
                labels.append((k, e, ANY, ANY))
                masks.append(k_mask)
                if self._gap((k, e, ANY, ANY)):  # a gap cell per entry value (e.g. per year)
                    for level in self.window_["levels"]:
                        labels.append((k, e, level, ANY))
                        masks.append(k_mask & (entry == level))
                for combo, rows in combos:  # a cell per value of the other pairs' events
                    labels.append((k, e, ANY, combo))
                    masks.append(k_mask & rows)
        self.cells_: list[Cell] = []
        self.values_: list[np.ndarray] = []
        self.ranks_: list[np.ndarray] = []
        self.span_: list[list[float]] = []  # each cell's real [min, max] follow-up
        self.rows_: list[int] = []
        common = {gap: common_values(self._scaled(t, width, gap)[ok], int(schema.k))
                  for gap in {self._gap(label) for label in labels}} if self.smoothing > 0 else {}
        for label, mask in zip(labels, masks, strict=True):
            if mask.sum() >= MIN_CELL_ROWS or (label == (ANY, ANY, ANY, ANY) and mask.any()):
                scaled = self._scaled(t, width, self._gap(label))[mask]
                v, u = _midranks(scaled)
                if common:
                    v, u = self._smoothed(scaled, common[self._gap(label)], int(schema.k), v, u)
                self.cells_.append(label)
                self.rows_.append(int(mask.sum()))
                self.values_.append(v)
                self.ranks_.append(u)
                self.span_.append([float(t[mask].min()), float(t[mask].max())])
        if not self.cells_:
            raise ClinisynthError(f"survival step: column '{self.pair_['time']}' has no values")
        self._index()
        z = self.transform_table(real)[self.pair_["time"]]
        col = schema[self.pair_["time"]]
        model_col = replace(col, kind="continuous", dtype="float64", precision=0.0,
                            min=float(np.nanmin(z)), max=float(np.nanmax(z)),  # never rounded
                            score=True)
        self.model_schema_ = TableSchema(
            columns=[model_col if c.name == col.name else c for c in schema.columns],
            target=schema.target, version=schema.version, survival=None)
        return self

    def _smoothed(self, scaled: np.ndarray, common: np.ndarray, k: int, v: np.ndarray,
                  u: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """With ``smoothing`` (value protection) a cell's table of values and CDF positions
        is that of its smoothed distribution: the quantiles ``q(l)`` of
        :func:`~clinisynth.calibration.reference.smoothed_quantiles` on ``DEFAULT_QUANTILES``
        levels ``l`` (times fewer than ``k`` rows hold spread by a kernel on the cell's scale,
        as wide as the distance to the ``k``-th nearest time: ``knn``, since Silverman's
        bandwidth is narrower than a sparse tail's gaps; the ``common`` values, held by ``k``
        rows of the column, stay point masses) at the positions ``1/2m + l·(1 - 1/m)`` (``m``
        rows: the ends at the mid-ranks' finite scores), each repeated value once at its mean
        position. A synthetic time is then not
        interpolated between two patients' sparse times, and the saved table holds no time
        fewer than ``k`` patients have. Unchanged (``v``, ``u``) where nothing is rare."""
        levels = np.linspace(0.0, 1.0, DEFAULT_QUANTILES)
        q = smoothed_quantiles(scaled, levels, self.smoothing, k, common, knn=True)
        if q is None:
            return v, u
        m = len(scaled)
        values, run = np.unique(q, return_inverse=True)
        positions = 1.0 / (2 * m) + levels * (1.0 - 1.0 / m)
        return values, np.bincount(run, weights=positions) / np.bincount(run)

    def _index(self) -> None:
        self._cell_of = {(_key(k), _key(e), _key(d), _key(s)): i
                         for i, (k, e, d, s) in enumerate(self.cells_)}

    def _cells(self, frame: pd.DataFrame) -> np.ndarray:
        """Index of each row's cell: the first that exists of (class, event, entry), (any class,
        event, entry), (class, event, other events), (any class, event, other events), (class,
        event), (any class, event), pooled; entry cells are gap cells of a window whose entry
        column has few values, "other events" the values of the other pairs' event columns."""
        lookup = self._cell_of
        any_ = _key(ANY)
        pooled = lookup[(any_, any_, any_, any_)]
        out = np.empty(len(frame), dtype=int)
        events = frame[self.pair_["event"]].to_numpy()
        classes = frame[self.schema_.target].to_numpy()
        levels = bool(self.window_ and self.window_.get("levels"))
        entries = (pd.to_numeric(frame[self.window_["entry"]], errors="coerce").to_numpy(
            dtype=float) if levels else np.full(len(frame), np.nan))
        others = _row_combos(frame, self.secondary_)
        for i, (k, e, d, s) in enumerate(zip(classes, events, entries, others, strict=True)):
            ek = any_ if _missing(e) else _key(e)
            kk = _key(k)
            dk = any_ if np.isnan(d) else _key(float(d))
            keys = [(kk, ek, dk, any_), (any_, ek, dk, any_)] if dk != any_ else []
            if s != any_:
                keys += [(kk, ek, any_, s), (any_, ek, any_, s)]
            found = None
            for key in (*keys, (kk, ek, any_, any_), (any_, ek, any_, any_)):
                found = lookup.get(key)
                if found is not None:
                    break
            out[i] = pooled if found is None else found
        return out

    def transform_table(self, frame: pd.DataFrame) -> pd.DataFrame:
        name = self.pair_["time"]
        t = pd.to_numeric(frame[name], errors="coerce").to_numpy(dtype=float)
        cells = self._cells(frame)
        width = self._windows(frame)
        z = np.full(len(frame), np.nan)
        for c in np.unique(cells):
            rows = (cells == c) & np.isfinite(t)
            scaled = self._scaled(t[rows], None if width is None else width[rows],
                                  self._gap(self.cells_[c]))
            u = np.interp(scaled, self.values_[c], self.ranks_[c])
            z[rows] = norm.ppf(u)
        out = frame.copy()
        out[name] = z
        return out

    def inverse_table(self, frame: pd.DataFrame, rng: np.random.Generator) -> pd.DataFrame:
        self._check_fitted()
        name = self.pair_["time"]
        z = pd.to_numeric(frame[name], errors="coerce").to_numpy(dtype=float)
        cells = self._cells(frame)
        t = np.full(len(frame), np.nan)
        width = self._windows(frame)
        for c in np.unique(cells):
            rows = (cells == c) & np.isfinite(z)
            v = np.interp(norm.cdf(z[rows]), self.ranks_[c], self.values_[c])
            if width is None:
                t[rows] = np.expm1(v)
            elif self._gap(self.cells_[c]):
                t[rows] = width[rows] - np.expm1(-v)
            else:
                t[rows] = v * width[rows]
            if width is not None and self.span_:  # inside the cell's real span and the window
                lo, hi = self.span_[c]
                t[rows] = np.clip(np.clip(t[rows], lo, hi), 0.0, width[rows])
        col = self.schema_[name]
        if col.kind == "integer":
            t = np.round(t) if width is None else np.minimum(np.round(t), np.floor(width))
        out = frame.copy()
        series = pd.Series(t, index=frame.index)
        if np.isfinite(t).all() or not col.dtype.startswith(("int", "uint")):
            series = series.astype(col.dtype)
        out[name] = series
        return out

    def _width(self, frame: pd.DataFrame) -> np.ndarray:
        """The study window ``W = C - s·D`` of each row (``D`` clipped to its real range)."""
        w = self.window_
        d = pd.to_numeric(frame[w["entry"]], errors="coerce").to_numpy(dtype=float)
        d = np.clip(np.nan_to_num(d, nan=w["low"]), w["low"], w["high"])
        return np.maximum(w["end"] - w["scale"] * d, 0.0)

    def _gap(self, cell: Cell) -> bool:
        """Whether a cell models the gap to the window's end: a censoring value's cell, when
        the window says most censored rows reach the end."""
        if self.window_ is None or not self.window_.get("gap") or cell[1] is ANY:
            return False
        return category_key(cell[1]) not in {category_key(v) for v in self.pair_["event_values"]}

    def _windows(self, frame: pd.DataFrame) -> np.ndarray | None:
        """Each row's window, or None when the step has no study window."""
        return None if self.window_ is None else self._width(frame)

    @staticmethod
    def _scaled(t: np.ndarray, width: np.ndarray | None, gap: bool = False) -> np.ndarray:
        """What a cell's distribution is of: ``log1p T``; with windows ``width``, ``T / W`` (the
        share of the window used), or ``-log1p(W - T)`` for a gap cell (censored rows: how long
        before the close follow-up stopped, which hardly depends on the entry)."""
        t = np.maximum(t, 0.0)
        if width is None:
            return np.log1p(t)
        if gap:
            return -np.log1p(np.maximum(width - t, 0.0))
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(width > 0, np.minimum(t / width, 1.0), 1.0)

    def report(self) -> dict[str, Any]:
        return {"time": self.pair_["time"], "event": self.pair_["event"],
                "window": dict(self.window_) if self.window_ else None,
                "other_events": list(self.secondary_),
                "cells": [{"class": to_native(k), "event": to_native(e),
                           "rows": self.rows_[i] if self.rows_ else len(u),
                           **({} if d is ANY else {"entry": to_native(d)}),
                           **({} if s is ANY else {"other_events": _native(s)}),
                           "max": self.span_[i][1] if self.span_ else float(np.expm1(v[-1]))}
                          for i, ((k, e, d, s), v, u) in enumerate(zip(
                              self.cells_, self.values_, self.ranks_, strict=True))]}

    def get_state(self) -> tuple[dict[str, Any], Arrays]:
        self._check_fitted()
        meta = {"schema": self.schema_.to_dict(), "model_schema": self.model_schema_.to_dict(),
                "cells": [[to_native(k), to_native(e), to_native(d), _native(s)]
                          for k, e, d, s in self.cells_],
                "window": self.window_, "span": self.span_, "smoothing": self.smoothing,
                "rows": self.rows_, "other_events": self.secondary_}
        arrays = {f"values.{i}": v for i, v in enumerate(self.values_)}
        arrays.update({f"ranks.{i}": u for i, u in enumerate(self.ranks_)})
        return meta, arrays

    @classmethod
    def from_state(cls, meta: dict[str, Any], arrays: Arrays) -> SurvivalStep:
        step = cls(meta.get("smoothing", 0.0))  # older models: raw times
        step.schema_ = TableSchema.from_dict(meta["schema"])
        step.model_schema_ = TableSchema.from_dict(meta["model_schema"])
        step.pair_ = dict(primary_pair(step.schema_) or {})
        step.window_ = meta.get("window")  # None in models saved before study windows
        step.cells_ = [(cell[0], cell[1], cell[2] if len(cell) > 2 else ANY,  # older: 2 parts,
                        _combo(cell[3]) if len(cell) > 3 else ANY)  # or 3 (no other events)
                       for cell in meta["cells"]]
        step.secondary_ = list(meta.get("other_events") or [])
        step.values_ = [np.asarray(arrays[f"values.{i}"]) for i in range(len(step.cells_))]
        step.ranks_ = [np.asarray(arrays[f"ranks.{i}"]) for i in range(len(step.cells_))]
        step.span_ = [list(s) for s in meta.get("span") or []]  # absent before study windows
        step.rows_ = list(meta.get("rows") or [])  # absent before smoothing
        step._index()
        return step


def find_window(real: pd.DataFrame, schema: TableSchema, t: np.ndarray
                ) -> dict[str, Any] | None:
    """The study window ``s·D + T ≤ C`` the rows obey most tightly, or None (module doc).

    Candidates: every other numeric column ``D`` without missing values where ``T`` is known,
    with at least 3 distinct values, and every scale in :data:`WINDOW_SCALES`; ``C = max(s·D +
    T)``. A candidate qualifies when at least :data:`WINDOW_TIGHT` of the rows have ``T ≥ W -
    s·step_D`` (``step_D``: the smallest gap between ``D``'s values) and at least
    :data:`WINDOW_GAIN` have ``W < 0.9 max T``; the most tightly reached one is kept.
    """
    pair = primary_pair(schema) or {}
    ok = np.isfinite(t)
    if ok.sum() < MIN_CELL_ROWS:
        return None
    t_ok, best, best_tight = t[ok], None, WINDOW_TIGHT - 1e-12
    skip = {pair.get("time"), pair.get("event"), schema.target}
    for col in schema.columns:
        if col.name in skip or not col.is_numeric:
            continue
        d = pd.to_numeric(real[col.name], errors="coerce").to_numpy(dtype=float)[ok]
        values = np.unique(d)
        if np.isnan(d).any() or len(values) < 3:
            continue
        step = float(np.min(np.diff(values)))
        for scale in WINDOW_SCALES:
            end = float(np.max(scale * d + t_ok))
            width = end - scale * d
            tight = float(np.mean(t_ok >= width - scale * step))
            gain = float(np.mean(width < 0.9 * t_ok.max()))
            if tight > best_tight and gain >= WINDOW_GAIN:
                best_tight = tight
                best = {"entry": col.name, "scale": scale, "end": end, "step": scale * step,
                        "low": float(values[0]), "high": float(values[-1]),
                        "rows_at_end": tight}
    return best


def secondary_events(schema: TableSchema, pair: dict[str, Any],
                     pairs: list[dict[str, Any]] | None) -> list[str]:
    """The event columns of the other survival ``pairs`` that split the primary time's cells:
    categorical columns of ``schema``, neither the primary event nor the target (which split
    them already)."""
    out: list[str] = []
    for other in pairs or []:
        name = other["event"]
        if name in (pair["event"], schema.target, *out) or name not in schema.names \
                or not schema[name].categories:
            continue
        out.append(name)
    return out


def _row_combos(frame: pd.DataFrame, names: list[str]) -> list[Any]:
    """Each row's key of its values of ``names`` (``_key(ANY)`` when one is missing)."""
    if not names:
        return [_key(ANY)] * len(frame)
    columns = [frame[name].to_numpy() for name in names]
    return [_key(ANY) if any(_missing(v) for v in values)
            else tuple(category_key(v) for v in values) for values in zip(*columns, strict=True)]


def _combos(real: pd.DataFrame, names: list[str]) -> list[tuple[tuple[Any, ...], np.ndarray]]:
    """Each observed combination of the values of ``names`` with its rows (none missing)."""
    if not names:
        return []
    keys = _row_combos(real, names)
    firsts: dict[Any, tuple[Any, ...]] = {}
    for key, values in zip(keys, zip(*(real[n].to_numpy() for n in names), strict=True),
                           strict=True):
        if key != _key(ANY):
            firsts.setdefault(key, tuple(values))
    return [(combo, np.array([k == key for k in keys], dtype=bool))
            for key, combo in sorted(firsts.items(), key=lambda item: str(item[0]))]


def _native(combo: Any) -> Any:
    return None if combo is ANY else [to_native(v) for v in combo]


def _combo(saved: Any) -> Any:
    return ANY if saved is None else tuple(saved)


def _midranks(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Distinct sorted values and their mid-rank CDF positions ``(before + count/2) / m``."""
    v, counts = np.unique(values, return_counts=True)
    before = np.cumsum(counts) - counts
    return v, (before + counts / 2.0) / counts.sum()


def _missing(value: Any) -> bool:
    return value is None or (not isinstance(value, str) and bool(pd.isna(value)))


def _key(value: Any) -> Any:
    if value is ANY:
        return ("any",)
    if isinstance(value, tuple):  # a combination of other events' values
        return tuple(category_key(v) for v in value)
    return category_key(value)


def _in(series: pd.Series, values: list[Any]) -> np.ndarray:
    """Rows whose (non-missing) value is one of ``values``, compared by category key."""
    keys = {category_key(v) for v in values}
    return np.array([not _missing(v) and category_key(v) in keys for v in series], dtype=bool)


def _is(series: pd.Series, value: Any) -> np.ndarray:
    return _in(series, [value])
