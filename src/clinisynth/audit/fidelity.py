"""Fidelity: how closely the synthetic table reproduces the real (training) table.

Marginals, per column:
  * numeric: Kolmogorov-Smirnov statistic ``D = sup_x |F_real(x) - F_syn(x)|`` and the
    Wasserstein-1 distance ``W = ∫ |F_real - F_syn| dx`` after scaling by the real range
    ``(x - min) / (max - min)``; both 0 for identical distributions, lower is better.
  * categorical: total variation distance ``TV = ½ Σ_c |p_real(c) - p_syn(c)|``.
  Missing cells are left out (as SDMetrics does); missing rates are reported beside.
Pairs:
  * numeric pairs: correlation similarity ``1 - |r_real - r_syn| / 2`` (Pearson, pairwise
    complete rows); ``pair_trend`` is its mean.
  * categorical pairs: contingency similarity ``1 - ½ Σ_ab |p_real(a,b) - p_syn(a,b)|``.
  * ``corr_frobenius = ||C_real - C_syn||_F`` over numeric and binary (0/1) columns.
Detection: cross-validated ROC-AUC of a gradient-boosting classifier telling real rows from
synthetic rows (balanced, mixed-type encoding); 0.5 means indistinguishable.
"""

from __future__ import annotations

import sys
from itertools import combinations
from typing import Any

import numpy as np
import pandas as pd
from scipy.stats import wasserstein_distance
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.model_selection import StratifiedKFold, cross_val_score

from clinisynth.audit.inputs import (
    as_float,
    category_codes,
    discrete_names,
    numeric_names,
    rng_for,
    sample_index,
    single_thread,
)
from clinisynth.audit.result import ColumnScore, FidelityResult
from clinisynth.distances import RecordEncoder
from clinisynth.schema import TableSchema, category_key

NAN = float("nan")
KS_DECIMALS = sys.float_info.dig - 1


# -- marginals ---------------------------------------------------------------------------------
def ks_statistic(real: pd.Series, synthetic: pd.Series) -> float:
    """Two-sample KS statistic ``sup |F_real - F_syn|`` on non-missing values (0 to 1).

    Values are rounded to 14 decimals first (as SDMetrics does), so that float noise from
    decoding (6.802000000000001 vs 6.802) does not count as a difference. The statistic is
    computed as ``scipy.stats.ks_2samp`` computes it (both empirical CDFs evaluated at every
    pooled value), without the p-value and the per-call overhead that dominated the weight
    search's scoring; a test checks the two agree.
    """
    r, s = as_float(real), as_float(synthetic)
    r, s = np.round(r[~np.isnan(r)], KS_DECIMALS), np.round(s[~np.isnan(s)], KS_DECIMALS)
    if len(r) == 0 or len(s) == 0:
        return NAN
    r.sort()
    s.sort()
    pooled = np.concatenate([r, s])
    gap = (np.searchsorted(r, pooled, side="right") / len(r)
           - np.searchsorted(s, pooled, side="right") / len(s))
    return float(np.abs(gap).max())


def wasserstein_normalised(real: pd.Series, synthetic: pd.Series) -> float:
    """Wasserstein-1 distance after mapping the real range ``[min, max]`` onto ``[0, 1]``."""
    r, s = as_float(real), as_float(synthetic)
    r, s = r[~np.isnan(r)], s[~np.isnan(s)]
    if len(r) == 0 or len(s) == 0:
        return NAN
    lo, hi = float(r.min()), float(r.max())
    scale = hi - lo if hi > lo else 1.0
    return float(wasserstein_distance((r - lo) / scale, (s - lo) / scale))


def tv_distance(real: pd.Series, synthetic: pd.Series) -> float:
    """Total variation ``½ Σ_c |p_real(c) - p_syn(c)|`` over non-missing categories (0 to 1)."""
    r, s = real.dropna(), synthetic.dropna()
    if len(r) == 0 or len(s) == 0:
        return NAN
    (cr, cs), k = category_codes([r, s])
    p_r = np.bincount(cr, minlength=k) / len(cr)
    p_s = np.bincount(cs, minlength=k) / len(cs)
    return float(0.5 * np.abs(p_r - p_s).sum())


