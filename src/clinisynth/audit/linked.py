"""The audit for linked tables, at the patient level: every figure compares synthetic
patients with holdout patients (whole patients the generator never saw), next to what the
training patients score against the same holdout (the floor a faithful generator reaches).

* **structure**: child rows whose key has no parent (referential integrity), rows after the
  parent's bound, orders that fall or repeat within a patient, intervals that are not
  contiguous, counters that do not count 1, 2, …;
* **cardinality**: KS distance of children per patient; beside the training patients', that
  of the training patients with their counts clipped to the protected ends value protection
  gives them (``training_protected``: a count fewer than ``k`` patients reach is not written,
  so a protected model cannot come closer than this);
* **marginals**: mean KS over each table's numeric columns;
* **dynamics**: lag-1 autocorrelation of each numeric child column (pairs of consecutive rows
  of one patient) and KS of the gaps between consecutive orders; beside the training rows'
  lag-1, that of the training rows with the column clipped to its ``k``-th smallest and
  largest values (``training_protected``: what a generator that never writes a value beyond
  them can reach, since a spike beyond them lowers Pearson's lag-1), and the gap synthetic -
  holdout with a 95 % interval over patients (:func:`lag1_gap`: both tables' patients
  resampled, so the interval says how far the gap moves with which patients were drawn);
* **missing cells**: per child column with missing cells, the share missing on each patient's
  first row and on the later rows (a lab not taken at the first visit, or taken only at some
  later ones), for holdout, training and synthetic rows;
* **row copies**: the share of a child table's rows identical, in every column but the key, to
  some training row, for synthetic rows and for holdout rows (whose copies are coincidences:
  common values, a first interval from day 0 to a common day), per place of the row in its
  patient's rows, and the holdout's rate at each place weighted by where the synthetic rows
  sit (``matched``, :func:`copies_by_place`);
* **patient detection**: the audit's real-vs-synthetic classifier on one row per patient: the
  parent row, each child's count, span, mean, first and last value of every numeric column,
  and the values of the first three rows;
* **longitudinal utility**: a random forest predicts the parent's target from the parent row
  (without the follow-up bound, an outcome time) and each child's rows up to a landmark
  (count, last value), trained on synthetic or on training patients, scored (ROC AUC, one
  against the rest when the target has several classes) on holdout patients;
* **risks**: the audit's singling-out, linkability and inference attacks on the patient rows,
  each with its 95 % interval (``patient_risk_intervals``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd
from sklearn.ensemble import RandomForestClassifier
from sklearn.metrics import roc_auc_score

from clinisynth.audit.fidelity import detection_auc, ks_statistic
from clinisynth.audit.risk import risk_scores
from clinisynth.protected_ends import protected_counts
from clinisynth.schema import infer_schema
from clinisynth.schema.links import ChildLink, LinkSchema

Tables = Mapping[str, pd.DataFrame]
FIRST_ROWS = 3
#: patient resamples of the lag-1 gap's interval
RESAMPLES = 200


def structure(tables: Tables, links: LinkSchema) -> dict[str, Any]:
    """Counts of rows breaking the link's structure, per child (module doc)."""
    parent = tables[links.parent]
    out = {}
    for link in links.children:
        child = tables[link.table]
        row: dict[str, Any] = {"rows": len(child),
                               "orphans": int((~child[link.key].isin(parent[links.key])).sum())}
        groups = child[link.key].to_numpy()
        same = groups[1:] == groups[:-1]
        if link.order:
            diff = np.diff(child[link.order].to_numpy(dtype=float))[same]
            row["order_falls"] = int((diff < 0).sum())
            row["order_repeats"] = int((diff == 0).sum())
        if link.stop:
            start = child[link.order].to_numpy(dtype=float)
            stop = child[link.stop].to_numpy(dtype=float)
            row["empty_intervals"] = int((stop <= start).sum())
            row["gaps_or_overlaps"] = int((start[1:][same] != stop[:-1][same]).sum())
        if link.counter:
            expected = child.groupby(link.key, sort=False).cumcount().to_numpy() + 1
            row["counter_breaks"] = int((child[link.counter].to_numpy() != expected).sum())
        if link.bound and link.end:
            bound = child[link.key].map(parent.set_index(links.key)[link.bound])
            row["after_bound"] = int((child[link.end].to_numpy(dtype=float)
                                      > bound.to_numpy(dtype=float)).sum())
        out[link.table] = row
    return out


