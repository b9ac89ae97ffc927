"""The privacy guard: refuse synthetic rows that single out a real patient.

Two independent rules (and an optional third, ``isolation``), fitted once on the training table
(the model table: identifiers and text already removed, dates as numbers) and frozen;
:meth:`PrivacyGuard.check` returns the refused rows and, per refused row, the rule that refused
it (``"singling_out"`` first).

``singling_out`` (needs quasi-identifiers: schema role ``quasi_identifier``; off without them)
    Numeric quasi-identifiers are quantised to bins of width ``tol_c = max(step_c,
    qi_tolerance * std_c)`` (``step_c``: the column's recorded precision, its smallest gap
    between observed values); a patient's *QI class* is the training rows in the same bins and
    with the same categorical quasi-identifiers (k-anonymity's equivalence class). A patient
    is *rare* when their class holds fewer than ``k`` rows (the schema's ``k``). A synthetic
    row is refused when, for some rare patient ``j``,

    * it matches ``j`` on every quasi-identifier: ``|s_c - x_jc| <= tol_c`` on numeric ones
      (missing matches missing), equal categories on categorical ones; and
    * it is close to ``j`` on the remaining columns: distance (the audit's record distance,
      :mod:`clinisynth.distances`, on those columns only) at most
      ``max(tau * sqrt(p_rest / p), 1)``, where ``p`` counts columns and ``1`` is the distance
      of one category flip (so copying a rare patient and flipping a flag or the label is
      still refused).

    Matching is a radius-1 Chebyshev query in the space ``x_c / tol_c`` (categories spaced
    apart) against a KD-tree of the rare patients only, built at fit.
``distance``
    Let ``tau`` be the ``percentile``-th percentile of the training rows' distance to their
    nearest *different* training record (positive leave-one-out distances, so ``tau`` cannot
    collapse to 0 when many patients share a record, as on discrete tables). A synthetic row
    is refused when any of its ``neighbours`` nearest training rows (default ``k``) is closer
    than ``tau`` (or equal to it: distance 0) and is distinguishable: shared by fewer than
    ``min_shared`` training rows. A record is shared by the training rows within
    ``share_radius · tau`` of it, itself included (``share_radius`` 1, the default: its copies
    and the patients within ``tau``; 0: its exact copies only). On a lattice of discrete values
    ``tau`` is one step of the lattice (cardiology: one day of stay), so a row equal to a
    patient whose record is unique but who has two or more patients one step away points at
    none of them and passes (with ``share_radius`` 0 it was refused: 39 % of real held-out
    cardiology patients are such copies); the exact copy of a patient with fewer than
    ``min_shared`` rows within ``tau`` is refused. A row
    equal to a common pattern has that pattern's copies as its nearest rows and passes; a row
    beside a unique patient is refused even if a common pattern is nearer still (but not if
    ``neighbours`` copies of common patterns are nearer).

``isolation`` (off by default; ``isolation = ρ > 0`` turns it on)
    Let ``loo_j`` be training record ``j``'s distance to its nearest *different* training
    record (how isolated patient ``j`` is). A synthetic row is refused when it lies within
    ``ρ · loo_j`` of a distinguishable record ``j``. With ``ρ ≤ 1/2`` such a row is nearer to
    ``j`` than to any other training record (triangle inequality), by a margin that grows with
    ``j``'s isolation: it points at that one patient even where ``tau``, a percentile over
    all patients, is small next to the patient's isolation (outlying patients). Costs an
    all-pairs nearest-neighbour search at fit; the check shares the distance rule's single
    matrix-product pass (per-record radii ``max(tau, ρ · loo_j)``).

The defaults (``percentile`` 5, ``qi_tolerance`` 0.5, ``min_shared`` 3) come from the trade-off
curve of ``benchmarks/guard_tradeoff.py`` (``benchmarks/results/guard_tradeoff.md``; 4 tables,
3 seeds): ``percentile`` 5 is the lowest that keeps the calibrated DCR (the audit's share of
synthetic rows closer to a training row than the 2nd percentile of holdout-to-train distances)
at most 3 % on the continuous tables, while refusing 3–6 % of real held-out patients (25
refused 26–32 %, so the guard refused near-copies no more often than ordinary patients, and its
redraws cost fidelity: KS to the holdout 0.093 against 0.080 on breast cancer). ``share_radius``
1 (seeds 0–5): on cardiology, exact-copy counting (0) refused 39 % of real held-out patients
and cost 0.017 of KS to the holdout and 2 points of TSTR; 1 refuses 10 % of them and leaves the
continuous tables within seed noise, where 1.5 already lifts their calibrated DCR above 3 %.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from sklearn.neighbors import KDTree, NearestNeighbors

from clinisynth.distances import RecordEncoder
from clinisynth.errors import ClinisynthError
from clinisynth.range_search import pairs_within, search_matrix
from clinisynth.schema import TableSchema, category_key
from clinisynth.threads import blas_limits, current_threads

RULES = ("singling_out", "distance", "isolation")
#: rows whose positive leave-one-out distance sets ``tau`` (evenly spaced, no randomness)
TAU_SAMPLE = 5_000
#: coordinate of a missing numeric quasi-identifier (matches only another missing one)
_MISSING = -1e12
#: spacing of category codes in the matching space (> 2, the Chebyshev radius is 1)
_CAT_SPACING = 4.0


@dataclass
class GuardReport:
    """What the guard did in one ``sample`` call (summed over its chunks).

    Refused rows are never returned: they are redrawn from the mixture for up to ``max_rounds``
    rounds, then from the generators that do not resample real rows (``fallback``); if any row
    is still refused after that, ``sample`` raises instead of returning it.
    """

    threshold: float
    refused: int = 0  # rows refused over all rounds (each redraw counted again if refused again)
    rounds: int = 0  # most redraw rounds any chunk used
    fallback: int = 0  # refused rows redrawn from the non-resampling generators
    remaining: int = 0  # refused rows left (always 0 in a returned sample)
    by_rule: dict[str, int] = field(default_factory=dict)  # refusals per guard rule

    def add(self, other: GuardReport) -> None:
        """Fold another chunk's report into this one."""
        self.refused += other.refused
        self.rounds = max(self.rounds, other.rounds)
        self.fallback += other.fallback
        self.remaining += other.remaining
        for rule, count in other.by_rule.items():
            self.by_rule[rule] = self.by_rule.get(rule, 0) + count

    def count(self, rules: np.ndarray) -> None:
        """Count one round's refusals by rule (``rules``: the rule name of each refused row)."""
        names, counts = np.unique(rules, return_counts=True)
        self.refused += int(counts.sum())
        for rule, c in zip(names, counts, strict=True):
            self.by_rule[str(rule)] = self.by_rule.get(str(rule), 0) + int(c)

    def to_dict(self) -> dict[str, Any]:
        return {**vars(self), "by_rule": dict(self.by_rule)}


