"""The roles step: identifiers, dates and free text in and out of the model table.

:class:`RolesStep` is the first step of the pipeline (a table step). What it does per column
role (see :mod:`clinisynth.schema` for the roles, :mod:`clinisynth.schema.roles` for how they
are inferred):

``identifier``
    dropped from the model table. ``inverse_transform`` writes fresh values of the real shape,
    one character longer than the longest real value, so no synthetic identifier can equal a
    real one and nothing of the real values is stored (no value, no hash: a hash of a 6-digit
    MRN is reversed by trying the 10^6 candidates). Text keys keep the real common prefix and
    suffix and the middle's character shape (digits stay digits, upper/lower letters stay
    letters, other characters are kept), each shape padded with its last character class to
    the longer length and drawn by the real shapes' frequencies (``MRN031676`` -> ``MRN`` + 7
    random digits); integer keys get one more digit than the longest real one, and enough
    digits to leave at least ``ID_SPACE_FACTOR`` times the real count (row numbers 1..189
    become 5-digit keys). :meth:`RolesStep.exclude_identifiers` lengthens them past other real
    identifiers (held-out patients'). Values are distinct within a chunk where the shape leaves
    room. With ``strategy: "drop"`` the column is left out of the output.
``datetime``
    parsed (schema ``format``, or the datetime dtype) and modelled as the number of days from
    the earliest real date (an ``integer`` column), or of seconds when any value has a time of
    day. Pairs of dates always ordered in the real data (``admission <= discharge`` on every
    row where both are present, and the earlier present wherever the later is) are modelled
    as the earlier date plus a non-negative gap, so synthetic pairs keep the order; each later
    date is anchored on the latest such earlier date. Written back in the input's format
    (text in the same strftime format, or the datetime dtype). A synthetic row whose anchor is
    missing gets a missing later date.
``text``
    free text is never modelled nor copied: dropped from the model table (a one-line warning
    at fit) and written back as missing.

Other columns pass through unchanged. The model table's date columns have role
``quasi_identifier``, so the privacy guard matches on them.
"""

from __future__ import annotations

import warnings
from dataclasses import replace
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from clinisynth.errors import ClinisynthError
from clinisynth.schema import ColumnSchema, TableSchema, infer_schema
from clinisynth.schema.dates import parse_dates
from clinisynth.steps.base import Arrays, TableStep

#: integer identifiers get enough digits to leave this many times the real count free
ID_SPACE_FACTOR = 20
#: redraw rounds for identifiers that hit a real value (or repeat within the chunk)
ID_ROUNDS = 50
_SECOND = np.timedelta64(1, "s")
_DAY = np.timedelta64(1, "D")


def _id_text(value: Any) -> str:
    """Canonical text of an identifier: integers without a trailing ``.0``."""
    if isinstance(value, float | np.floating) and float(value).is_integer():
        return str(int(value))
    return str(value)


