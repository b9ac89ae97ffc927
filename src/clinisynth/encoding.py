"""Reversible encoding between a table and one numeric matrix, plus the class codes.

Encoding (per feature column, target excluded):

* numeric (continuous/integer): ``z = (x - mean) / std`` over observed values;
* binary/categorical: one-hot over the schema's categories;
* any column with gaps: one extra 0/1 missing indicator; the gap itself is filled by a hot-deck
  draw from the observed values of the same class, so the value block keeps the class marginal;
  then (``gap_fill="matched"``, the default) a numeric gap is drawn again by predictive mean
  matching (:mod:`clinisynth.gap_fill`): the observed value of a row of its class whose
  predicted value, given the row's other columns, is close to its own. A random donor would
  leave the filled cell unrelated to the rest of the row, and the generators, which learn from
  the filled rows, would weaken the correlations the observed cells show.

Decoding inverts this: ``x = z * std + mean``, rounded for integers and clipped to the schema's
``[min, max]``; the arg-max of a one-hot block picks the category (so only observed categories
appear), or, with ``quotas``, each class's rows (when a batch holds at least
:data:`QUOTA_MIN_ROWS` of them) are shared among the categories in the real
class's proportions ``p_kc`` (``n_k·p_kc`` rows each, largest remainders rounded), each row
taking the highest-scoring category with room left (:func:`quota_codes`), so the per-class
category shares are the real ones while which rows take which category stays tied to the
other features; within each class, the ``round(rate_c * n_c)`` rows with the highest
missing-indicator score become missing, which reproduces each column's per-class missing rate
exactly in the same way. Constant columns are never modelled: they are
re-emitted as their single value. Dtypes are restored from the schema.

Forbidden combinations (:meth:`TableEncoder.forbid`, the rules step's
``forbidden_combination`` rules over one-hot columns): the blocks are decoded in order, and a
category that would complete a forbidden combination with the categories already decoded on a
row has :data:`FORBIDDEN_PENALTY` taken off its score there. The quotas then give it to the
rows where it is allowed (``stroke = 1`` to rows whose ``cvd`` is 1, when ``stroke = 1, cvd =
0`` is never seen), and a row takes it only if no allowed category has room. Decoding each
block on its own would pair the categories at random wherever the scores disagree. The rules
step would then refuse those rows, and their redraws would favour the commoner categories.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import pandas as pd

from clinisynth.errors import ClinisynthError, NotFittedError
from clinisynth.gap_fill import MatchedFill
from clinisynth.schema import ColumnSchema, TableSchema, category_key, sorted_categories
from clinisynth.values import apportion

NUMERIC, ONEHOT, MISSING = "numeric", "onehot", "missing"
#: how numeric gaps are filled before the generators learn the rows (module doc)
GAP_FILLS = ("matched", "hot_deck")
#: fewest rows of a class in a batch for its categories to be decoded in the real shares
QUOTA_MIN_ROWS = 100
#: subtracted from a category's score on rows where taking it would complete a forbidden
#: combination: such a row takes it only when no other category has room left
FORBIDDEN_PENALTY = 1e6


@dataclass(frozen=True)
class Block:
    """A slice ``[start, stop)`` of the encoded matrix that belongs to one column."""

    column: str
    kind: str  # NUMERIC, ONEHOT or MISSING
    start: int
    stop: int

    @property
    def width(self) -> int:
        return self.stop - self.start


class TableEncoder:
    """Fit once on the training table; ``transform`` to a matrix, ``inverse_transform`` back."""

    def __init__(self, schema: TableSchema, quotas: bool = False,
                 gap_fill: str = "matched") -> None:
        if gap_fill not in GAP_FILLS:
            raise ClinisynthError(f"gap_fill: {gap_fill!r} is not one of {', '.join(GAP_FILLS)}")
        self.schema = schema
        #: decode categories to the real per-class shares (:func:`quota_codes`), not arg-max
        self.quotas = quotas
        self.gap_fill = gap_fill

    # -- fitting ------------------------------------------------------------------------------
    def fit(self, df: pd.DataFrame) -> TableEncoder:
        schema = self.schema
        y = self.encode_target(df[schema.target])
        n_classes = len(schema.classes)
        blocks: list[Block] = []
        stats: dict[str, dict[str, float]] = {}
        missing: dict[str, list[float]] = {}
        shares: dict[str, list[list[float]]] = {}
        pos = 0
        for col in schema.features:
            series = df[col.name]
            if not col.is_constant:
                if col.is_numeric:
                    vals = series.astype(float).dropna().to_numpy()
                    std = float(vals.std()) if len(vals) > 1 else 0.0
                    stats[col.name] = {"mean": float(vals.mean()), "std": std if std > 0 else 1.0}
                    blocks.append(Block(col.name, NUMERIC, pos, pos + 1))
                    pos += 1
                else:
                    width = len(col.categories or [])
                    blocks.append(Block(col.name, ONEHOT, pos, pos + width))
                    if self.quotas:
                        shares[col.name] = _class_shares(
                            self._category_codes(series, col), y, n_classes, width)
                    pos += width
            isna = series.isna().to_numpy()
            if isna.any():
                missing[col.name] = [float(isna[y == k].mean()) if (y == k).any() else 0.0
                                     for k in range(n_classes)]
                blocks.append(Block(col.name, MISSING, pos, pos + 1))
                pos += 1
        self.blocks_ = blocks
        self.stats_ = stats
        self.missing_rates_ = missing
        self.shares_ = shares
        self.forbidden_: list[list[tuple[str, int]]] = []
        self.n_features_ = pos
        self.fill_ = None
        gaps = self._numeric_gaps(df) if self.gap_fill == "matched" else {}
        if gaps:
            self.fill_ = MatchedFill.fit(self._encode(df, y, None), gaps, self._left_out(gaps),
                                         y, n_classes)
        return self

    def _numeric_gaps(self, df: pd.DataFrame) -> dict[int, np.ndarray]:
        """Per numeric column with a gap in ``df``: its position in the matrix and the gaps."""
        out = {}
        for block in self.blocks_:
            if block.kind == NUMERIC:
                isna = df[block.column].isna().to_numpy()
                if isna.any():
                    out[block.start] = isna
        return out

    def _left_out(self, gaps: dict[int, np.ndarray]) -> dict[int, list[int]]:
        """The matrix columns left out of each gappy column's regression: its own value and
        every missing indicator (an indicator is constant on the observed rows the regression
        learns from, so its weight would rest on a handful of rows and throw the gaps'
        predictions, hence their donors, to one end)."""
        indicators = [b.start for b in self.blocks_ if b.kind == MISSING]
        return {i: [i, *indicators] for i in gaps}

    def _check_fitted(self) -> None:
        if not hasattr(self, "blocks_"):
            raise NotFittedError("the encoder is not fitted; call fit first")

    # -- target -------------------------------------------------------------------------------
    def encode_target(self, series: pd.Series) -> np.ndarray:
        """Class labels to integer codes ``0..K-1`` in the schema's class order."""
        codes = category_codes(series, self.schema.classes)
        bad = codes < 0
        if bad.any():
            value = series.to_numpy()[np.flatnonzero(bad)[0]]
            raise ClinisynthError(f"target '{self.schema.target}': {value!r} is not one of the "
                                  "classes seen in fit")
        return codes.astype(np.int64)

    def class_index(self, label: Any) -> int:
        keys = [category_key(c) for c in self.schema.classes]
        try:
            return keys.index(category_key(label))
        except ValueError:
            known = ", ".join(map(str, self.schema.classes))
            raise KeyError(
                f"unknown class {label!r} for target '{self.schema.target}'; known: {known}"
            ) from None

    # -- forward ------------------------------------------------------------------------------
    def transform(self, df: pd.DataFrame, rng: np.random.Generator
                  ) -> tuple[np.ndarray, np.ndarray]:
        """Encode ``df`` into ``(X, y)``; gaps are filled within class using ``rng`` (a
        hot-deck draw, then numeric gaps by matching: module doc)."""
        self._check_fitted()
        y = self.encode_target(df[self.schema.target])
        X = self._encode(df, y, rng)
        if self.fill_ is not None:
            gaps = self._numeric_gaps(df)
            if gaps:
                X = self.fill_.fill(X, gaps, y, rng)
        return X, y

    def _encode(self, df: pd.DataFrame, y: np.ndarray, rng: np.random.Generator | None
                ) -> np.ndarray:
        """The matrix, gaps hot-deck filled within class from ``rng``; without ``rng``, a
        numeric gap holds its class mean and a categorical one no category (zeros)."""
        X = np.zeros((len(df), self.n_features_), dtype=np.float64)
        for block in self.blocks_:
            col = self.schema[block.column]
            series = df[block.column]
            if block.kind == MISSING:
                X[:, block.start] = series.isna().to_numpy(dtype=float)
            elif block.kind == NUMERIC:
                values = _class_fill(series.astype(float).to_numpy(), y, rng)
                s = self.stats_[col.name]
                X[:, block.start] = (values - s["mean"]) / s["std"]
            else:
                codes = self._category_codes(series, col)
                if rng is not None:  # without it a gap is no category (zeros)
                    codes = _class_fill(codes, y, rng)
                seen = np.flatnonzero(np.isfinite(codes))
                X[seen, block.start + codes[seen].astype(np.int64)] = 1.0
        return X

    @staticmethod
    def _category_codes(series: pd.Series, col: ColumnSchema) -> np.ndarray:
        """Category index of each cell as float; NaN where the cell is missing."""
        codes = category_codes(series, col.categories or [])
        if (codes == UNSEEN).any():
            value = series.to_numpy()[np.flatnonzero(codes == UNSEEN)[0]]
            raise ClinisynthError(f"column '{col.name}': {value!r} is not a category seen in fit")
        out = codes.astype(float)
        out[codes == MISSING_CODE] = np.nan
        return out

    def forbid(self, combinations: list[dict[str, Any]]) -> TableEncoder:
        """Category combinations (``{column: value}``, values never seen together) that
        decoding avoids: a combination over one-hot columns whose values are all categories is
        kept as category codes; the others are left to the rules' check."""
        self._check_fitted()
        onehot = {b.column for b in self.blocks_ if b.kind == ONEHOT}
        kept = []
        for combination in combinations:
            if len(combination) < 2 or not set(combination) <= onehot:
                continue
            codes = [(name, int(category_codes(pd.Series([value], dtype=object),
                                               self.schema[name].categories or [])[0]))
                     for name, value in combination.items()]
            if all(code >= 0 for _, code in codes):
                kept.append(codes)
        self.forbidden_ = kept
        return self

    def _penalised(self, column: str, part: np.ndarray, codes: dict[str, np.ndarray]
                   ) -> np.ndarray:
        """``part`` (a one-hot block's scores) with :data:`FORBIDDEN_PENALTY` taken off each
        category on the rows where the columns decoded before it (``codes``) hold the rest of a
        forbidden combination with it."""
        out = part
        for combination in self.forbidden_:
            mine = [code for name, code in combination if name == column]
            others = [(name, code) for name, code in combination if name != column]
            if len(mine) != 1 or not all(name in codes for name, _ in others):
                continue
            rows = np.ones(len(part), dtype=bool)
            for name, code in others:
                rows &= codes[name] == code
            if rows.any():
                if out is part:
                    out = part.copy()
                out[rows, mine[0]] -= FORBIDDEN_PENALTY
        return out

    # -- backward -----------------------------------------------------------------------------
    def inverse_transform(self, X: np.ndarray, y: np.ndarray,
                          missing: dict[str, np.ndarray] | None = None,
                          codes: dict[str, np.ndarray] | None = None) -> pd.DataFrame:
        """Decode a matrix and class codes into a DataFrame with the schema's columns and dtypes.

        ``missing`` gives the cells to blank per column with gaps (default
        :meth:`missing_masks` of this batch); ``codes`` the category of each row per one-hot
        column (default :meth:`decoded_categories`).
        """
        self._check_fitted()
        if codes is None:
            codes = self.decoded_categories(X, y)
        n = len(X)
        out: dict[str, Any] = {}
        missing_masks: dict[str, np.ndarray] = {}
        for block in self.blocks_:
            col = self.schema[block.column]
            part = X[:, block.start:block.stop]
            if block.kind == MISSING:
                missing_masks[col.name] = (missing[col.name] if missing is not None
                                           else self._missing_mask(part[:, 0], y, col.name))
            elif block.kind == NUMERIC:
                s = self.stats_[col.name]
                values = part[:, 0] * s["std"] + s["mean"]
                if col.kind == "integer":
                    values = np.rint(values)
                out[col.name] = np.clip(values, col.min, col.max)
            else:
                cats = np.array(col.categories, dtype=object)
                out[col.name] = cats[codes[col.name]]
        target_cats = np.array(self.schema.classes, dtype=object)
        columns = {}
        for col in self.schema.columns:
            if col.name == self.schema.target:
                values = target_cats[y]
            elif col.name in out:
                values = out[col.name]
            else:  # constant column
                value = col.min if col.is_numeric else (col.categories or [None])[0]
                values = np.full(n, value, dtype=object)
            series = pd.Series(values, name=col.name)
            if col.name in missing_masks:
                series = series.astype(object)
                series[missing_masks[col.name]] = np.nan
            columns[col.name] = restore_dtype(series, col)
        return pd.DataFrame(columns)

    def missing_masks(self, X: np.ndarray, y: np.ndarray,
                      counts: dict[str, np.ndarray] | None = None) -> dict[str, np.ndarray]:
        """The cells decoded as missing, per column with gaps: within class ``k``, the
        ``round(rate_kc * n_k)`` rows (or ``counts[c][k]``) with the highest indicator score.

        Given ``counts``, a redrawn subset of a batch keeps the batch's exact missing counts.
        """
        self._check_fitted()
        return {block.column: self._missing_mask(
                    X[:, block.start], y, block.column,
                    None if counts is None else counts[block.column])
                for block in self.blocks_ if block.kind == MISSING}

    def decoded_categories(self, X: np.ndarray, y: np.ndarray,
                           counts: dict[str, np.ndarray] | None = None
                           ) -> dict[str, np.ndarray]:
        """The category index of each row, per one-hot column: the arg-max of its block, or
        with ``quotas`` :func:`quota_codes` per class, the real shares of the class times its
        rows, for a class with at least :data:`QUOTA_MIN_ROWS` rows (fewer: arg-max, as a
        rounded share of a handful of rows would hand every row the commonest category).
        ``counts[column][k]`` (classes × categories, summing to each class's rows) gives the
        rows each category takes instead, at any size: a redraw keeps the categories of the
        rows it replaces."""
        out: dict[str, np.ndarray] = {}
        for block in self.blocks_:
            if block.kind != ONEHOT:
                continue
            part = self._penalised(block.column, X[:, block.start:block.stop], out)
            codes = np.argmax(part, axis=1)
            given = None if counts is None else counts.get(block.column)
            for k, share in enumerate(self.shares_.get(block.column, ())):
                rows = np.flatnonzero(y == k)
                if given is not None:
                    codes[rows] = quota_codes(part[rows], given[k])
                elif len(rows) >= QUOTA_MIN_ROWS:
                    codes[rows] = quota_codes(part[rows], apportion(len(rows), np.asarray(share)))
            out[block.column] = codes
        return out

    def category_counts(self, codes: dict[str, np.ndarray], y: np.ndarray
                        ) -> dict[str, np.ndarray]:
        """Rows per class and category (classes × categories) of decoded ``codes``."""
        classes = len(self.schema.classes)
        out = {}
        for block in self.blocks_:
            if block.kind == ONEHOT:
                out[block.column] = np.bincount(
                    y * block.width + codes[block.column], minlength=classes * block.width
                ).reshape(classes, block.width)
        return out

    def _missing_mask(self, score: np.ndarray, y: np.ndarray, name: str,
                      counts: np.ndarray | None = None) -> np.ndarray:
        mask = np.zeros(len(score), dtype=bool)
        for k, rate in enumerate(self.missing_rates_[name]):
            rows = np.flatnonzero(y == k)
            n_missing = int(round(rate * len(rows))) if counts is None else int(counts[k])
            if n_missing:
                order = np.argsort(-score[rows], kind="stable")
                mask[rows[order[:n_missing]]] = True
        return mask

    # -- persistence --------------------------------------------------------------------------
    def get_state(self) -> dict[str, Any]:
        self._check_fitted()
        return {"blocks": [asdict(b) for b in self.blocks_], "stats": self.stats_,
                "missing_rates": self.missing_rates_, "n_features": self.n_features_,
                "shares": self.shares_, "quotas": self.quotas, "gap_fill": self.gap_fill,
                "forbidden": [[list(pair) for pair in c] for c in self.forbidden_],
                "fill": None if self.fill_ is None else self.fill_.to_dict()}

    @classmethod
    def from_state(cls, schema: TableSchema, state: dict[str, Any]) -> TableEncoder:
        # older models: arg-max categories, hot-deck gaps
        enc = cls(schema, bool(state.get("quotas", False)), state.get("gap_fill", "hot_deck"))
        fill = state.get("fill")
        enc.fill_ = None if fill is None else MatchedFill.from_dict(fill)
        enc.shares_ = state.get("shares") or {}
        enc.forbidden_ = [[(name, int(code)) for name, code in c]  # older models: none
                          for c in state.get("forbidden") or []]
        enc.blocks_ = [Block(**b) for b in state["blocks"]]
        enc.stats_ = state["stats"]
        enc.missing_rates_ = state["missing_rates"]
        enc.n_features_ = int(state["n_features"])
        return enc


