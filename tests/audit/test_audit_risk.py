"""Attack-based risk on known cases: a copy and a jittered copy leak, an independent real sample
does not; the statistics by hand; column choices, roles and one-line errors."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from sklearn.model_selection import train_test_split

from clinisynth.audit.privacy import privacy_scores
from clinisynth.audit.risk import (
    inference_success,
    resolve_columns,
    risk_scores,
    split_halves,
    verdict,
)
from clinisynth.audit.risk_stats import AttackResult, residual_risk, wilson
from clinisynth.errors import ClinisynthError
from clinisynth.schema import infer_schema

ATTACKS = ("singling_out_univariate", "singling_out_multivariate", "linkability")


def jitter(df: pd.DataFrame, scale: float = 1e-3, seed: int = 1) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    out = df.copy()
    for name in out.columns:
        if pd.api.types.is_float_dtype(out[name]):
            out[name] = out[name] + rng.normal(scale=scale * out[name].std(), size=len(out))
    return out


@pytest.fixture(scope="module")
def independent(bc):
    """Synthetic = half of the real patients; train/holdout (70/30) from the other half."""
    df, target = bc
    syn, rest = train_test_split(df, test_size=0.5, random_state=1, stratify=df[target])
    tr, ho = train_test_split(rest, test_size=0.3, random_state=0, stratify=rest[target])
    return (tr.reset_index(drop=True), ho.reset_index(drop=True), syn.reset_index(drop=True),
            target)


def test_wilson_and_residual_risk_by_hand():
    r = wilson(30, 100)
    z = 1.959963984540054
    assert r.value == pytest.approx((30 + z * z / 2) / (100 + z * z))
    assert r.error == pytest.approx(z / (100 + z * z) * math.sqrt(30 * 70 / 100 + z * z / 4))
    lo, hi = r.ci
    assert 0 < lo < 0.3 < hi < 1
    a, c = wilson(90, 100), wilson(50, 100)
    risk, (low, high) = residual_risk(a, c)
    assert risk == pytest.approx((a.value - c.value) / (1 - c.value))
    assert low < risk < high
    assert residual_risk(c, a)[0] == 0.0  # control better than attack: clipped to 0


@pytest.mark.parametrize("make", [lambda t: t, jitter], ids=["copy", "jittered copy"])
def test_a_copy_of_the_training_rows_scores_high_risk_on_every_attack(bc_70, make):
    train, holdout, target = bc_70
    schema = infer_schema(train, target)
    result = risk_scores(train, holdout, make(train), schema, secrets=["mean area"], seed=0)
    for name in ATTACKS:
        attack = result.attacks[name]
        assert attack.risk > 0.85 and attack.risk_ci[0] > 0.8, (name, attack.to_dict())
        assert attack.attacks >= 170
    # the target is easy to guess for everyone (control ~0.93), so its excess is smaller
    assert result.attacks["inference:target"].risk > 0.5
    assert result.attacks["inference:mean area"].risk > 0.9
    head = result.headline()
    assert min(head.values()) > 0.85
    pri = privacy_scores(train, holdout, make(train), schema, seed=0)
    assert pri.calibrated_dcr > 0.95 and pri.calibrated_dcr_baseline < 0.05


def test_an_independent_real_sample_scores_at_baseline(independent):
    train, holdout, syn, target = independent
    schema = infer_schema(train, target)
    result = risk_scores(train, holdout, syn, schema, secrets=["mean area", "worst texture"],
                         seed=0)
    for name in ATTACKS:  # no excess over the control: risk ~0, interval reaching 0
        assert result.attacks[name].risk < 0.1 and result.attacks[name].risk_ci[0] == 0.0
    for name in result.attacks:
        if name.startswith("inference:"):
            # stated tolerance (86 targets per side, so a single risk is noisy): attack and
            # control rates differ by less than the sum of their 95 % errors
            attack = result.attacks[name]
            gap = abs(attack.attack.value - attack.control.value)
            assert gap <= attack.attack.error + attack.control.error, (name, attack.to_dict())
    pri = privacy_scores(train, holdout, syn, schema, seed=0)
    assert abs(pri.calibrated_dcr - pri.calibrated_dcr_baseline) < 0.03


def test_a_risk_that_one_patient_moves_far_says_so():
    # control right on 92 of 100 holdout targets, attack on 188 of 200 training targets
    noisy = AttackResult.from_counts("inference:target", "m", attacks=200, successes=188,
                                     control_successes=92, control_attacks=100,
                                     baseline_successes=100)
    # recount one success on each side and take the larger move of the (unclipped) risk
    def risk(attack_hits, control_hits):
        a, c = wilson(attack_hits, 200), wilson(control_hits, 100)
        return (a.value - c.value) / (1 - c.value)
    moves = [abs(risk(189, 92) - risk(188, 92)), abs(risk(188, 91) - risk(188, 92))]
    assert noisy.risk_per_patient == pytest.approx(max(moves), rel=0.15)
    assert noisy.risk_per_patient > 0.05
    assert "Noisy" in verdict(noisy) and "92 of 100 attacks" in verdict(noisy)
    assert noisy.to_dict()["risk_per_patient"] == noisy.risk_per_patient
    # a control that mostly fails: one success moves the risk by ~0.006, no warning
    hard = AttackResult.from_counts("linkability", "m", attacks=171, successes=20,
                                    control_successes=5, baseline_successes=2)
    assert hard.risk_per_patient < 0.01
    assert "Noisy" not in verdict(hard)


def test_inference_success_counts_every_patient_raw(bc_70, independent):
    train, holdout, target = bc_70
    schema = infer_schema(train, target)
    # a copy of the training rows: every training patient's own row is its nearest
    attack, control = inference_success(train, holdout, train, schema, secret="mean area")
    assert attack == 1.0 and control < 0.5
    # a copy of the holdout: now the control is the one always right
    attack, control = inference_success(train, holdout, holdout, schema, secret="mean area")
    assert control == 1.0 and attack < 0.5
    # raw rates over every patient: multiples of 1/|train| and 1/|holdout|
    tr, ho, syn, target = independent
    attack, control = inference_success(tr, ho, syn, infer_schema(tr, target))
    assert (attack * len(tr)) == pytest.approx(round(attack * len(tr)))
    assert (control * len(ho)) == pytest.approx(round(control * len(ho)))
    assert abs(attack - control) < 0.06  # independent real rows: no excess beyond noise
    with pytest.raises(ClinisynthError, match="secrets: column 'nope'"):
        inference_success(train, holdout, train, schema, secret="nope")
    # the attacker's columns follow quasi_identifiers: a copy guessed from one coarse column
    # is no longer always right
    attack, _ = inference_success(train, holdout, train, schema, secret="mean area",
                                  quasi_identifiers=["mean texture"])
    assert attack < 1.0


def test_same_seed_same_risk_and_the_seed_matters(bc_70, bc_gmm):
    train, holdout, target = bc_70
    schema = infer_schema(train, target)
    a = risk_scores(train, holdout, bc_gmm, schema, n_attacks=100, seed=4).to_dict()
    b = risk_scores(train, holdout, bc_gmm, schema, n_attacks=100, seed=4).to_dict()
    c = risk_scores(train, holdout, bc_gmm, schema, n_attacks=100, seed=5).to_dict()
    assert a == b
    assert a != c
    assert a["attacks"]["linkability"]["attacks"] == 100


def test_quasi_identifiers_drive_linkability_and_inference(bc_70, bc_gmm):
    train, holdout, target = bc_70
    schema = infer_schema(train, target)
    qis = ["mean radius", "mean texture", "worst area"]
    result = risk_scores(train, holdout, bc_gmm, schema, quasi_identifiers=qis,
                         secrets=["mean area"], n_attacks=50, seed=0)
    link = result.attacks["linkability"].details
    assert (link["columns_a"], link["columns_b"]) == (["mean radius", "worst area"],
                                                      ["mean texture"])
    assert result.attacks["inference:mean area"].details["auxiliary_columns"] == qis
    assert result.attacks["inference:target"].details["auxiliary_columns"] == qis
    assert split_halves([], ["a", "b", "c"]) == (["a", "c"], ["b"])


def test_identifier_and_text_roles_are_left_out_and_quasi_identifier_roles_are_used(bc_70):
    train, holdout, target = bc_70
    cols = ["mean radius", "mean texture", "mean area", target]
    train, holdout = train[cols].copy(), holdout[cols].copy()
    train["patient_id"] = [f"MRN{i:05d}" for i in range(len(train))]
    holdout["patient_id"] = [f"MRN{i:05d}" for i in range(9000, 9000 + len(holdout))]
    schema = infer_schema(train, target)
    for col in schema.columns:  # roles come from another part of issue 9; set them here
        col.role = {"patient_id": "identifier", "mean radius": "quasi_identifier",
                    "mean texture": "quasi_identifier"}.get(col.name)
    result = risk_scores(train, holdout, train.copy(), schema, n_attacks=50, seed=0)
    assert "patient_id" not in result.columns
    assert result.quasi_identifiers == ["mean radius", "mean texture"]
    with pytest.raises(ClinisynthError, match="secrets: column 'patient_id' is an identifier"):
        resolve_columns(schema, None, ["patient_id"])


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"quasi_identifiers": ["nope"]}, "quasi_identifiers: column 'nope' is not in the table"),
    ({"secrets": ["nope"]}, "secrets: column 'nope' is not in the table"),
    ({"secrets": "mean area"}, "secrets must be a list of column names"),
    ({"n_attacks": 3}, "n_attacks must be at least 10"),
])
def test_bad_risk_options_are_one_line_errors(bc_70, kwargs, message):
    train, holdout, target = bc_70
    schema = infer_schema(train, target)
    with pytest.raises(ClinisynthError, match=message):
        risk_scores(train, holdout, train, schema, **kwargs)


def _mixed_table(n: int, seed: int = 0) -> pd.DataFrame:
    """A seeded clinical-looking table: correlated numerics, categoricals and an outcome."""
    rng = np.random.default_rng(seed)
    latent = rng.normal(size=(n, 3))
    data = {f"lab_{j}": np.round(latent @ rng.normal(size=3)
                                 + rng.normal(scale=0.7, size=n) + 50, 2) for j in range(8)}
    data["age"] = np.clip(np.round(60 + 12 * latent[:, 0] + rng.normal(scale=5, size=n)), 18, 99)
    data["sex"] = rng.choice(["F", "M"], size=n)
    data["site"] = rng.choice([f"site_{i}" for i in range(6)], size=n)
    data["outcome"] = np.where(rng.random(n) < 1 / (1 + np.exp(-latent[:, 0])), "event", "none")
    return pd.DataFrame(data)


def test_a_jittered_copy_of_7000_training_rows_is_flagged():
    from clinisynth.audit.result import DCR_SHARE_FLAG, PRIVACY_LOSS_FLAG, RISK_FLAGS

    df = _mixed_table(14_000)
    train, holdout = df.iloc[:7000].reset_index(drop=True), df.iloc[7000:].reset_index(drop=True)
    schema = infer_schema(train, "outcome")
    copy = jitter(train)
    pri = privacy_scores(train, holdout, copy, schema, seed=0)
    assert pri.dcr_share > 0.9 > DCR_SHARE_FLAG
    assert pri.privacy_loss > 0.3 > PRIVACY_LOSS_FLAG
    assert pri.calibrated_dcr > 0.9 and pri.calibrated_dcr_baseline < 0.05
    # the attacker of this test knows every column (no quasi-identifier set: the inferred
    # age/sex roles would restrict linkability to a two-column split that cannot link anyone)
    risk = risk_scores(train, holdout, copy, schema, quasi_identifiers=[], n_attacks=100,
                       seed=0).headline()
    for key in ("singling_out_risk", "linkability_risk"):
        assert risk[key] > 0.8 > RISK_FLAGS[key]


def test_the_audit_skips_identifier_and_text_columns(bc_70):
    from clinisynth.audit import audit

    train, holdout, target = bc_70
    cols = ["mean radius", "mean texture", "mean area", target]
    train, holdout = train[cols].copy(), holdout[cols].copy()
    train["note"] = [f"seen on day {i}" for i in range(len(train))]
    holdout["note"] = [f"seen on day {i}" for i in range(1000, 1000 + len(holdout))]
    schema = infer_schema(train, target)
    for col in schema.columns:
        col.role = "text" if col.name == "note" else None
    result = audit(train, holdout, train.copy(), target, schema=schema, n_attacks=30,
                   models=("logistic_regression",))
    assert result.meta["skipped_columns"] == ["note"]
    assert "note" not in [c.name for c in result.fidelity.columns]
    assert "note" not in result.risk.columns
    assert result.headline()["linkability_risk"] > 0.8  # the copy is still caught


def test_a_small_discrete_table_with_many_duplicates_runs():
    rng = np.random.default_rng(0)
    # at most 8 distinct rows: the de-duplicated holdout is smaller than 10
    df = pd.DataFrame({"sex": rng.choice(["F", "M"], 60), "smoker": rng.choice(["y", "n"], 60),
                       "y": rng.choice(["a", "b"], 60)})
    train, holdout = df.iloc[:40].reset_index(drop=True), df.iloc[40:].reset_index(drop=True)
    holdout["sex"] = "F"  # 4 distinct holdout rows against 8 in train: sizes differ
    schema = infer_schema(train, "y")
    result = risk_scores(train, holdout, train.sample(40, random_state=1), schema,
                         n_attacks=20, seed=0)
    assert set(result.attacks) >= {"singling_out_multivariate", "linkability", "inference:y"}
    assert all(0.0 <= a.risk <= 1.0 or math.isnan(a.risk) for a in result.attacks.values())