class RolesStep(TableStep):
    """Identifiers regenerated, dates as numbers (pairs kept in order), free text dropped."""

    name: ClassVar[str] = "roles"
    reads: ClassVar[str] = ("every row, before any subsample: a hash of each identifier and the "
                            "shape of the identifiers (common prefix and suffix, digit shapes), "
                            "each date column's format, origin and range, which dates always "
                            "follow which")
    builds_record: ClassVar[bool] = True

    # -- fit ----------------------------------------------------------------------------------
    def fit_table(self, real: pd.DataFrame, schema: TableSchema) -> RolesStep:
        self.schema_ = schema
        self.plans_: dict[str, dict[str, Any]] = {}
        parsed: dict[str, pd.Series] = {}
        for col in schema.columns:
            if col.role == "identifier":
                self.plans_[col.name] = self._fit_identifier(real[col.name], col)
            elif col.role == "text":
                self.plans_[col.name] = {"role": "text"}
                warnings.warn(f"column '{col.name}' is free text: dropped from generation and "
                              "written as missing (never copied)", UserWarning, stacklevel=3)
            elif col.role == "datetime":
                dates = parse_dates(real[col.name], col.format, col.name)
                parsed[col.name] = dates
                observed = dates.dropna()
                if observed.empty:
                    raise ClinisynthError(f"datetime column '{col.name}' has no dates")
                has_time = bool((observed != observed.dt.normalize()).any())
                self.plans_[col.name] = {
                    "role": "datetime", "format": col.format, "anchor": None,
                    "unit": "s" if has_time else "D",
                    "origin": observed.min().normalize().isoformat()}
        self._pair_dates(parsed)
        for name, dates in parsed.items():  # the real range, to keep anchored dates within it
            observed = dates.dropna()
            self.plans_[name]["range"] = [observed.min().isoformat(), observed.max().isoformat()]
        self.model_schema_ = self._model_schema(real)
        return self

    def exclude_identifiers(self, frame: pd.DataFrame) -> RolesStep:
        """Also keep regenerated identifiers clear of ``frame``'s (e.g. held-out real rows): the
        synthetic ones get longer than any of them."""
        self._check_fitted()
        for name, plan in self.plans_.items():
            if plan["role"] == "identifier" and name in frame.columns:
                texts = [_id_text(v) for v in frame[name].dropna()]
                if texts:
                    _lengthen(plan, max(len(t) for t in texts))
        return self

    def _fit_identifier(self, series: pd.Series, col: ColumnSchema) -> dict[str, Any]:
        texts = [_id_text(v) for v in series.dropna()]
        plan: dict[str, Any] = {"role": "identifier", "strategy": col.strategy or "regenerate"}
        longest = max((len(t) for t in texts), default=1)
        if pd.api.types.is_numeric_dtype(series.dtype):
            need = ID_SPACE_FACTOR * max(len(texts), 1)
            least = next(d for d in range(1, 19) if 9 * 10 ** (d - 1) >= need)
            plan.update(kind="integer", length=least)
        else:
            prefix = _common_prefix(texts)
            suffix = _common_prefix([t[len(prefix):][::-1] for t in texts])[::-1]
            middles = [t[len(prefix):len(t) - len(suffix)] for t in texts]
            shapes = pd.Series([_shape(m) for m in middles]).value_counts(normalize=True)
            if (shapes.index == "").any():
                raise ClinisynthError(f"identifier column '{col.name}': values have no varying "
                                      "part to regenerate; set its strategy to 'drop'")
            plan.update(kind="text", prefix=prefix, suffix=suffix, length=1,
                        shapes={str(s): float(p) for s, p in shapes.items()})
        _lengthen(plan, longest)
        warnings.warn(f"column '{col.name}' is an identifier: regenerated, never copied (set its "
                      "role in the schema to change this)", UserWarning, stacklevel=4)
        return plan

    def _pair_dates(self, parsed: dict[str, pd.Series]) -> None:
        """Anchor each later date on the latest earlier date it always follows."""
        order = sorted(parsed, key=lambda c: parsed[c].dropna().median())
        for i, later in enumerate(order):
            b = parsed[later]
            best, best_median = None, None
            for earlier in order[:i]:
                a = parsed[earlier]
                both = a.notna() & b.notna()
                if not both.any() or (b.notna() & a.isna()).any():
                    continue
                if (b[both] >= a[both]).all():
                    median = a.dropna().median()
                    if best_median is None or median > best_median:
                        best, best_median = earlier, median
            self.plans_[later]["anchor"] = best

    def _model_schema(self, real: pd.DataFrame) -> TableSchema:
        model = self.transform_table(real)
        columns = []
        for col in self.schema_.columns:
            if col.name not in model.columns:
                continue
            if col.role != "datetime":
                columns.append(col)
                continue
            values = model[col.name].dropna().to_numpy()
            whole = bool(np.all(np.mod(values, 1.0) == 0.0))
            columns.append(ColumnSchema(
                name=col.name, kind="integer" if whole else "continuous",
                dtype="int64" if whole else "float64", min=float(values.min()),
                max=float(values.max()), missing_rate=float(model[col.name].isna().mean()),
                role="quasi_identifier"))
        return replace(self.schema_, columns=columns)

    # -- transform ----------------------------------------------------------------------------
    def transform_table(self, frame: pd.DataFrame) -> pd.DataFrame:
        """Drop identifiers and text; dates become numbers (later dates of a pair: the gap)."""
        out = {}
        absolute: dict[str, np.ndarray] = {}
        for col in self.schema_.columns:
            plan = self.plans_.get(col.name)
            if plan is None:
                out[col.name] = frame[col.name]
            elif plan["role"] == "datetime":
                dates = parse_dates(frame[col.name], plan["format"], col.name)
                absolute[col.name] = dates.to_numpy()
        for name, dates in absolute.items():
            plan = self.plans_[name]
            unit = _SECOND if plan["unit"] == "s" else _DAY
            start = absolute[plan["anchor"]] if plan["anchor"] else np.datetime64(plan["origin"])
            out[name] = pd.Series((dates - start) / unit, index=frame.index, dtype="float64")
        order = [c.name for c in self.schema_.columns if c.name in out]
        return pd.DataFrame({c: out[c] for c in order}, index=frame.index)

    def inverse_table(self, frame: pd.DataFrame, rng: np.random.Generator) -> pd.DataFrame:
        """Model table -> the user's columns, order and dtypes (see the module docstring)."""
        self._check_fitted()
        n = len(frame)
        dates: dict[str, np.ndarray] = {}
        for name in self._date_order():
            plan = self.plans_[name]
            unit = _SECOND if plan["unit"] == "s" else _DAY
            values = frame[name].to_numpy(dtype=float)
            start = dates[plan["anchor"]] if plan["anchor"] else np.datetime64(plan["origin"])
            gap = np.where(np.isnan(values), 0.0, values)
            steps = np.rint(gap * (unit / _SECOND)).astype("int64") * _SECOND
            out = (start + steps).astype("datetime64[ns]")
            if plan["anchor"]:  # within the real range; order kept (anchor <= real max)
                low, high = (np.datetime64(v, "ns") for v in plan["range"])
                out = np.where(np.isnat(out), out, np.clip(out, low, high))
            out[np.isnan(values)] = np.datetime64("NaT")
            dates[name] = out
        columns = {}
        for col in self.schema_.columns:
            plan = self.plans_.get(col.name)
            if plan is None:
                columns[col.name] = frame[col.name].reset_index(drop=True)
            elif plan["role"] == "datetime":
                columns[col.name] = write_dates(dates[col.name], plan["format"], col)
            elif plan["role"] == "text":
                columns[col.name] = _cast(pd.Series([np.nan] * n, dtype=object), col.dtype)
            elif plan["strategy"] == "regenerate":
                columns[col.name] = self._regenerate(col, n, rng)
        return pd.DataFrame(columns)

    def _date_order(self) -> list[str]:
        """Date columns, anchors before the dates anchored on them."""
        done: list[str] = []
        pending = [n for n, p in self.plans_.items() if p["role"] == "datetime"]
        while pending:
            for name in list(pending):
                anchor = self.plans_[name]["anchor"]
                if anchor is None or anchor in done:
                    done.append(name)
                    pending.remove(name)
        return done

    def _regenerate(self, col: ColumnSchema, n: int, rng: np.random.Generator) -> pd.Series:
        """Identifiers longer than every real one (so never a real one), distinct within the
        chunk where the shape leaves room (repeats redrawn for at most ``ID_ROUNDS`` rounds)."""
        plan = self.plans_[col.name]
        values = self._draw_ids(plan, n, rng)
        for _ in range(ID_ROUNDS):
            _, first = np.unique(values.astype(str), return_index=True)
            redo = np.ones(n, dtype=bool)
            redo[first] = False
            if not redo.any():
                break
            values[redo] = self._draw_ids(plan, int(redo.sum()), rng)
        series = pd.Series(values, dtype=object)
        if col.missing_rate > 0:
            series[rng.random(n) < col.missing_rate] = np.nan
        if plan["kind"] == "integer":
            series = pd.to_numeric(series)
        return _cast(series, col.dtype)

    @staticmethod
    def _draw_ids(plan: dict[str, Any], n: int, rng: np.random.Generator) -> np.ndarray:
        if plan["kind"] == "integer":
            d = int(plan["length"])
            return np.array([int(v) for v in rng.integers(10 ** (d - 1), 10 ** d, size=n)],
                            dtype=object)
        shapes = list(plan["shapes"])
        p = np.array(list(plan["shapes"].values()))
        pick = rng.choice(len(shapes), size=n, p=p / p.sum())
        out = np.empty(n, dtype=object)
        for i, shape in enumerate(shapes):
            rows = np.flatnonzero(pick == i)
            if rows.size:
                middles = _fill_shape(_padded(shape, int(plan["length"])), rows.size, rng)
                out[rows] = [plan["prefix"] + m + plan["suffix"] for m in middles]
        return out

    # -- reporting and persistence ------------------------------------------------------------
    def report(self) -> dict[str, Any]:
        by_role: dict[str, list[str]] = {}
        for name, plan in self.plans_.items():
            by_role.setdefault(plan["role"], []).append(name)
        pairs = {n: p["anchor"] for n, p in self.plans_.items() if p.get("anchor")}
        return {**by_role, "ordered_date_pairs": pairs}

    def get_state(self) -> tuple[dict[str, Any], Arrays]:
        self._check_fitted()
        meta = {"schema": self.schema_.to_dict(), "model_schema": self.model_schema_.to_dict(),
                "plans": self.plans_}
        return meta, {}

    @classmethod
    def from_state(cls, meta: dict[str, Any], arrays: Arrays) -> RolesStep:
        step = cls()
        step.schema_ = TableSchema.from_dict(meta["schema"])
        step.model_schema_ = TableSchema.from_dict(meta["model_schema"])
        step.plans_ = meta["plans"]
        return step