def column_scores(real: pd.DataFrame, synthetic: pd.DataFrame,
                  schema: TableSchema) -> list[ColumnScore]:
    """Per column: kind, KS and Wasserstein (numeric) or TV (categorical), missing rates."""
    rows = []
    for col in schema.columns:
        r, s = real[col.name], synthetic[col.name]
        numeric = col.is_numeric
        rows.append(ColumnScore(
            name=col.name, kind=col.kind,
            ks=ks_statistic(r, s) if numeric else NAN,
            wasserstein=wasserstein_normalised(r, s) if numeric else NAN,
            tv=NAN if numeric else tv_distance(r, s),
            real_missing=float(r.isna().mean()), synthetic_missing=float(s.isna().mean()),
        ))
    return rows


def _nanmean(values: list[float]) -> float:
    arr = np.asarray(values, dtype=float)
    arr = arr[~np.isnan(arr)]
    return float(arr.mean()) if len(arr) else NAN


def ks_mean(real: pd.DataFrame, synthetic: pd.DataFrame, schema: TableSchema) -> float:
    """Mean KS statistic over the numeric columns (0 to 1, lower is better; NaN if none)."""
    return _nanmean([ks_statistic(real[c], synthetic[c]) for c in numeric_names(schema)])


# -- pairs -------------------------------------------------------------------------------------
def _numeric_frame(df: pd.DataFrame, names: list[str]) -> pd.DataFrame:
    return pd.DataFrame({n: as_float(df[n]) for n in names})


def correlation_pairs(real: pd.DataFrame, synthetic: pd.DataFrame,
                      schema: TableSchema) -> list[dict[str, Any]]:
    """Every numeric pair with a defined correlation in both tables: r_real, r_syn, similarity."""
    names = numeric_names(schema)
    if len(names) < 2:
        return []
    c_r = _numeric_frame(real, names).corr().to_numpy()
    c_s = _numeric_frame(synthetic, names).corr().to_numpy()
    out = []
    for i, j in combinations(range(len(names)), 2):
        r, s = c_r[i, j], c_s[i, j]
        if np.isnan(r) or np.isnan(s):
            continue
        out.append({"a": names[i], "b": names[j], "real": float(r), "synthetic": float(s),
                    "correlation_similarity": float(1.0 - abs(r - s) / 2.0)})
    return out


def pair_trend(real: pd.DataFrame, synthetic: pd.DataFrame, schema: TableSchema) -> float:
    """Mean of ``1 - |r_real - r_syn| / 2`` over numeric pairs (0 to 1, higher; NaN if none)."""
    return _nanmean([p["correlation_similarity"]
                     for p in correlation_pairs(real, synthetic, schema)])


def contingency_pairs(real: pd.DataFrame, synthetic: pd.DataFrame,
                      schema: TableSchema) -> list[dict[str, Any]]:
    """Every categorical pair: ``1 - ½ Σ_ab |p_real(a,b) - p_syn(a,b)|`` (missing = a category)."""
    names = discrete_names(schema)
    codes = {}
    for name in names:
        (cr, cs), k = category_codes([real[name], synthetic[name]])
        codes[name] = (cr, cs, k)
    out = []
    for a, b in combinations(names, 2):
        ra, sa, ka = codes[a]
        rb, sb, kb = codes[b]
        p_r = np.bincount(ra * kb + rb, minlength=ka * kb) / len(ra)
        p_s = np.bincount(sa * kb + sb, minlength=ka * kb) / len(sa)
        out.append({"a": a, "b": b, "contingency": float(1.0 - 0.5 * np.abs(p_r - p_s).sum())})
    return out