class PrivacyGuard:
    """Fit on the training table; ``check(frame)`` marks synthetic rows that single out a patient.

    Parameters
    ----------
    percentile : the distance rule's ``tau``, a percentile of positive leave-one-out distances.
    min_shared : a training record shared by fewer rows than this is distinguishable.
    max_rounds : redraw rounds from the mixture (the synthesizer's loop reads it).
    neighbours : nearest training rows the distance rule looks at (default: the schema's ``k``).
    qi_tolerance : numeric quasi-identifier tolerance, in standard deviations (floored at the
        column's recorded precision).
    n_jobs : kept so saved models load; the range search uses the threads that
        :func:`clinisynth.threads.current_threads` gives (the synthesizer's ``n_jobs``).
    isolation : the isolation rule's ``ρ`` (0 = off; at most 1/2 keeps the rule's meaning).
    share_radius : a training record is shared by the training rows within ``share_radius · tau``
        of it (0: exact copies only). Counted in ``check``, only for the records a synthetic row
        comes within ``tau`` of (:meth:`shared`).
    """

    def __init__(self, percentile: float = 5.0, min_shared: int = 3, max_rounds: int = 10,
                 neighbours: int | None = None, qi_tolerance: float = 0.5,
                 n_jobs: int | None = -1, isolation: float = 0.0,
                 share_radius: float = 1.0) -> None:
        if not 0 <= percentile <= 100:
            raise ClinisynthError("privacy guard: percentile must be between 0 and 100")
        if min_shared < 1 or max_rounds < 0:
            raise ClinisynthError("privacy guard: min_shared >= 1 and max_rounds >= 0 needed")
        if neighbours is not None and neighbours < 1:
            raise ClinisynthError("privacy guard: neighbours must be at least 1")
        if not qi_tolerance > 0:
            raise ClinisynthError("privacy guard: qi_tolerance must be positive")
        if not 0 <= isolation <= 0.5:
            raise ClinisynthError("privacy guard: isolation must be between 0 and 0.5")
        if not 0 <= share_radius <= 10:
            raise ClinisynthError("privacy guard: share_radius must be between 0 and 10")
        self.percentile = percentile
        self.min_shared = min_shared
        self.max_rounds = max_rounds
        self.neighbours = neighbours
        self.qi_tolerance = qi_tolerance
        self.n_jobs = n_jobs
        self.isolation = isolation
        self.share_radius = share_radius

    def get_params(self) -> dict[str, Any]:
        return {"percentile": self.percentile, "min_shared": self.min_shared,
                "max_rounds": self.max_rounds, "neighbours": self.neighbours,
                "qi_tolerance": self.qi_tolerance, "n_jobs": self.n_jobs,
                "isolation": self.isolation, "share_radius": self.share_radius}

    # -- fit ----------------------------------------------------------------------------------
    def fit(self, train: pd.DataFrame, schema: TableSchema) -> PrivacyGuard:
        self.schema_ = schema
        self.encoder_ = RecordEncoder(schema).fit(train)
        records = self.encoder_.transform(train)
        self.threshold_ = positive_loo_percentile(records, self.percentile)
        qi = [c.name for c in schema.with_role("quasi_identifier") if c.name != schema.target]
        self.qi_ = qi
        self.tolerance_ = {c: _tolerance(train[c], self.encoder_.stats_[c][1],
                                         self.qi_tolerance)
                           for c in qi if schema[c].is_numeric}
        self.loo_ = _nearest_other(records) if self.isolation > 0 else None
        self.set_records(records, train)
        return self

    def set_records(self, records: np.ndarray, train: pd.DataFrame | None = None,
                     rare_rows: np.ndarray | None = None,
                     rare_coords: np.ndarray | None = None) -> None:
        """Index the training records (and, for singling out, the rare patients)."""
        self.records_ = records
        self.shared_counts_ = np.full(len(records), -1, dtype=np.int64)  # counted on first use
        self.k_ = int(self.schema_.k)
        self._k_nearest = min(self.neighbours or self.k_, len(records))
        self.radii_ = (None if getattr(self, "loo_", None) is None
                       else np.maximum(self.threshold_, self.isolation * self.loo_))
        self._search = search_matrix(records, self.radii_)
        self.rest_dims_ = _column_dims(self.encoder_, [c.name for c in self.schema_.columns
                                                       if c.name not in self.qi_])
        n_cols = len(self.schema_.columns)
        n_rest = n_cols - len(self.qi_)
        self.rest_threshold_ = max(self.threshold_ * np.sqrt(n_rest / n_cols), 1.0)
        if not self.qi_:
            self.rare_rows_ = np.zeros(0, dtype=np.int64)
            self.rare_coords_ = np.zeros((0, 0))
        elif train is not None:
            coords = self._qi_coords(train)
            numeric = np.array([c in self.tolerance_ for c in self.qi_])
            keys = coords.copy()
            keys[:, numeric] = np.floor(keys[:, numeric])  # the QI class: same bins
            _, inv, cnt = np.unique(keys, axis=0, return_inverse=True, return_counts=True)
            rare = cnt[inv.ravel()] < self.k_
            self.rare_rows_ = np.flatnonzero(rare)
            self.rare_coords_ = coords[rare]
        else:
            assert rare_rows is not None and rare_coords is not None
            self.rare_rows_, self.rare_coords_ = rare_rows.astype(np.int64), rare_coords
        self._tree = KDTree(self.rare_coords_, metric="chebyshev") if len(self.rare_rows_) \
            else None

    def _qi_coords(self, frame: pd.DataFrame) -> np.ndarray:
        """Quasi-identifiers in the matching space: ``x / tol`` or spaced category codes."""
        out = np.empty((len(frame), len(self.qi_)))
        for j, name in enumerate(self.qi_):
            col = self.schema_[name]
            if name in self.tolerance_:
                vals = pd.to_numeric(frame[name], errors="coerce").to_numpy(dtype=float)
                out[:, j] = np.where(np.isnan(vals), _MISSING, vals / self.tolerance_[name])
            else:
                index = {category_key(c): i for i, c in enumerate(col.categories or [])}
                unseen = len(index)
                out[:, j] = [_CAT_SPACING * (unseen if pd.isna(v)
                                             else index.get(category_key(v), unseen))
                             for v in frame[name]]
        return out

    # -- check --------------------------------------------------------------------------------
    @property
    def singling_out_active(self) -> bool:
        """False when the schema declares no quasi-identifier (the rule is then off)."""
        return bool(self.qi_)

    def check(self, synthetic: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        """``(refused, rule)``: a mask of refused rows and, per refused row, the rule's name
        (``"singling_out"`` when both rules refuse it)."""
        records = self.encoder_.transform(synthetic)
        single = self._singling_out(synthetic, records)
        near, isolated = self._distance(records)
        refused = single | near | isolated
        rules = np.where(single[refused], "singling_out",
                         np.where(near[refused], "distance", "isolation")).astype(object)
        return refused, rules

    def refused(self, synthetic: pd.DataFrame) -> np.ndarray:
        """Boolean mask of the synthetic rows the guard refuses (either rule)."""
        return self.check(synthetic)[0]

    def _distance(self, records: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``(near, isolated)``. Near: rows with a close (``< tau``, or an exact copy)
        distinguishable training record among their ``neighbours`` nearest: a record ranks
        among them when fewer than ``neighbours`` training rows are strictly nearer. Only
        training rows within ``tau`` can decide, so the rule is evaluated on the pairs
        :func:`pairs_within` finds (exact distances). Isolated: rows within ``isolation ·
        loo_j`` of a distinguishable record ``j`` (found in the same search, whose per-record
        radius is the larger of the two)."""
        out = np.zeros(len(records), dtype=bool)
        isolated = np.zeros(len(records), dtype=bool)
        radius = self.threshold_ if self.radii_ is None else self.radii_
        rows, train, dist = pairs_within(records, self.records_, radius, self._search)
        if not len(rows):
            return out, isolated
        distinct = self.shared(train) < self.min_shared
        if self.radii_ is not None:
            isolated[rows[distinct & (dist < self.isolation * self.loo_[train])]] = True
        order = np.lexsort((dist, rows))
        rows, train, dist, distinct = rows[order], train[order], dist[order], distinct[order]
        pos = np.arange(len(rows))
        group = np.maximum.accumulate(np.where(np.r_[True, rows[1:] != rows[:-1]], pos, 0))
        tie = np.maximum.accumulate(np.where(
            np.r_[True, (rows[1:] != rows[:-1]) | (dist[1:] != dist[:-1])], pos, 0))
        nearer = tie - group  # training rows of the same query strictly nearer
        close = (dist < self.threshold_) | (dist <= 1e-12)
        hit = close & distinct & (nearer < self._k_nearest)
        out[rows[hit]] = True
        return out, isolated & ~out

    def shared(self, train: np.ndarray) -> np.ndarray:
        """For training row indices ``train``: how many training rows lie within
        ``share_radius · tau`` of each one's record (itself and its exact copies included).
        Counted for a record the first time a synthetic row comes within ``tau`` of it, then
        kept: a range search of those records only, not of all training rows at fit."""
        train = np.asarray(train, dtype=np.int64)
        todo = np.unique(train[self.shared_counts_[train] < 0])
        if len(todo):
            # one query per distinct record: m copies of a record cost one search, not m
            distinct, inverse = np.unique(self.records_[todo], axis=0, return_inverse=True)
            radius = self.share_radius * self.threshold_ * (1 + 1e-9)  # a lattice step counts
            rows, _, _ = pairs_within(distinct, self.records_, radius,
                                      self._search if self.radii_ is None else None)
            if not self.shared_counts_.flags.writeable:  # e.g. a read-only buffer sent to a worker
                self.shared_counts_ = self.shared_counts_.copy()
            self.shared_counts_[todo] = np.bincount(rows, minlength=len(distinct))[inverse.ravel()]
        return self.shared_counts_[train]

    def _singling_out(self, synthetic: pd.DataFrame, records: np.ndarray) -> np.ndarray:
        out = np.zeros(len(synthetic), dtype=bool)
        if self._tree is None:
            return out
        hits = self._tree.query_radius(self._qi_coords(synthetic), r=1.0 + 1e-9)
        sizes = np.array([len(h) for h in hits])
        if not sizes.any():
            return out
        rows = np.repeat(np.arange(len(synthetic)), sizes)
        patients = self.rare_rows_[np.concatenate(hits).astype(np.int64)]
        dims = self.rest_dims_
        gap = records[rows][:, dims] - self.records_[patients][:, dims]
        close = np.sqrt(np.einsum("ij,ij->i", gap, gap)) <= self.rest_threshold_ * (1 + 1e-9)
        out[rows[close]] = True
        return out

    # -- persistence (the training records are needed at sampling time) --------------------------
    def get_state(self) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        meta = {"params": self.get_params(), "threshold": self.threshold_,
                "stats": self.encoder_.stats_, "gappy": self.encoder_.gappy_,
                "qi": self.qi_, "tolerance": self.tolerance_}
        arrays = {"records": self.records_, "rare_rows": self.rare_rows_,
                  "rare_coords": self.rare_coords_}
        if self.loo_ is not None:
            arrays["loo"] = self.loo_
        return meta, arrays

    @classmethod
    def from_state(cls, schema: TableSchema, meta: dict[str, Any],
                   arrays: dict[str, np.ndarray]) -> PrivacyGuard:
        # models saved before ``share_radius`` existed counted exact copies only
        guard = cls(**{"share_radius": 0.0, **meta["params"]})
        guard.schema_ = schema
        guard.encoder_ = RecordEncoder(schema)
        guard.encoder_.stats_ = {k: tuple(v) for k, v in meta["stats"].items()}
        guard.encoder_.gappy_ = list(meta["gappy"])
        guard.threshold_ = float(meta["threshold"])
        guard.qi_ = list(meta["qi"])
        guard.tolerance_ = {k: float(v) for k, v in meta["tolerance"].items()}
        guard.loo_ = arrays.get("loo") if guard.isolation > 0 else None
        if guard.isolation > 0 and guard.loo_ is None:
            raise ClinisynthError("privacy guard: the isolation rule's distances are missing")
        guard.set_records(arrays["records"], rare_rows=arrays["rare_rows"],
                           rare_coords=arrays["rare_coords"])
        return guard


def positive_loo_percentile(records: np.ndarray, percentile: float) -> float:
    """``percentile`` of each row's distance to its nearest *different* training record.

    Computed on at most ``TAU_SAMPLE`` evenly spaced rows against all distinct records.
    """
    if len(np.unique(records, axis=0)) < 2:
        return 0.0
    rows = np.linspace(0, len(records) - 1, min(TAU_SAMPLE, len(records))).astype(int)
    return float(np.percentile(_nearest_other(records, rows), percentile))


def _nearest_other(records: np.ndarray, rows: np.ndarray | None = None) -> np.ndarray:
    """The distance of each record (or of ``records[rows]``) to its nearest *different* record
    (0 when all are equal)."""
    unique, inverse = np.unique(records, axis=0, return_inverse=True)
    inverse = inverse.ravel() if rows is None else inverse.ravel()[rows]
    if len(unique) < 2:
        return np.zeros(len(inverse))
    needed, back = np.unique(inverse, return_inverse=True)  # each distinct record queried once
    with blas_limits(current_threads()):
        nn = NearestNeighbors(n_neighbors=2, n_jobs=current_threads()).fit(unique)
        dist, _ = nn.kneighbors(unique[needed])
    return dist[:, 1][back.ravel()]


def _tolerance(series: pd.Series, std: float, fraction: float) -> float:
    """``max(recorded precision, fraction * std)`` of a numeric quasi-identifier."""
    values = np.unique(pd.to_numeric(series, errors="coerce").dropna().to_numpy(dtype=float))
    step = float(np.min(np.diff(values))) if len(values) > 1 else 1.0
    return max(step, fraction * std) if std > 0 else max(step, 1.0)


def _column_dims(encoder: RecordEncoder, names: list[str]) -> np.ndarray:
    """Indices of the record-encoding dimensions that belong to ``names``."""
    dims, pos = [], 0
    wanted = set(names)
    for col in encoder.schema.columns:
        if col.is_numeric:
            width = 1 + (col.name in encoder.gappy_)
        else:
            width = len(col.categories or []) + 1
        if col.name in wanted:
            dims.extend(range(pos, pos + width))
        pos += width
    return np.array(dims, dtype=np.int64)