def quota_codes(scores: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Assign each row (of ``scores``, rows × categories) one category, ``counts[c]`` rows
    to category ``c`` (``sum(counts)`` = rows): in rounds, every unassigned row proposes its
    highest-scoring category that has room; a category proposed by more rows than it has room
    for takes those with the highest scores (ties by row order) and is then full. At most one
    round per category; with two categories, the ``counts[1]`` rows of highest margin
    ``s_1 - s_0`` take category 1."""
    n, width = scores.shape
    counts = np.asarray(counts, dtype=np.int64)
    if width == 1 or n == 0:
        return np.zeros(n, dtype=np.int64)
    if width == 2:
        out = np.zeros(n, dtype=np.int64)
        order = np.argsort(-(scores[:, 1] - scores[:, 0]), kind="stable")
        out[order[:counts[1]]] = 1
        return out
    out = np.full(n, -1, dtype=np.int64)
    room = counts.copy()
    masked = np.where(room > 0, scores, -np.inf)
    while (out < 0).any():
        free = np.flatnonzero(out < 0)
        choice = np.argmax(masked[free], axis=1)
        for c in np.unique(choice):
            rows = free[choice == c]
            if len(rows) > room[c]:
                rows = rows[np.argsort(-scores[rows, c], kind="stable")[:room[c]]]
            out[rows] = c
            room[c] -= len(rows)
            if room[c] == 0:
                masked[:, c] = -np.inf
    return out


def _class_shares(codes: np.ndarray, y: np.ndarray, n_classes: int, width: int
                  ) -> list[list[float]]:
    """Each class's share of each category among its rows with a value (the column's overall
    shares for a class without one)."""
    seen = np.isfinite(codes)
    overall = np.bincount(codes[seen].astype(np.int64), minlength=width).astype(float)
    out = []
    for k in range(n_classes):
        rows = seen & (y == k)
        counts = np.bincount(codes[rows].astype(np.int64), minlength=width).astype(float)
        base = counts if counts.sum() > 0 else overall
        out.append((base / max(base.sum(), 1.0)).tolist())
    return out


#: codes :func:`category_codes` gives a missing cell and a value outside the categories
MISSING_CODE, UNSEEN = -1, -2


def category_codes(values: pd.Series | np.ndarray | list, categories: Any) -> np.ndarray:
    """Index of each value in ``categories``, compared by :func:`~clinisynth.schema.category_key`
    (so ``1``, ``1.0`` and ``np.int64(1)`` are one category, ``True`` another); ``MISSING_CODE``
    for a missing cell, ``UNSEEN`` for a value not among ``categories``.

    Vectorised: the column is factorised once (pandas' hash table), and ``category_key`` runs
    per distinct value, not per cell. pandas' hashing merges ``True`` with ``1`` (and ``False``
    with ``0``), which ``category_key`` keeps apart, so an object column holding both bools and
    other values falls back to comparing cell by cell.
    """
    series = values if isinstance(values, pd.Series) else pd.Series(values, dtype=object)
    index = {category_key(c): i for i, c in enumerate(categories)}
    if series.dtype == object and _mixes_bools(series):
        cells = series.to_numpy(dtype=object)
        return np.array([MISSING_CODE if pd.isna(v) else index.get(category_key(v), UNSEEN)
                         for v in cells], dtype=np.int64)
    codes, uniques = pd.factorize(series, use_na_sentinel=True)
    lookup = np.array([index.get(category_key(u), UNSEEN) for u in uniques] + [MISSING_CODE],
                      dtype=np.int64)
    return lookup[codes]  # code -1 (missing) picks the appended MISSING_CODE


_PURE = {"string", "bytes", "integer", "floating", "mixed-integer-float", "decimal", "boolean",
         "empty", "categorical"}


def _mixes_bools(series: pd.Series) -> bool:
    """Whether an object column holds bools next to other non-missing values."""
    if pd.api.types.infer_dtype(series, skipna=True) in _PURE:
        return False
    is_bool = series.map(lambda v: isinstance(v, bool | np.bool_)).to_numpy(dtype=bool)
    if not is_bool.any():
        return False
    return bool((~is_bool & series.notna().to_numpy()).any())


def _class_fill(values: np.ndarray, y: np.ndarray, rng: np.random.Generator | None
                ) -> np.ndarray:
    """Fill NaNs from the observed values of the same class (of any class if the class has
    none): a random one each (hot-deck) with ``rng``, their mean without."""
    values = values.astype(float).copy()
    gaps = np.isnan(values)
    if not gaps.any():
        return values
    for k in np.unique(y[gaps]):
        in_class = y == k
        donors = values[in_class & ~gaps]
        if donors.size == 0:
            donors = values[~gaps]
        holes = np.flatnonzero(in_class & gaps)
        values[holes] = rng.choice(donors, size=holes.size) if rng is not None else donors.mean()
    return values


def restore_dtype(series: pd.Series, col: ColumnSchema) -> pd.Series:
    """Cast decoded values back to the column's original dtype (float if ints meet gaps)."""
    dtype = col.dtype
    has_gaps = bool(series.isna().any())
    try:
        if has_gaps and pd.api.types.is_integer_dtype(np.dtype(dtype)):
            return series.astype("float64")
    except TypeError:
        pass  # extension dtypes ('Int64', 'str', 'category') hold gaps themselves
    if str(dtype) == "category" and col.categories:  # every batch: the schema's categories
        dtype = pd.CategoricalDtype(sorted_categories(col.categories))
    try:
        return series.astype(dtype)
    except (TypeError, ValueError):
        return series.infer_objects()