def model_view(frames: list[pd.DataFrame], target: str, schema: TableSchema | None = None
               ) -> tuple[list[pd.DataFrame], TableSchema]:
    """The tables as the models see them, for scoring: a roles step fitted on ``frames[0]``
    (the training rows; ``schema`` inferred from them if not given) transforms every frame
    (identifiers and text left out, dates as numbers). Returns the frames and their schema."""
    if schema is None:
        if target not in frames[0].columns:
            raise ClinisynthError(f"target column '{target}' is missing from train")
        schema = infer_schema(frames[0], target)
    schema.validate(frames[0])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # the text warning is for generation
        step = RolesStep().fit_table(frames[0], schema)
    if not step.plans_:
        return frames, schema
    out = []
    for frame in frames:
        missing = [c for c in schema.names if c not in frame.columns]
        if missing:
            raise ClinisynthError(f"column '{missing[0]}' is in train but not in another table")
        out.append(step.transform_table(frame))
    return out, step.model_schema_


def _lengthen(plan: dict[str, Any], longest: int) -> None:
    """Make regenerated values of ``plan`` longer than ``longest`` characters (a real value's
    length): integers get more digits, text keys a longer middle."""
    if plan["kind"] == "integer":
        plan["length"] = max(int(plan["length"]), longest + 1)
    else:
        fixed = len(plan["prefix"]) + len(plan["suffix"])
        plan["length"] = max(int(plan["length"]), longest + 1 - fixed,
                             max(len(s) for s in plan["shapes"]))


