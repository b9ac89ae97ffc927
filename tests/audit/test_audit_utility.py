"""Utility: TRTR vs TSTR and friends, against what scikit-learn computes directly."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import f1_score, roc_auc_score

from clinisynth.audit import utility as uti
from clinisynth.schema import infer_schema

from .helpers import split

FAST = ("logistic_regression",)


def test_scores_match_a_direct_scikit_learn_fit(bc_70, bc_gmm):
    train, holdout, target = bc_70
    schema = infer_schema(train, target)
    result = uti.utility_scores(train, holdout, bc_gmm, schema, models=FAST, seed=0)
    assert {(r["scenario"], r["model"]) for r in result.scores} == {
        (s, "logistic_regression") for s in uti.SCENARIOS}
    # the TSTR row is a model fitted on synthetic rows and scored on holdout
    model = uti.fit_model("logistic_regression", schema, uti.feature_frame(bc_gmm, schema),
                     bc_gmm[target].to_numpy(), 0)
    x_h, y_h = uti.feature_frame(holdout, schema), holdout[target].to_numpy()
    assert result.get("TSTR", "logistic_regression", "f1") == pytest.approx(
        f1_score(y_h, model.predict(x_h), average="macro"))
    assert result.get("TSTR", "logistic_regression", "roc_auc") == pytest.approx(
        roc_auc_score(y_h, model.predict_proba(x_h)[:, 1]))
    ratio = result.ratios["logistic_regression"]["f1"]
    assert ratio == pytest.approx(result.get("TSTR", "logistic_regression", "f1")
                                  / result.get("TRTR", "logistic_regression", "f1"))
    assert result.get("TRTR", "logistic_regression", "roc_auc") > 0.95


def test_synthetic_with_shuffled_labels_is_useless(bc_70):
    train, holdout, target = bc_70
    schema = infer_schema(train, target)
    noise = train.assign(**{target: train[target].sample(frac=1, random_state=0).to_numpy()})
    result = uti.utility_scores(train, holdout, noise, schema, models=FAST, seed=0)
    assert abs(result.get("TSTR", "logistic_regression", "roc_auc") - 0.5) < 0.15
    assert result.ratios["logistic_regression"]["f1"] < 0.8


def test_single_class_synthetic_gives_nan_and_a_note(bc_70):
    train, holdout, target = bc_70
    schema = infer_schema(train, target)
    one_class = train[train[target] == 1]
    result = uti.utility_scores(train, holdout, one_class, schema, models=FAST, seed=0)
    assert np.isnan(result.get("TSTR", "logistic_regression", "accuracy"))
    assert not np.isnan(result.get("TRTR", "logistic_regression", "accuracy"))
    assert any("TSTR/logistic_regression" in n and "single class" in n for n in result.notes)


def test_forest_importances_agree_for_real_data_and_multiclass_auc(liver):
    df, target = liver
    rest, fresh = split(df, target, 0.3)
    train, holdout = split(rest, target, 0.3)
    schema = infer_schema(train, target)
    result = uti.utility_scores(train, holdout, fresh, schema,
                                models=("random_forest", "gradient_boosting"), seed=0)
    imp = result.importance
    assert len(imp["real"]) == len(imp["features"]) == 18
    assert sum(imp["real"]) == pytest.approx(1.0)
    assert imp["importance_spearman"] > 0.3  # two real samples rank features alike
    auc = result.get("TRTR", "random_forest", "roc_auc")
    assert 0.6 < auc <= 1.0  # one-vs-rest over three classes (one rare)
    assert all(not np.isnan(r["roc_auc"]) for r in result.scores)


def test_unknown_model_is_a_clear_error(bc_70):
    from clinisynth.errors import ClinisynthError

    with pytest.raises(ClinisynthError, match="unknown model 'svm'"):
        uti.make_model("svm")
