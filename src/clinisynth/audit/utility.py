"""Utility: is a model trained on the synthetic table as good as one trained on the real one?

Scenarios (each model is fitted on the first table and scored on the second):
  TRTR      train real       -> holdout    (the reference)
  TSTR      synthetic        -> holdout
  TRTS      train real       -> synthetic  (does the synthetic table look like real cases?)
  mixed     ½ real + ½ synthetic, ``min(|train|, |synthetic|)`` rows in all -> holdout
  augmented train real + all synthetic -> holdout
Models: logistic regression, random forest, gradient boosting (scikit-learn), after median
imputation with missing flags + standardisation (numeric) and one-hot encoding (categorical).
Metrics: accuracy, macro precision / recall / F1, ROC-AUC (one-vs-rest macro over the classes
present for multiclass). ``ratios[model][metric] = TSTR / TRTR``. Feature-importance agreement:
Spearman correlation (and top-5 overlap) of the impurity importances of the real-trained and
synthetic-trained random forests, summed per original column.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from scipy.stats import spearmanr
from sklearn.base import ClassifierMixin, clone
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import HistGradientBoostingClassifier, RandomForestClassifier
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, f1_score, precision_score, recall_score, roc_auc_score
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from clinisynth.audit.inputs import as_float, rng_for, sample_index, single_thread
from clinisynth.audit.result import UtilityResult
from clinisynth.errors import ClinisynthError
from clinisynth.schema import TableSchema, category_key
from clinisynth.values import factorized_keys

MODELS = ("logistic_regression", "random_forest", "gradient_boosting")
SCENARIOS = ("TRTR", "TSTR", "TRTS", "mixed", "augmented")
METRICS = ("accuracy", "precision", "recall", "f1", "roc_auc")
NAN = float("nan")
_MIXED = 20


def make_model(name: str, seed: int = 0) -> ClassifierMixin:
    """A fresh, seeded classifier by name (one of :data:`MODELS`)."""
    if name == "logistic_regression":
        return LogisticRegression(max_iter=2000)
    if name == "random_forest":
        return RandomForestClassifier(n_estimators=100, random_state=seed, n_jobs=1)
    if name == "gradient_boosting":
        return HistGradientBoostingClassifier(max_iter=100, random_state=seed)
    raise ClinisynthError(f"unknown model '{name}'; choose from {', '.join(MODELS)}")


# -- design matrix -----------------------------------------------------------------------------
def feature_frame(df: pd.DataFrame, schema: TableSchema) -> pd.DataFrame:
    """Features only: numeric columns as float (NaN kept), categorical as text keys."""
    data: dict[str, Any] = {}
    for col in schema.features:
        if col.is_numeric:
            data[col.name] = as_float(df[col.name])
        else:  # one label object per distinct value, shared by its cells
            codes, keys = factorized_keys(df[col.name])
            labels = np.array([repr(k) for k in keys] + ["<NA>"], dtype=object)
            data[col.name] = labels[codes]
    return pd.DataFrame(data)


def preprocessor(schema: TableSchema) -> ColumnTransformer:
    """One transformer per feature, named by its position, so outputs map back to columns."""
    parts = []
    for i, col in enumerate(schema.features):
        if col.is_numeric:
            step = make_pipeline(SimpleImputer(strategy="median", add_indicator=True,
                                               keep_empty_features=True), StandardScaler())
        else:
            step = OneHotEncoder(handle_unknown="ignore", sparse_output=False)
        parts.append((f"f{i}", step, [col.name]))
    return ColumnTransformer(parts, sparse_threshold=0.0)


def label_codes(series: pd.Series, classes: list[Any]) -> np.ndarray:
    """Class index of each label, by category key (unknown labels get new indices in order)."""
    index = {category_key(c): i for i, c in enumerate(classes)}
    out = []
    for value in series:
        key = category_key(value)
        if key not in index:
            index[key] = len(index)
        out.append(index[key])
    return np.asarray(out, dtype=int)


# -- scoring -----------------------------------------------------------------------------------
def _proba(model: Pipeline, x: pd.DataFrame, n_classes: int) -> np.ndarray:
    """Predicted probabilities with one column per class index (0 for classes never seen)."""
    raw = model.predict_proba(x)
    out = np.zeros((len(x), n_classes))
    out[:, model.classes_.astype(int)] = raw
    return out


def roc_auc(y: np.ndarray, proba: np.ndarray) -> float:
    """Binary ROC-AUC, or one-vs-rest macro over the classes present (with both sides) in y."""
    present = [k for k in np.unique(y) if 0 < np.sum(y == k) < len(y)]
    if not present:
        return NAN
    if proba.shape[1] == 2:
        return float(roc_auc_score(y == 1, proba[:, 1]))
    return float(np.mean([roc_auc_score(y == k, proba[:, k]) for k in present]))


def scores(model: Pipeline, x: pd.DataFrame, y: np.ndarray, n_classes: int) -> dict[str, float]:
    """Accuracy, macro precision/recall/F1 and ROC-AUC of a fitted model on (x, y)."""
    pred = model.predict(x)
    return {
        "accuracy": float(accuracy_score(y, pred)),
        "precision": float(precision_score(y, pred, average="macro", zero_division=0)),
        "recall": float(recall_score(y, pred, average="macro", zero_division=0)),
        "f1": float(f1_score(y, pred, average="macro", zero_division=0)),
        "roc_auc": roc_auc(y, _proba(model, x, n_classes)),
    }


def fit_model(name: str, schema: TableSchema, x: pd.DataFrame, y: np.ndarray,
         seed: int) -> Pipeline | None:
    """A fitted pipeline, or None when the training labels hold a single class."""
    if len(np.unique(y)) < 2:
        return None
    model = Pipeline([("prep", preprocessor(schema)), ("clf", clone(make_model(name, seed)))])
    return model.fit(x, y)


def importances(model: Pipeline, schema: TableSchema) -> np.ndarray:
    """Impurity importances of a fitted forest, summed over each original column's outputs."""
    names = model.named_steps["prep"].get_feature_names_out()
    owner = np.array([int(n.split("__", 1)[0][1:]) for n in names])
    raw = model.named_steps["clf"].feature_importances_
    return np.bincount(owner, weights=raw, minlength=len(schema.features))