def _padded(shape: str, length: int) -> str:
    """``shape`` padded to ``length`` with its last character class (a digit if none)."""
    last = next((c for c in reversed(shape) if c in _ALPHABETS), "9")
    return shape + last * (length - len(shape))


def _common_prefix(texts: list[str]) -> str:
    if not texts:
        return ""
    first, last = min(texts), max(texts)
    i = 0
    while i < min(len(first), len(last)) and first[i] == last[i]:
        i += 1
    return first[:i]


def _shape(text: str) -> str:
    """Character classes: digits -> 9, upper -> A, lower -> a, anything else kept."""
    return "".join("9" if c.isdigit() else "A" if c.isupper() else "a" if c.islower() else c
                   for c in text)


_ALPHABETS = {"9": np.frombuffer(b"0123456789", dtype=np.uint8),
              "A": np.frombuffer(b"ABCDEFGHIJKLMNOPQRSTUVWXYZ", dtype=np.uint8),
              "a": np.frombuffer(b"abcdefghijklmnopqrstuvwxyz", dtype=np.uint8)}


def _fill_shape(shape: str, n: int, rng: np.random.Generator) -> list[str]:
    """``n`` random strings of ``shape`` (classes filled at random, other characters kept)."""
    raw = shape.encode("utf-8")
    if len(raw) != len(shape):  # non-ASCII literals: fill character by character
        return ["".join(str(rng.choice(list(_ALPHABETS[c].tobytes().decode())))
                        if c in _ALPHABETS else c for c in shape) for _ in range(n)]
    codes = np.empty((n, len(shape)), dtype=np.uint8)
    for j, c in enumerate(shape):
        alphabet = _ALPHABETS.get(c)
        codes[:, j] = alphabet[rng.integers(len(alphabet), size=n)] if alphabet is not None \
            else ord(c)
    return [row.tobytes().decode("ascii") for row in codes]


def write_dates(values: np.ndarray, fmt: str | None, col: ColumnSchema) -> pd.Series:
    series = pd.Series(values)
    if fmt is None:
        return _cast(series, col.dtype)
    text = series.dt.strftime(fmt).astype(object)
    text[series.isna()] = np.nan
    return _cast(text, col.dtype)


def _cast(series: pd.Series, dtype: str) -> pd.Series:
    try:
        if series.isna().any() and pd.api.types.is_integer_dtype(np.dtype(dtype)):
            return series.astype("float64")
    except TypeError:
        pass
    try:
        return series.astype(dtype)
    except (TypeError, ValueError):
        return series.infer_objects()