def counts(tables: Tables, links: LinkSchema, link: ChildLink) -> pd.Series:
    keys = tables[links.parent][links.key]
    return keys.map(tables[link.table].groupby(link.key).size()).fillna(0)


def _pairs(child: pd.DataFrame, link: ChildLink, column: str
           ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(a, b, patient)``: ``a = x_{t-1}``, ``b = x_t`` over consecutive rows of one patient,
    both recorded."""
    groups = child[link.key].to_numpy()
    x = pd.to_numeric(child[column], errors="coerce").to_numpy(dtype=float)
    same = groups[1:] == groups[:-1]
    a, b, who = x[:-1][same], x[1:][same], groups[1:][same]
    ok = np.isfinite(a) & np.isfinite(b)
    return a[ok], b[ok], who[ok]


def lag1(child: pd.DataFrame, link: ChildLink, column: str) -> float:
    """Pearson correlation of ``x_t`` with ``x_{t-1}`` over consecutive rows of one patient."""
    a, b, _ = _pairs(child, link, column)
    if len(a) < 3 or np.std(a) == 0 or np.std(b) == 0:
        return float("nan")
    return float(np.corrcoef(a, b)[0, 1])


def _pair_sums(child: pd.DataFrame, link: ChildLink, column: str) -> np.ndarray:
    """Per patient, over its pairs of :func:`_pairs`: ``[n, Σa, Σb, Σa², Σb², Σab]``
    (patients × 6), from which Pearson's r of any patient-weighted sum follows."""
    a, b, who = _pairs(child, link, column)
    frame = pd.DataFrame({"n": np.ones(len(a)), "a": a, "b": b, "aa": a * a, "bb": b * b,
                          "ab": a * b, "p": who})
    return frame.groupby("p", sort=False).sum().to_numpy(dtype=float)


def _pearson(sums: np.ndarray) -> np.ndarray:
    """Pearson's r from summed ``[n, Σa, Σb, Σa², Σb², Σab]`` rows (NaN where undefined)."""
    n, sa, sb, saa, sbb, sab = sums.T
    with np.errstate(divide="ignore", invalid="ignore"):
        r = (n * sab - sa * sb) / np.sqrt((n * saa - sa**2) * (n * sbb - sb**2))
    return np.where(n >= 3, r, np.nan)


def lag1_gap(holdout: pd.DataFrame, synthetic: pd.DataFrame, link: ChildLink, column: str,
             rng: np.random.Generator, resamples: int = RESAMPLES) -> dict[str, float]:
    """``{"gap", "low", "high"}``: ``lag1(synthetic) - lag1(holdout)`` and the 2.5 and 97.5 %
    quantiles of the same gap over ``resamples`` draws of each table's patients with
    replacement (a patient's pairs stay together)."""
    sums = [_pair_sums(t, link, column) for t in (holdout, synthetic)]
    gap = float(_pearson(sums[1].sum(axis=0, keepdims=True))[0]
                - _pearson(sums[0].sum(axis=0, keepdims=True))[0])
    if min(len(s) for s in sums) < 2 or not np.isfinite(gap):
        return {"gap": gap, "low": float("nan"), "high": float("nan")}
    r = [_pearson(rng.multinomial(len(s), np.full(len(s), 1 / len(s)), size=resamples) @ s)
         for s in sums]
    draws = (r[1] - r[0])[np.isfinite(r[1] - r[0])]
    if len(draws) < 2:
        return {"gap": gap, "low": float("nan"), "high": float("nan")}
    lo, hi = np.quantile(draws, [0.025, 0.975])
    return {"gap": gap, "low": float(lo), "high": float(hi)}


def missing_shares(child: pd.DataFrame, link: ChildLink, columns: list[str]
                   ) -> dict[str, dict[str, float]]:
    """Per column, ``{"first", "later"}``: the share of its cells missing on each patient's
    first row (by order) and on the other rows (NaN where there are none)."""
    rows = child.sort_values([link.key, link.order], kind="stable") if link.order else child
    first = ~rows[link.key].duplicated().to_numpy()
    out = {}
    for col in columns:
        gone = rows[col].isna().to_numpy()
        out[col] = {"first": float(gone[first].mean()) if first.any() else float("nan"),
                    "later": float(gone[~first].mean()) if (~first).any() else float("nan")}
    return out


def copied(train: pd.DataFrame, other: pd.DataFrame, key: str) -> np.ndarray | None:
    """Per row of ``other``: equal to some row of ``train`` in every column but ``key``
    (numbers compared as floats, missing equal to missing); None when nothing compares."""
    cols = [c for c in train.columns if c != key and c in other.columns]
    if not len(other) or not cols:
        return None

    def hashes(frame: pd.DataFrame) -> np.ndarray:
        parts = {c: (pd.to_numeric(frame[c], errors="coerce").astype(float)
                     if pd.api.types.is_numeric_dtype(frame[c]) else frame[c].astype(str))
                 for c in cols}
        return pd.util.hash_pandas_object(pd.DataFrame(parts), index=False).to_numpy()

    return np.isin(hashes(other), hashes(train))


def row_copies(train: pd.DataFrame, other: pd.DataFrame, key: str) -> float:
    """Share of ``other``'s rows equal to some row of ``train`` (:func:`copied`)."""
    hit = copied(train, other, key)
    return float(hit.mean()) if hit is not None else float("nan")


PLACES = ("only", "first", "middle", "last")


def places(child: pd.DataFrame, key: str) -> np.ndarray:
    """Where each row sits in its patient's rows (in table order; :func:`copies_by_place`
    sorts by the order first): ``only`` (a patient with one row), ``first``, ``middle`` or
    ``last``."""
    keys = child[key]
    t = keys.groupby(keys, sort=False).cumcount().to_numpy()
    n = keys.map(keys.value_counts()).to_numpy()
    return np.select([n == 1, t == 0, t == n - 1], ["only", "first", "last"], "middle")


def copies_by_place(train: pd.DataFrame, holdout: pd.DataFrame, synthetic: pd.DataFrame,
                    key: str, order: str | None = None) -> dict[str, Any]:
    """The audit's row-copies entry: the share of synthetic and of holdout rows that copy a
    training row (:func:`copied`; NaN where nothing compares), then, per place
    (:func:`places`), both shares, and ``matched``: the holdout's copy rate at each place
    weighted by the synthetic rows' places, ``Σ_place share_syn(place) · copies_holdout(place)``
    (the holdout's overall rate where it has no row at a place). A first interval of a
    one-interval patient, from day 0 to a common day, coincides with a training row far more
    often than a later one does, so a model whose patients have fewer rows copies more by
    coincidence alone; ``matched`` is the floor for its rows as they are placed."""
    if order is not None:
        holdout, synthetic = (f.sort_values([key, order], kind="stable") for f in (holdout,
                                                                                   synthetic))
    hit_s, hit_h = copied(train, synthetic, key), copied(train, holdout, key)
    out: dict[str, Any] = {side: float(hit.mean()) if hit is not None else float("nan")
                           for side, hit in (("synthetic", hit_s), ("holdout", hit_h))}
    if hit_s is None or hit_h is None:
        return out
    at_s, at_h = places(synthetic, key), places(holdout, key)
    out["by_place"] = {}
    matched = 0.0
    for place in PLACES:
        syn, hold = at_s == place, at_h == place
        rate = float(hit_h[hold].mean()) if hold.any() else float(hit_h.mean())
        matched += float(syn.mean()) * rate
        out["by_place"][place] = {
            "synthetic": float(hit_s[syn].mean()) if syn.any() else float("nan"),
            "holdout": float(hit_h[hold].mean()) if hold.any() else float("nan"),
            "synthetic_rows": int(syn.sum()), "holdout_rows": int(hold.sum())}
    out["matched"] = matched
    return out


def gaps(child: pd.DataFrame, link: ChildLink) -> np.ndarray:
    groups = child[link.key].to_numpy()
    same = groups[1:] == groups[:-1]
    return np.diff(child[link.order].to_numpy(dtype=float))[same]


def numeric_columns(frame: pd.DataFrame, skip: list[str]) -> list[str]:
    return [c for c in frame.columns if c not in skip
            and pd.api.types.is_numeric_dtype(frame[c]) and frame[c].nunique() > 5]


def patient_rows(tables: Tables, links: LinkSchema, landmark: float | None = None,
                 drop: tuple[str, ...] = ()) -> pd.DataFrame:
    """One row per patient (module doc); with ``landmark``, only child rows whose order is at
    or before it, summarised as count and last value."""
    parent = tables[links.parent]
    out = parent.drop(columns=[links.key, *drop]).reset_index(drop=True)
    keys = parent[links.key]
    for link in links.children:
        child = tables[link.table]
        if landmark is not None and link.order:
            child = child[child[link.order] <= landmark]
        values = numeric_columns(tables[link.table], link.structural())
        grouped = child.groupby(link.key, sort=False)
        out[f"{link.table}.n"] = keys.map(grouped.size()).fillna(0).to_numpy()
        if link.end and landmark is None:
            span = grouped[link.end].max() - grouped[link.order].min()
            out[f"{link.table}.span"] = keys.map(span).to_numpy()
        for col in values:
            if landmark is None:
                out[f"{link.table}.mean.{col}"] = keys.map(grouped[col].mean()).to_numpy()
                rank = grouped.cumcount()
                for t in range(FIRST_ROWS):
                    at = child[rank == t].set_index(link.key)[col]
                    out[f"{link.table}.{t + 1}.{col}"] = keys.map(at).to_numpy()
            out[f"{link.table}.last.{col}"] = keys.map(grouped[col].last()).to_numpy()
    return out


def linked_audit(train: Tables, holdout: Tables, synthetic: Tables, links: LinkSchema,
                 target: str | None = None, landmark: float | None = None,
                 seed: int = 0, k: int = 5) -> dict[str, Any]:
    """Every figure in the module doc, as a JSON-ready dict."""
    report: dict[str, Any] = {"links": links.to_dict(),
                              "structure": structure(synthetic, links)}
    parent_cols = numeric_columns(holdout[links.parent], [links.key])
    report["marginals"] = {
        name: {"synthetic": _mean_ks(holdout[name], synthetic[name], cols),
               "training": _mean_ks(holdout[name], train[name], cols)}
        for name, cols in [(links.parent, parent_cols)]
        + [(c.table, numeric_columns(holdout[c.table], c.structural())) for c in links.children]
    }
    dynamics = {}
    for link in links.children:
        hold_n, train_n = counts(holdout, links, link), counts(train, links, link)
        entry: dict[str, Any] = {
            "children_ks": {"synthetic": ks_statistic(hold_n, counts(synthetic, links, link)),
                            "training": ks_statistic(hold_n, train_n),
                            "training_protected": ks_statistic(hold_n, pd.Series(
                                protected_counts(train_n.to_numpy(), k)))},
            "row_copies": copies_by_place(train[link.table], holdout[link.table],
                                          synthetic[link.table], link.key, link.order)}
        sides = {"holdout": holdout, "training": train, "synthetic": synthetic}
        gappy = [c for c in holdout[link.table].columns if c not in link.structural()
                 and any(t[link.table][c].isna().any() for t in sides.values())]
        shares = {side: missing_shares(t[link.table], link, gappy) for side, t in sides.items()}
        entry["missing"] = {c: {side: shares[side][c] for side in sides} for c in gappy}
        if link.order:
            entry["gap_ks"] = {
                "synthetic": ks_statistic(pd.Series(gaps(holdout[link.table], link)),
                                          pd.Series(gaps(synthetic[link.table], link))),
                "training": ks_statistic(pd.Series(gaps(holdout[link.table], link)),
                                         pd.Series(gaps(train[link.table], link)))}
            entry["lag1"] = {
                col: {"holdout": lag1(holdout[link.table], link, col),
                      "training": lag1(train[link.table], link, col),
                      "training_protected": lag1(_protected(train[link.table], col, k), link,
                                                 col),
                      "synthetic": lag1(synthetic[link.table], link, col),
                      "gap": lag1_gap(holdout[link.table], synthetic[link.table], link, col,
                                      np.random.default_rng(seed))}
                for col in numeric_columns(holdout[link.table], link.structural())}
        dynamics[link.table] = entry
    report["dynamics"] = dynamics
    rows = {k: patient_rows(t, links) for k, t in
            (("train", train), ("holdout", holdout), ("synthetic", synthetic))}
    label = target or rows["holdout"].columns[0]
    schema = infer_schema(rows["holdout"], label)
    report["patient_detection"] = {
        "synthetic": detection_auc(rows["holdout"], rows["synthetic"], schema, seed=seed)[0],
        "training": detection_auc(rows["holdout"], rows["train"], schema, seed=seed)[0]}
    risks = risk_scores(rows["train"], rows["holdout"], rows["synthetic"], schema, seed=seed)
    report["patient_risks"] = {name: attack.risk for name, attack in risks.attacks.items()}
    report["patient_risk_intervals"] = {name: list(attack.risk_ci)
                                        for name, attack in risks.attacks.items()}
    if target is not None:
        report["longitudinal"] = longitudinal(train, holdout, synthetic, links, target,
                                              landmark, seed)
    return report


def _protected(child: pd.DataFrame, column: str, k: int) -> pd.DataFrame:
    """``child`` with ``column`` clipped to its ``k``-th smallest and largest values."""
    x = np.sort(pd.to_numeric(child[column], errors="coerce").dropna().to_numpy(dtype=float))
    if len(x) < 2 * k:
        return child
    out = child.copy()
    out[column] = pd.to_numeric(child[column], errors="coerce").clip(x[k - 1], x[-k])
    return out


def _mean_ks(real: pd.DataFrame, other: pd.DataFrame, cols: list[str]) -> float:
    values = [ks_statistic(real[c], other[c]) for c in cols]
    return float(np.nanmean(values)) if values else float("nan")


def longitudinal(train: Tables, holdout: Tables, synthetic: Tables, links: LinkSchema,
                 target: str, landmark: float | None, seed: int) -> dict[str, float]:
    """Holdout ROC AUC of the landmark task (module doc), trained on synthetic or training."""
    if landmark is None:
        ends = [holdout[c.table][c.order] for c in links.children if c.order]
        landmark = float(np.median(np.concatenate(ends))) if ends else None
    drop = tuple(c.bound for c in links.children if c.bound)
    frames = {k: patient_rows(t, links, landmark, drop) for k, t in
              (("train", train), ("holdout", holdout), ("synthetic", synthetic))}
    columns = pd.get_dummies(pd.concat(frames.values(), keys=list(frames)).drop(columns=[target]),
                             dummy_na=True).astype(float).fillna(-1.0)
    y_hold = frames["holdout"][target].astype(str).to_numpy()
    out = {"landmark": landmark}
    for name in ("synthetic", "train"):
        y = frames[name][target].astype(str).to_numpy()
        clf = RandomForestClassifier(n_estimators=300, random_state=seed, n_jobs=1)
        clf.fit(columns.loc[name].to_numpy(), y)
        proba = clf.predict_proba(columns.loc["holdout"].to_numpy())
        out[name] = _auc(y_hold, proba, clf.classes_)
    return out


def _auc(y: np.ndarray, proba: np.ndarray, classes: np.ndarray) -> float:
    present = np.unique(y)
    if len(present) < 2:
        return float("nan")
    if len(classes) == 2:
        return float(roc_auc_score(y == classes[1], proba[:, 1]))
    scores = [roc_auc_score(y == c, proba[:, i]) for i, c in enumerate(classes)
              if c in present]
    return float(np.mean(scores))