def _binary_codes(series: pd.Series, categories: list[Any]) -> np.ndarray:
    index = {category_key(c): float(i) for i, c in enumerate(categories)}
    return np.array([NAN if pd.isna(v) else index.get(category_key(v), NAN) for v in series],
                    dtype=float)


def correlation_columns(schema: TableSchema) -> list[str]:
    """Columns in the correlation matrix: non-constant numeric and binary columns."""
    return [c.name for c in schema.columns
            if not c.is_constant and (c.is_numeric or c.kind == "binary")]


def correlation_matrix(df: pd.DataFrame, schema: TableSchema) -> np.ndarray:
    """Pearson correlations over :func:`correlation_columns` (binary coded 0/1)."""
    data = {}
    for name in correlation_columns(schema):
        col = schema[name]
        data[name] = as_float(df[name]) if col.is_numeric else _binary_codes(
            df[name], list(col.categories or []))
    return pd.DataFrame(data).corr().to_numpy()


def corr_frobenius(c_real: np.ndarray, c_syn: np.ndarray) -> float:
    """``||C_real - C_syn||_F``; an undefined correlation (constant column) counts as 0."""
    if c_real.size == 0:
        return NAN
    diff = np.nan_to_num(c_real, nan=0.0) - np.nan_to_num(c_syn, nan=0.0)
    return float(np.linalg.norm(diff, ord="fro"))


# -- detection ---------------------------------------------------------------------------------
def detection_auc(real: pd.DataFrame, synthetic: pd.DataFrame, schema: TableSchema,
                  seed: int = 0, sample: int = 2000) -> tuple[float, float, int]:
    """5-fold stratified CV ROC-AUC of real-vs-synthetic; returns (mean, std, rows per side).

    Both sides are subsampled to ``n = min(len(real), len(synthetic), sample)`` rows (seeded)
    and encoded with :class:`~clinisynth.distances.RecordEncoder` fitted on the real rows.
    """
    n = min(len(real), len(synthetic), sample)
    rng = rng_for(seed, 1)
    r = real.iloc[sample_index(len(real), n, rng)]
    s = synthetic.iloc[sample_index(len(synthetic), n, rng)]
    enc = RecordEncoder(schema).fit(real)
    x = np.vstack([enc.transform(r), enc.transform(s)])
    y = np.r_[np.zeros(n), np.ones(n)]
    clf = HistGradientBoostingClassifier(max_iter=100, random_state=seed)
    cv = StratifiedKFold(n_splits=5, shuffle=True, random_state=seed)
    with single_thread():
        aucs = cross_val_score(clf, x, y, cv=cv, scoring="roc_auc")
    return float(aucs.mean()), float(aucs.std()), n


# -- all of it ---------------------------------------------------------------------------------
def fidelity_scores(real: pd.DataFrame, synthetic: pd.DataFrame, schema: TableSchema,
             seed: int = 0, sample: int = 2000) -> FidelityResult:
    """Every fidelity score of ``synthetic`` against ``real`` (the training rows)."""
    columns = column_scores(real, synthetic, schema)
    pairs = correlation_pairs(real, synthetic, schema)
    cont = contingency_pairs(real, synthetic, schema)
    c_real, c_syn = correlation_matrix(real, schema), correlation_matrix(synthetic, schema)
    det, det_std, det_n = detection_auc(real, synthetic, schema, seed=seed, sample=sample)
    return FidelityResult(
        columns=columns,
        ks_mean=_nanmean([c.ks for c in columns]),
        wasserstein_mean=_nanmean([c.wasserstein for c in columns]),
        tv_mean=_nanmean([c.tv for c in columns]),
        pair_trend=_nanmean([p["correlation_similarity"] for p in pairs]),
        contingency_similarity=_nanmean([p["contingency"] for p in cont]),
        corr_frobenius=corr_frobenius(c_real, c_syn),
        detection_auc=det, detection_auc_std=det_std, detection_rows=det_n,
        corr_columns=correlation_columns(schema), corr_real=c_real, corr_synthetic=c_syn,
        pairs=pairs + cont,
    )
