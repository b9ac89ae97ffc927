"""The public audit(): headline contract, JSON, seeds, flags and one-line errors."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest

from clinisynth.audit import DIRECTIONS, HEADLINE_KEYS, audit, describe
from clinisynth.errors import ClinisynthError

FAST = ("logistic_regression",)
KEYS = ["ks_mean", "wasserstein_mean", "tv_mean", "pair_trend", "contingency_similarity",
        "corr_frobenius", "detection_auc", "trtr_accuracy", "tstr_accuracy", "trtr_f1",
        "tstr_f1", "trtr_auc", "tstr_auc", "tstr_trtr_f1_ratio", "dcr_median", "dcr_share",
        "exact_copies", "holdout_exact_copies", "nnaa_train", "nnaa_holdout", "privacy_loss",
        "mia_auc", "calibrated_dcr", "singling_out_risk", "linkability_risk", "inference_risk"]


def without_timings(d: dict) -> dict:
    d = dict(d)
    d["meta"] = {k: v for k, v in d["meta"].items() if k != "seconds"}
    return d


def test_headline_is_flat_with_exactly_the_contract_keys(bc_audit):
    head = bc_audit.headline()
    assert list(head) == KEYS == list(HEADLINE_KEYS)
    assert all(isinstance(v, float) for v in head.values())
    assert math.isnan(head["contingency_similarity"])  # one categorical column: no pair
    assert set(DIRECTIONS) == set(KEYS)
    for key in KEYS:
        rng, direction = DIRECTIONS[key]
        assert rng and direction in ("higher", "lower", "closer to 0.5", "closer to 0.02",
                                     "baseline")
        assert rng in describe(key)
    # random-forest TRTR/TSTR feed the headline
    assert head["tstr_f1"] == bc_audit.utility.get("TSTR", "random_forest", "f1")
    assert head["tstr_trtr_f1_ratio"] == pytest.approx(head["tstr_f1"] / head["trtr_f1"])


def test_gmm_sample_scores_as_useful_and_private(bc_audit):
    head = bc_audit.headline()
    assert head["tstr_trtr_f1_ratio"] > 0.9
    assert abs(head["dcr_share"] - 0.5) < 0.1 and abs(head["mia_auc"] - 0.5) < 0.1
    assert head["exact_copies"] == 0
    # the distance-based scores raise no flag; the attack-based risks are not asserted here:
    # the calibrated hybrid can write real extremes (issue 9), which singling out may flag
    risk_keys = {"singling_out_risk", "linkability_risk", "inference_risk"}
    assert not [f for f in bc_audit.flags if f["key"] not in {"detection_auc", *risk_keys}]


def test_json_states_range_and_direction_and_is_strict(bc_audit, tmp_path):
    path = tmp_path / "out" / "audit.json"
    text = bc_audit.to_json(path)
    data = json.loads(path.read_text())
    assert json.loads(text) == data
    for key in KEYS:
        entry = data["headline"][key]
        assert entry["range"] == DIRECTIONS[key][0]
        assert entry["direction"] == DIRECTIONS[key][1]
    assert data["headline"]["contingency_similarity"]["value"] is None  # NaN -> null
    columns = data["fidelity"]["columns"]
    assert [c["name"] for c in columns][:2] == ["mean radius", "mean texture"]
    for name in ("ks", "wasserstein", "tv", "f1", "roc_auc"):
        assert name in data["legend"]
    assert data["meta"]["rows"] == {"train": 398, "holdout": 171, "synthetic": 398}


def test_same_seed_same_result(bc_70, bc_gmm):
    train, holdout, target = bc_70
    a = audit(train, holdout, bc_gmm, target, seed=1, models=FAST, privacy_sample=150)
    b = audit(train, holdout, bc_gmm, target, seed=1, models=FAST, privacy_sample=150)
    c = audit(train, holdout, bc_gmm, target, seed=2, models=FAST, privacy_sample=150)
    assert without_timings(a.to_dict()) == without_timings(b.to_dict())
    assert a.headline()["nnaa_train"] != c.headline()["nnaa_train"]  # the seed does matter
    assert a.headline()["ks_mean"] == c.headline()["ks_mean"]  # marginals use every row
    assert a.privacy.sizes["synthetic"] == 150


def test_memorised_table_is_flagged(bc_70):
    train, holdout, target = bc_70
    result = audit(train, holdout, train, target, models=FAST)
    keys = {f["key"] for f in result.flags}
    assert {"dcr_share", "exact_copies", "privacy_loss", "mia_auc", "detection_auc"} <= keys
    assert result.headline()["exact_copies"] == 171  # every row of the 171-row train sample


def test_other_tools_tables_with_string_labels_and_float_codes(mixed_table):
    train, holdout = mixed_table.iloc[:200], mixed_table.iloc[200:]
    rng = np.random.default_rng(0)
    syn = train.sample(150, replace=True, random_state=0).reset_index(drop=True)
    syn["bmi"] = syn["bmi"] + rng.normal(0, 2, len(syn))
    syn["smoker"] = syn["smoker"].astype(float)  # 0.0/1.0 from another tool: same categories
    result = audit(train, holdout, syn[list(reversed(syn.columns))], "outcome", models=FAST)
    head = result.headline()
    assert 0 <= head["contingency_similarity"] <= 1 and 0 <= head["tv_mean"] <= 1
    assert result.fidelity.column("smoker").tv < 0.15
    assert result.fidelity.column("lab").synthetic_missing > 0


@pytest.mark.parametrize(("change", "message"), [
    (lambda t, h, s: (t, h.drop(columns="age"), s), "column 'age' is in train but not in holdout"),
    (lambda t, h, s: (t, h, s.assign(extra=1)), "column 'extra' is in synthetic but not in train"),
    (lambda t, h, s: (t, h, s.drop(columns="outcome")),
     "target column 'outcome' is missing from synthetic"),
    (lambda t, h, s: (t, h.iloc[:9], s), "holdout has 9 rows; at least 10 are needed"),
    (lambda t, h, s: (t, h[h["outcome"] == "No"], s), "holdout has a single class"),
    (lambda t, h, s: (t, h, s.assign(bmi="n/a")),
     "synthetic: column 'bmi' should be numeric but has non-numeric value 'n/a'"),
])
def test_bad_input_is_a_one_line_error(mixed_table, change, message):
    train, holdout = mixed_table.iloc[:200], mixed_table.iloc[200:]
    args = change(train, holdout, train.copy())
    with pytest.raises(ClinisynthError, match=message.replace("(", r"\(")) as err:
        audit(*args, target="outcome", models=FAST)
    assert "\n" not in str(err.value)


def test_bad_options_fail_before_work(mixed_table):
    with pytest.raises(ClinisynthError, match="unknown model 'svm'"):
        audit(mixed_table, mixed_table, mixed_table, "outcome", models=("svm",))
    with pytest.raises(ClinisynthError, match="privacy_sample must be at least 10"):
        audit(mixed_table, mixed_table, mixed_table, "outcome", privacy_sample=3)
    with pytest.raises(ClinisynthError, match="target column 'nope' is missing from train"):
        audit(mixed_table, mixed_table, mixed_table, "nope")
    with pytest.raises(ClinisynthError, match="expected a pandas DataFrame"):
        audit(mixed_table, mixed_table, pd.Series([1]), "outcome")
