"""``LinkedSynthesizer``: a parent table and its child tables, drawn patient by patient.

The steps, per table and one link step between them:

1. the links are inferred from structure (:func:`clinisynth.schema.links.infer_links`) or given;
2. the link step summarises each child onto its parent row (:mod:`.summaries`);
3. the hybrid (:class:`~clinisynth.synthesizer.HybridSynthesizer`, its whole pipeline: value
   protection, roles, rules, survival, the mixture, calibration and the guard) learns the
   augmented parent table, so a patient's baseline, number of visits, follow-up span and first
   visit are drawn together, and the guard compares whole patient summaries; each child's
   drawn counts are then mapped onto the training patients' protected counts, their order
   kept (:mod:`.counts`);
4. each child's rows between the first and the last are drawn in order by
   :class:`.sequence.ChildModel`, conditioned on the parent row and the previous row;
5. orders are placed between the drawn first and last value, so they are monotone, never
   pass the parent's bound, intervals stay contiguous and counters count, by construction;
   keys are regenerated (1, 2, … or ``P000001``…), so every child row has its parent.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from clinisynth.audit.linked import counts, patient_rows
from clinisynth.errors import ClinisynthError, NotFittedError, SchemaError
from clinisynth.linked.counts import CountMarginal
from clinisynth.linked.dates import date_formats, from_days, to_days
from clinisynth.linked.guard import PatientGuard
from clinisynth.linked.placement import place_orders
from clinisynth.linked.sequence import LOW_CARDINALITY, ChildModel
from clinisynth.linked.summaries import ChildSummary, child_plan, child_summary, summarise
from clinisynth.persistence import read_model, split_arrays, write_model
from clinisynth.schema.links import ChildLink, LinkSchema, infer_links
from clinisynth.synthesizer import HybridSynthesizer
from clinisynth.values import to_native

MAX_LEVELS = 20
LINKED_FORMAT = 1
#: rounds of redraws for the patients the patient guard refuses
MAX_ROUNDS = 10
#: fewest patients drawn per round of redraws (a choice of counts to replace refused ones)
EXTRA_MIN = 64


@dataclass
class ParentFeatures:
    """Parent rows as model features: numeric columns standardised (missing → 0), text
    columns of at most ``MAX_LEVELS`` values one-hot."""

    numeric: dict[str, tuple[float, float]]
    levels: dict[str, list[Any]]

    @classmethod
    def fit(cls, frame: pd.DataFrame, k: int) -> ParentFeatures:
        """Text values held by fewer than ``k`` rows get no column (and are not stored)."""
        numeric, levels = {}, {}
        for col in frame.columns:
            x = frame[col]
            if pd.api.types.is_numeric_dtype(x):
                v = x.to_numpy(dtype=float)
                sd = float(np.nanstd(v)) if np.isfinite(v).any() else 0.0
                numeric[col] = (float(np.nanmean(v)) if np.isfinite(v).any() else 0.0,
                                sd if sd > 0 else 1.0)
            elif x.nunique() <= MAX_LEVELS:
                counts = x.value_counts()
                levels[col] = list(counts.index[counts >= k])
        return cls(numeric, levels)

    def to_dict(self) -> dict[str, Any]:
        return {"numeric": {c: list(v) for c, v in self.numeric.items()},
                "levels": {c: [to_native(v) for v in vs] for c, vs in self.levels.items()}}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ParentFeatures:
        return cls({c: (float(m), float(s)) for c, (m, s) in data["numeric"].items()},
                   {c: list(vs) for c, vs in data["levels"].items()})

    def transform(self, frame: pd.DataFrame) -> np.ndarray:
        parts = [np.nan_to_num((pd.to_numeric(frame[c], errors="coerce").to_numpy(dtype=float)
                                - m) / s) for c, (m, s) in self.numeric.items()]
        for c, values in self.levels.items():
            parts += [(frame[c] == v).to_numpy(dtype=float) for v in values]
        return np.column_stack(parts) if parts else np.zeros((len(frame), 0))


class LinkedSynthesizer:
    """Synthetic patients with their child rows (module doc).

    ``links`` (a :class:`LinkSchema` or its dict) fixes the parent, key and each child's
    order, intervals, counter and bound; by default they are inferred at ``fit``.
    ``parent_options`` go to the parent's :class:`HybridSynthesizer`; ``k`` is value
    protection's threshold for the child tables' categories and ends.
    """

    def __init__(self, seed: int = 0, links: LinkSchema | Mapping[str, Any] | None = None,
                 k: int = 5, parent_options: Mapping[str, Any] | None = None) -> None:
        self.seed = seed
        self.links = links
        self.k = k
        self.parent_options = parent_options

    # ---- fit --------------------------------------------------------------------------
    def fit(self, tables: Mapping[str, pd.DataFrame], target: str | None = None, *,
            parent: str | None = None, key: str | None = None,
            on_step: Callable[[str, int, int], None] | None = None) -> LinkedSynthesizer:
        """Learn the tables: ``{name: DataFrame}``, one parent and its children;
        ``on_step(label, done, total)`` reports progress (the parent's steps, then each
        child's model)."""
        raw = dict(tables)
        self.dates_ = {name: date_formats(t) for name, t in raw.items()}
        tables = {name: to_days(t, self.dates_[name]) for name, t in raw.items()}
        links = (self.links if isinstance(self.links, LinkSchema)
                 else LinkSchema.from_dict(self.links) if self.links is not None
                 else infer_links(tables, parent, key, self.dates_))
        links.validate(tables)
        # the hybrid models the parent's own dates; a child's are its orders and values
        parent_dates = list(self.dates_[links.parent])
        self.dates_[links.parent] = {c: f for c, f in self.dates_[links.parent].items()
                                     if any(c == child.bound for child in links.children)}
        if target is not None and target not in tables[links.parent].columns:
            raise SchemaError(f"--target: the parent table {links.parent} has no column "
                              f"{target!r}")
        self.links_ = links
        self.columns_ = {name: list(t.columns) for name, t in raw.items()}
        self.dtypes_ = {name: t.dtypes.to_dict() for name, t in raw.items()}
        parent_frame = tables[links.parent].reset_index(drop=True)
        children = {c.table: _sorted(tables[c.table], c.key, c.order) for c in links.children}
        self.summaries_ = [child_summary(c, children[c.table], parent_frame)
                           for c in links.children]
        self.id_offsets_ = {f"{c.table}.{col}": _offset(children[c.table][col])
                            for c in links.children for col in c.ids or []}
        augmented = summarise(parent_frame, children, links, self.summaries_)
        self.counts_ = {s.link.table: CountMarginal.fit(augmented[s.n].to_numpy(), self.k)
                        for s in self.summaries_}
        for col in parent_dates:  # the hybrid gets the parent's dates as dates
            augmented[col] = raw[links.parent][col].to_numpy()
        body = augmented.drop(columns=[links.key])
        self.parent_ = HybridSynthesizer(seed=self.seed, **dict(self.parent_options or {}))
        self.parent_.fit(body, target, on_step=on_step)
        self.features_ = ParentFeatures.fit(body, self.k)
        x = self.features_.transform(body)
        row_of = {k: i for i, k in enumerate(parent_frame[links.key])}
        self.children_: dict[str, ChildModel] = {}
        self.strict_: dict[str, bool] = {}

        for i, summary in enumerate(self.summaries_):
            if on_step is not None:
                on_step(f"{summary.link.table}: sequence model", i, len(self.summaries_))
            self.children_[summary.link.table], self.strict_[summary.link.table] = \
                self._fit_child(summary, children[summary.link.table], x, row_of)
        # the parent as `sample` returns it (only a bound date as days), children as modelled
        guard_tables = {links.parent: to_days(raw[links.parent], self.dates_[links.parent]),
                        **children}
        self.patient_guard_ = PatientGuard.fit(patient_rows(guard_tables, links))
        if on_step is not None:
            on_step("fitted", len(self.summaries_), len(self.summaries_))
        return self

    def _fit_child(self, summary: ChildSummary, child: pd.DataFrame, parent_x: np.ndarray,
                   row_of: dict[Any, int]) -> tuple[ChildModel, bool]:
        link = summary.link
        groups = child[link.key].to_numpy()
        numeric, categorical = [], []
        for c in summary.value_columns:
            is_num = pd.api.types.is_numeric_dtype(child[c])
            (numeric if is_num and child[c].nunique() > LOW_CARDINALITY
             else categorical).append(c)
        gaps, strict, pace, elapsed = None, True, None, None
        if link.order:
            same = np.r_[False, groups[1:] == groups[:-1]]
            if link.stop:
                gaps = (child[link.stop] - child[link.order]).to_numpy(dtype=float)
            else:
                diff = np.r_[np.nan, np.diff(child[link.order].to_numpy(dtype=float))]
                gaps = np.where(same, diff, np.nan)
            strict = bool((gaps[np.isfinite(gaps)] > 0).all())
            pace = _pace(child, link)
            order = child[link.order]
            elapsed = (order - order.groupby(child[link.key]).transform("min")).to_numpy(float)
        rows = np.array([row_of[g] for g in groups], dtype=int)
        model = ChildModel(numeric, categorical, k=self.k)
        model.fit(child[summary.value_columns].reset_index(drop=True), groups, parent_x[rows],
                  gaps, pace, elapsed)
        return model, strict

    # ---- persistence ------------------------------------------------------------------
    def save(self, path: str | Path) -> None:
        """Write the fitted model to directory ``path`` (JSON + npz, checksummed, no pickle;
        replaced atomically): the parent's hybrid and each child's model."""
        self._check_fitted()
        parent, arrays = self.parent_.get_state()
        out = {f"parent.{k}": v for k, v in arrays.items()}
        children = {}
        for i, (name, model) in enumerate(self.children_.items()):
            content, child_arrays = model.get_state()
            children[name] = content
            out.update({f"child{i}.{k}": v for k, v in child_arrays.items()})
        guard = self.patient_guard_
        if guard is not None:
            out.update({"pguard.records": guard.records, "pguard.mean": guard.mean,
                        "pguard.scale": guard.scale})
        write_model(path, {
            "linked": LINKED_FORMAT, "seed": self.seed, "k": self.k,
            "links": self.links_.to_dict(), "columns": self.columns_,
            "dtypes": {t: {c: str(d) for c, d in ds.items()} for t, ds in self.dtypes_.items()},
            "summaries": [{"value_columns": s.value_columns, "uses_share": s.uses_share}
                          for s in self.summaries_],
            "strict": self.strict_, "features": self.features_.to_dict(), "dates": self.dates_,
            "counts": {t: c.to_dict() for t, c in self.counts_.items()},
            "id_offsets": self.id_offsets_,
            "patient_guard": None if guard is None else {"columns": guard.columns,
                                                         "threshold": guard.threshold},
            "parent": parent, "children": children}, out)

    @classmethod
    def load(cls, path: str | Path) -> LinkedSynthesizer:
        """Rebuild a model written by :meth:`save`, after verifying its checksums."""
        manifest, arrays = read_model(path)
        if manifest.get("linked") != LINKED_FORMAT:
            raise ClinisynthError(f"model '{path}' is not a linked-tables model (fit it with "
                                  "several --data tables)")
        try:
            syn = cls(seed=int(manifest["seed"]), k=int(manifest["k"]))
            syn.links_ = LinkSchema.from_dict(manifest["links"])
            syn.columns_ = {t: list(c) for t, c in manifest["columns"].items()}
            syn.dtypes_ = {t: {c: pd.api.types.pandas_dtype(d) for c, d in ds.items()}
                           for t, ds in manifest["dtypes"].items()}
            syn.summaries_ = [ChildSummary(link, list(s["value_columns"]), bool(s["uses_share"]))
                              for link, s in zip(syn.links_.children, manifest["summaries"],
                                                 strict=True)]
            syn.strict_ = {t: bool(v) for t, v in manifest["strict"].items()}
            syn.dates_ = {t: dict(v) for t, v in manifest.get("dates", {}).items()}
            syn.counts_ = {t: CountMarginal.from_dict(c)
                           for t, c in manifest.get("counts", {}).items()}
            syn.id_offsets_ = {k: int(v) for k, v in manifest.get("id_offsets", {}).items()}
            pg = manifest.get("patient_guard")
            syn.patient_guard_ = None if pg is None else PatientGuard(
                list(pg["columns"]), arrays["pguard.mean"], arrays["pguard.scale"],
                arrays["pguard.records"], float(pg["threshold"]))
            syn.features_ = ParentFeatures.from_dict(manifest["features"])
            syn.parent_ = HybridSynthesizer.from_state(
                manifest["parent"], split_arrays(arrays, "parent"), f"model '{path}'")
            syn.children_ = {name: ChildModel.from_state(content, split_arrays(arrays,
                                                                                f"child{i}"))
                             for i, (name, content) in enumerate(manifest["children"].items())}
        except (KeyError, IndexError, TypeError, ValueError) as exc:
            what = f"missing entry {exc}" if isinstance(exc, KeyError) else str(exc)
            raise ClinisynthError(f"model '{path}' is inconsistent ({what}); fit it again"
                                  ) from None
        return syn

    def _check_fitted(self) -> None:
        if not hasattr(self, "parent_"):
            raise NotFittedError("LinkedSynthesizer: call fit before sample")

    # ---- sample -----------------------------------------------------------------------
    def sample(self, n: int, seed: int | None = None) -> dict[str, pd.DataFrame]:
        """``n`` synthetic patients: ``{name: DataFrame}`` with the input's tables, columns
        and dtypes; a pure function of the fitted model and ``seed``. Patients the patient
        guard refuses are drawn again, whole, for at most ``MAX_ROUNDS`` rounds
        (``guard_report_`` counts them); a redrawn patient with the refused one's child counts
        is taken first, so the guard does not move the counts' marginal."""
        self._check_fitted()
        seed = self.seed if seed is None else int(seed)
        tables = self._draw(n, seed)
        refused_total, guard = 0, getattr(self, "patient_guard_", None)
        bad = self._refused(tables) if guard is not None else np.zeros(n, dtype=bool)
        for r in range(1, MAX_ROUNDS + 1):
            if not bad.any():
                break
            refused_total += int(bad.sum())
            extra = self._draw(max(EXTRA_MIN, 4 * int(bad.sum())), _round_seed(seed, r))
            slots, fresh = _same_counts_first(self._counts(tables)[bad],
                                              self._counts(extra), ~self._refused(extra))
            slots = np.flatnonzero(bad)[slots]
            tables = self._replace(tables, extra, slots, fresh)
            bad[slots] = False
        self.guard_report_ = {"refused": refused_total, "remaining": int(bad.sum())}
        return tables

    def _counts(self, tables: Mapping[str, pd.DataFrame]) -> np.ndarray:
        """Children per patient (patients × children), in parent order."""
        per_child = [counts(tables, self.links_, c).to_numpy(dtype=int)
                     for c in self.links_.children]
        return np.column_stack(per_child) if per_child else \
            np.zeros((len(tables[self.links_.parent]), 0), dtype=int)

    def _refused(self, tables: Mapping[str, pd.DataFrame]) -> np.ndarray:
        days = {t: to_days(f, self.dates_.get(t, {})) for t, f in tables.items()}
        return self.patient_guard_.refused(patient_rows(days, self.links_))

    def _replace(self, tables: dict[str, pd.DataFrame], extra: dict[str, pd.DataFrame],
                 slots: np.ndarray, fresh: np.ndarray) -> dict[str, pd.DataFrame]:
        """Patients ``slots`` of ``tables`` replaced by patients ``fresh`` of ``extra`` (keys
        and row identifiers of ``extra`` moved into the slots' places)."""
        links = self.links_
        keys = tables[links.parent][links.key].to_numpy()
        extra_keys = extra[links.parent][links.key].to_numpy()
        moved = dict(zip(extra_keys[fresh], keys[slots], strict=True))
        out = {}
        parent = tables[links.parent].copy()
        new_rows = extra[links.parent].iloc[fresh].copy()
        new_rows[links.key] = keys[slots]
        parent.iloc[slots] = new_rows.to_numpy()
        out[links.parent] = _restore(parent, self.dtypes_[links.parent])
        for link in links.children:
            old = tables[link.table]
            keep = old[~old[link.key].isin(keys[slots])]
            add = extra[link.table][extra[link.table][link.key].isin(moved)].copy()
            add[link.key] = add[link.key].map(moved)
            for col in link.ids or []:  # fresh row identifiers past the ones in use
                top = int(pd.to_numeric(keep[col], errors="coerce").max()) if len(keep) else 0
                add[col] = np.arange(top + 1, top + 1 + len(add)) if pd.api.types. \
                    is_numeric_dtype(self.dtypes_[link.table][col]) else add[col]
            both = pd.concat([keep, add], ignore_index=True)
            order = both[link.key].map({k: i for i, k in enumerate(keys)})
            both = both.iloc[np.argsort(order.to_numpy(), kind="stable")]
            out[link.table] = _restore(both.reset_index(drop=True), self.dtypes_[link.table])
        return {name: out[name] for name in self.columns_}

    def _draw(self, n: int, seed: int) -> dict[str, pd.DataFrame]:
        """``n`` patients with keys 1..n, no guard."""
        links = self.links_
        body = self.parent_.sample(n, seed=seed).reset_index(drop=True)
        drawn = {}  # the hybrid's counts, drawn with the span: the patients' pace
        for i, summary in enumerate(self.summaries_):  # counts onto the training marginal
            drawn[i] = pd.to_numeric(body[summary.n], errors="coerce").to_numpy(dtype=float)
            marginal = self.counts_.get(summary.link.table)  # none in older models
            if marginal is not None:
                body[summary.n] = marginal.apply(drawn[i], np.random.default_rng([seed, 8, i]))
        keys = _new_keys(self.dtypes_[links.parent][links.key], len(body))
        x = self.features_.transform(body)
        out = {}
        for i, summary in enumerate(self.summaries_):
            rng = np.random.default_rng([seed, 7, i])
            out[summary.link.table] = self._sample_child(summary, body, keys, x, rng,
                                                         drawn[i])
        parent = body.reindex(columns=[c for c in self.columns_[links.parent] if c != links.key])
        parent.insert(self.columns_[links.parent].index(links.key), links.key, keys)
        out[links.parent] = _restore(parent, self.dtypes_[links.parent])
        return {name: out[name] for name in self.columns_}

    def _sample_child(self, summary: ChildSummary, body: pd.DataFrame, keys: np.ndarray,
                      x: np.ndarray, rng: np.random.Generator, drawn: np.ndarray
                      ) -> pd.DataFrame:
        """One child's rows; ``drawn`` the hybrid's counts before :mod:`.counts` mapped
        them: the pace (mean gap) is the drawn span over the drawn count, as the hybrid drew
        the two together."""
        link = summary.link
        name = link.table
        dtypes = self.dtypes_[name]
        bound = (to_days(body[[link.bound]], self.dates_[self.links_.parent])[link.bound]
                 .astype(float).to_numpy() if link.bound else None)
        dated = self.dates_.get(name, {})
        integer = bool(link.order and (pd.api.types.is_integer_dtype(dtypes[link.order])
                                       or link.order in dated))
        plan = child_plan(body, summary, bound, integer)
        n = plan["n"].to_numpy()
        first = body[[summary.first(c) for c in summary.value_columns]]
        first.columns = summary.value_columns
        pace = None
        if link.order:
            was = np.clip(np.round(np.nan_to_num(drawn, nan=0.0)), 0, None)
            m = np.where(was > 0, was, n) - (1 if link.kind == "sequence" else 0)
            with np.errstate(divide="ignore", invalid="ignore"):
                pace = (plan["last"].to_numpy() - plan["first"].to_numpy()) / m
        values, owner, gaps = self.children_[name].sample(first, n, x, rng, pace,
                                                          sequence=link.kind == "sequence")
        frame = values.copy()
        frame[link.key] = keys[owner]
        if link.order:
            start, stop = place_orders(plan, n, owner, gaps, link.kind, integer,
                                       self.strict_[name])
            frame[link.order] = start
            if link.stop:
                frame[link.stop] = stop
        for col in link.monotone or []:  # never falls within a patient (the link says so)
            frame[col] = pd.to_numeric(pd.Series(frame[col]), errors="coerce") \
                .groupby(owner).cummax().to_numpy()
        for col in link.ids or []:  # fresh row identifiers, one more digit than the real
            frame[col] = _new_keys(dtypes[col], len(frame), offset=self.id_offsets_.get(
                f"{name}.{col}", 0))
        if link.counter:
            frame[link.counter] = np.concatenate([np.arange(1, k + 1) for k in n]) \
                if n.sum() else np.zeros(0, int)
        for col, fmt in dated.items():
            frame[col] = from_days(frame[col].to_numpy(), fmt)
        return _restore(frame.reindex(columns=self.columns_[name]), dtypes)


def _same_counts_first(wanted: np.ndarray, offered: np.ndarray, usable: np.ndarray
                       ) -> tuple[np.ndarray, np.ndarray]:
    """Pairs (slots, offers): the ``r``-th slot (row of ``wanted``) with given counts takes the
    ``r``-th usable offer with the same counts where there is one; the slots left take the
    usable offers left, in order."""
    offers = np.flatnonzero(usable)
    if len(wanted) == 0 or len(offers) == 0:
        return np.zeros(0, dtype=int), np.zeros(0, dtype=int)
    _, code = np.unique(np.vstack([wanted, offered[offers]]), axis=0, return_inverse=True)
    code = np.asarray(code).ravel()
    slot = pd.DataFrame({"code": code[:len(wanted)], "slot": np.arange(len(wanted))})
    offer = pd.DataFrame({"code": code[len(wanted):], "offer": offers})
    slot["r"] = slot.groupby("code").cumcount()
    offer["r"] = offer.groupby("code").cumcount()
    same = slot.merge(offer, on=["code", "r"]).sort_values("slot")
    rest = np.setdiff1d(np.arange(len(wanted)), same["slot"].to_numpy())
    spare = offers[~np.isin(offers, same["offer"].to_numpy())][:len(rest)]
    return (np.concatenate([same["slot"].to_numpy(), rest[:len(spare)]]).astype(int),
            np.concatenate([same["offer"].to_numpy(), spare]).astype(int))


def _round_seed(seed: int, r: int) -> int:
    return int(np.random.SeedSequence([seed, 11, r]).generate_state(1)[0])


def _offset(values: pd.Series) -> int:
    """A power of ten above every value of a numeric identifier (0 for text ones)."""
    if not pd.api.types.is_numeric_dtype(values):
        return 0
    top = float(np.nanmax(np.abs(values.to_numpy(dtype=float)))) if len(values) else 0.0
    return int(10 ** (len(str(int(top))) )) if top >= 1 else 10


def _pace(child: pd.DataFrame, link: ChildLink) -> np.ndarray:
    """Per row, its patient's mean gap ``(end_last - first) / m`` (``m`` gaps or lengths)."""
    grouped = child.groupby(link.key, sort=False)
    span = grouped[link.end].transform("max") - grouped[link.order].transform("min")
    m = grouped[link.order].transform("size") - (1 if link.kind == "sequence" else 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        return (span / m.where(m > 0)).to_numpy(dtype=float)


def _sorted(frame: pd.DataFrame, key: str, order: str | None) -> pd.DataFrame:
    by = [key, order] if order else [key]
    return frame.sort_values(by, kind="stable").reset_index(drop=True)


def _new_keys(dtype: Any, n: int, offset: int = 0) -> np.ndarray:
    """1, 2, … (plus ``offset``: a power of ten above every real value of a row identifier,
    so no fresh one equals a real one), or ``P000001``… for a text key."""
    if pd.api.types.is_numeric_dtype(dtype):
        return np.arange(1, n + 1) + offset
    width = max(6, len(str(n)))
    return np.array([f"P{i:0{width}d}" for i in range(1, n + 1)], dtype=object)


def _restore(frame: pd.DataFrame, dtypes: Mapping[str, Any]) -> pd.DataFrame:
    out = frame.copy()
    for col, dtype in dtypes.items():
        if col not in out:
            continue
        x = out[col]
        if pd.api.types.is_integer_dtype(dtype):
            v = pd.to_numeric(x, errors="coerce")
            out[col] = v.round().astype(dtype) if v.notna().all() else v.round().astype("Int64")
        elif pd.api.types.is_float_dtype(dtype):
            out[col] = pd.to_numeric(x, errors="coerce").astype(dtype)
        else:
            out[col] = x.astype(object).where(x.notna(), None)
    return out
