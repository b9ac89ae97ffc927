"""Training scenarios: does synthetic data help a classifier, and most when real data is scarce?

For one (table, synthesizer, seed) cell with its split (train = 70 %, holdout = 30 %) and its
synthetic table (as many rows as train, from the synthesizer fitted on train), the same
classifier is trained on each of these sets and scored on the same holdout:

- ``train-real``: the real training rows.
- ``train-synthetic``: the synthetic rows only.
- ``train-mixed``: real + synthetic rows.
- ``augmentation``: a small stratified real sample (the smallest scarcity fraction) plus as many
  synthetic rows as train holds, from the synthesizer refitted on that small sample only.
- the scarcity curve: real samples of 10 %, 25 %, 50 % and 100 % of train (nested, stratified,
  at least two rows per class), each alone (``scarcity-real``) and with as many synthetic rows as
  train holds from the synthesizer fitted on that sample (``scarcity-augmented``; at 100 % this is
  ``train-mixed``).

The classifier is a random forest (100 trees) after median/most-frequent imputation and one-hot
encoding of text columns; labels are compared as text. Every random choice flows from ``seed``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import RandomForestClassifier
from sklearn.impute import SimpleImputer
from sklearn.metrics import accuracy_score, f1_score, roc_auc_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder

FRACTIONS: tuple[float, ...] = (0.1, 0.25, 0.5, 1.0)
SCENARIO_METRICS: tuple[str, ...] = ("accuracy", "f1", "auc")
MIN_ROWS_PER_CLASS = 2

#: fits a synthesizer on a real sample and returns ``n`` synthetic rows
SampleFn = Callable[[pd.DataFrame, int], pd.DataFrame]


def _classifier(features: pd.DataFrame, seed: int) -> Any:
    text = [c for c in features.columns
            if not pd.api.types.is_numeric_dtype(features[c])
            or pd.api.types.is_bool_dtype(features[c])]
    numeric = [c for c in features.columns if c not in text]
    steps = []
    if numeric:
        steps.append(("num", SimpleImputer(strategy="median", keep_empty_features=True), numeric))
    if text:
        steps.append(("txt", make_pipeline(
            SimpleImputer(strategy="most_frequent", keep_empty_features=True),
            OneHotEncoder(handle_unknown="ignore")), text))
    prep = ColumnTransformer(steps)
    forest = RandomForestClassifier(n_estimators=100, random_state=seed, n_jobs=1)
    return make_pipeline(prep, forest)


def _as_text(frame: pd.DataFrame) -> pd.DataFrame:
    """Text columns as plain object strings (missing stays missing), so imputers accept them."""
    out = frame.copy()
    for col in out.columns:
        if not pd.api.types.is_numeric_dtype(out[col]) or pd.api.types.is_bool_dtype(out[col]):
            out[col] = out[col].map(lambda v: str(v) if pd.notna(v) else np.nan).astype(object)
    return out


def score(train: pd.DataFrame, test: pd.DataFrame, target: str, seed: int) -> dict[str, float]:
    """Accuracy, macro F1 and AUC (one-vs-rest macro when multiclass) on ``test``."""
    y_train = train[target].astype(str).to_numpy()
    y_test = test[target].astype(str).to_numpy()
    X_train = _as_text(train.drop(columns=[target]))
    X_test = _as_text(test.drop(columns=[target]))[X_train.columns]
    model = _classifier(X_train, seed).fit(X_train, y_train)
    pred = model.predict(X_test)
    labels = np.unique(np.concatenate([y_train, y_test]))
    proba = np.zeros((len(test), len(labels)))
    got = model.predict_proba(X_test)
    for j, cls in enumerate(model.classes_):
        proba[:, np.searchsorted(labels, cls)] = got[:, j]
    present = np.unique(y_test)
    auc = float("nan")
    if len(present) == 2 and len(labels) == 2:
        auc = float(roc_auc_score(y_test == labels[1], proba[:, 1]))
    elif len(present) > 2:
        cols = np.searchsorted(labels, present)
        sub = proba[:, cols]
        sums = sub.sum(axis=1, keepdims=True)
        sub = np.divide(sub, sums, out=np.full_like(sub, 1.0 / len(present)), where=sums > 0)
        auc = float(roc_auc_score(y_test, sub, labels=present, multi_class="ovr",
                                  average="macro"))
    return {
        "accuracy": float(accuracy_score(y_test, pred)),
        "f1": float(f1_score(y_test, pred, labels=present, average="macro", zero_division=0)),
        "auc": auc,
    }


def nested_samples(train: pd.DataFrame, target: str, fractions: Sequence[float], seed: int,
                   min_per_class: int = MIN_ROWS_PER_CLASS) -> dict[float, pd.DataFrame]:
    """Stratified real samples of ``train``, nested (each contains the smaller ones)."""
    rng = np.random.default_rng(seed)
    orders = {label: rng.permutation(idx)
              for label, idx in sorted(train.groupby(target, sort=True).indices.items(),
                                       key=lambda kv: str(kv[0]))}
    out = {}
    for frac in fractions:
        keep = []
        for idx in orders.values():
            m = min(len(idx), max(min_per_class, int(round(frac * len(idx)))))
            keep.append(idx[:m])
        rows = np.sort(np.concatenate(keep))
        out[frac] = train.iloc[rows].reset_index(drop=True)
    return out


def _row(scenario: str, fraction: float, n_real: int, n_synthetic: int,
         scores: dict[str, float] | None, error: str = "") -> dict[str, Any]:
    row: dict[str, Any] = {"scenario": scenario, "fraction": fraction, "n_real": n_real,
                           "n_synthetic": n_synthetic}
    for key in SCENARIO_METRICS:
        row[key] = (scores or {}).get(key, float("nan"))
    row["error"] = error
    return row


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0] if text else ''}".strip()


def run_scenarios(train: pd.DataFrame, holdout: pd.DataFrame, synthetic: pd.DataFrame,
                  target: str, seed: int, sample_fn: SampleFn,
                  fractions: Sequence[float] = FRACTIONS) -> list[dict[str, Any]]:
    """Score every scenario on ``holdout``; a point whose synthesizer fails keeps its error."""
    n = len(train)
    synthetic = synthetic[list(train.columns)]
    real = score(train, holdout, target, seed)
    rows = [
        _row("train-real", 1.0, n, 0, real),
        _row("train-synthetic", 0.0, 0, len(synthetic), score(synthetic, holdout, target, seed)),
    ]
    mixed = score(pd.concat([train, synthetic], ignore_index=True), holdout, target, seed)
    rows.append(_row("train-mixed", 1.0, n, len(synthetic), mixed))
    samples = nested_samples(train, target, fractions, seed)
    curve: list[dict[str, Any]] = []
    for frac in sorted(fractions):
        sample = samples[frac]
        curve.append(_row("scarcity-real", frac, len(sample), 0,
                          real if frac >= 1.0 else score(sample, holdout, target, seed)))
        if frac >= 1.0:
            curve.append(_row("scarcity-augmented", frac, n, len(synthetic), mixed))
            continue
        try:
            fake = sample_fn(sample, n)[list(train.columns)]
            both = pd.concat([sample, fake], ignore_index=True)
            curve.append(_row("scarcity-augmented", frac, len(sample), len(fake),
                              score(both, holdout, target, seed)))
        except Exception as exc:  # a synthesizer that cannot fit so few rows: record, go on
            curve.append(_row("scarcity-augmented", frac, len(sample), 0, None, _one_line(exc)))
    smallest = min(fractions)
    aug = next(r for r in curve
               if r["scenario"] == "scarcity-augmented" and r["fraction"] == smallest)
    rows.append({**aug, "scenario": "augmentation"})
    return rows + curve