def importance_agreement(real_model: Pipeline | None, syn_model: Pipeline | None,
                         schema: TableSchema) -> dict[str, Any]:
    """Spearman correlation and top-5 overlap of the two forests' per-column importances."""
    features = [c.name for c in schema.features]
    if real_model is None or syn_model is None:
        return {"features": features, "real": [], "synthetic": [],
                "importance_spearman": NAN, "importance_top5_overlap": NAN}
    imp_r, imp_s = importances(real_model, schema), importances(syn_model, schema)
    rho = spearmanr(imp_r, imp_s).statistic if len(features) > 1 else NAN
    k = min(5, len(features))
    top_r, top_s = set(np.argsort(-imp_r)[:k]), set(np.argsort(-imp_s)[:k])
    return {"features": features, "real": imp_r.tolist(), "synthetic": imp_s.tolist(),
            "importance_spearman": float(rho), "importance_top5_overlap": len(top_r & top_s) / k}


# -- all of it ---------------------------------------------------------------------------------
XY = tuple[pd.DataFrame, np.ndarray]


def _training_set(xy: dict[str, XY], key: str, seed: int) -> XY:
    """The rows a model is fitted on: ``real``, ``synthetic``, ``mixed`` (a seeded half of
    ``min(|train|, |synthetic|)`` from each) or ``augmented`` (both whole); the last two are
    built from the design matrices when needed, not kept."""
    if key in ("real", "synthetic"):
        return xy[key]
    (x_r, y_r), (x_s, y_s) = xy["real"], xy["synthetic"]
    if key == "mixed":
        half = min(len(y_r), len(y_s)) // 2
        rng = rng_for(seed, _MIXED)
        i, j = sample_index(len(y_r), half, rng), sample_index(len(y_s), half, rng)
        x_r, y_r, x_s, y_s = x_r.iloc[i], y_r[i], x_s.iloc[j], y_s[j]
    return pd.concat([x_r, x_s], ignore_index=True), np.concatenate([y_r, y_s])


# scenario -> (training set, test set)
_PLAN = {"TRTR": ("real", "holdout"), "TSTR": ("synthetic", "holdout"),
         "TRTS": ("real", "synthetic"), "mixed": ("mixed", "holdout"),
         "augmented": ("augmented", "holdout")}


def utility_scores(train: pd.DataFrame, holdout: pd.DataFrame, synthetic: pd.DataFrame,
            schema: TableSchema, models: Sequence[str] = MODELS, seed: int = 0) -> UtilityResult:
    """Every utility score: scenarios × models × metrics, ratios, importance agreement."""
    with single_thread():
        return _utility(train, holdout, synthetic, schema, models, seed)


def _utility(train: pd.DataFrame, holdout: pd.DataFrame, synthetic: pd.DataFrame,
             schema: TableSchema, models: Sequence[str], seed: int) -> UtilityResult:
    for name in models:
        make_model(name)  # fail early on an unknown name
    classes = schema.classes
    xy = {key: (feature_frame(df, schema), label_codes(df[schema.target], classes))
          for key, df in (("real", train), ("synthetic", synthetic), ("holdout", holdout))}
    n_classes = max(len(classes), *(int(y.max()) + 1 for _, y in xy.values()))
    rows, notes, fitted = [], [], {}
    for name in models:
        for key in ("real", "synthetic", "mixed", "augmented"):
            fitted[name, key] = fit_model(name, schema, *_training_set(xy, key, seed), seed)
        for scenario, (fit_on, test_on) in _PLAN.items():
            model = fitted[name, fit_on]
            if model is None:
                notes.append(f"{scenario}/{name}: the {fit_on} training rows hold a single class")
                row = dict.fromkeys(METRICS, NAN)
            else:
                row = scores(model, *xy[test_on], n_classes)
            rows.append({"scenario": scenario, "model": name, **row})
    result = UtilityResult(scores=rows, ratios={}, importance={}, notes=notes)
    result.ratios = {name: {m: _ratio(result.get("TSTR", name, m), result.get("TRTR", name, m))
                            for m in METRICS} for name in models}
    result.importance = importance_agreement(fitted.get(("random_forest", "real")),
                                             fitted.get(("random_forest", "synthetic")), schema)
    return result


def _ratio(tstr: float, trtr: float) -> float:
    return tstr / trtr if trtr > 0 and not np.isnan(tstr) else NAN
