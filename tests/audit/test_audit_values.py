"""The audit checks what protection claims, for any synthetic table: rare values shown, ends
equal to a value few patients hold; and its banner names every risk above its threshold."""

from __future__ import annotations

import numpy as np
import pandas as pd

from clinisynth.audit.result import headline_flags, value_flags
from clinisynth.audit.values import value_exposure
from clinisynth.schema import infer_schema


def table(n: int = 200, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    ward = rng.choice(["A", "B", "C"], n).astype(object)
    ward[0] = "ICU-7"
    lab = rng.normal(100, 10, n).round(1)
    lab[1] = 190.3
    return pd.DataFrame({"ward": ward, "lab": lab, "y": rng.choice(["a", "b"], n)})


def test_a_copy_of_the_training_rows_is_caught():
    train = table()
    schema = infer_schema(train, "y")
    found = value_exposure(train, train.copy(), schema)
    assert found.rare_rows["ward"] == 1 / len(train) and found.any_rare_row == 1 / len(train)
    assert found.rare_extremes == {"lab": ["min", "max"]}  # each end held by one patient
    assert found.beyond == {"lab": ["min", "max"]}
    flags = {f["key"]: f["message"] for f in value_flags(found)}
    assert set(flags) == {"rare_values", "rare_extremes"}
    assert "ICU" not in " ".join(flags.values()) and "190" not in " ".join(flags.values())


def test_a_protected_table_shows_nothing():
    train = table()
    schema = infer_schema(train, "y")
    fake = table(seed=1)
    fake["ward"] = fake["ward"].replace({"ICU-7": "A"})
    inside = np.sort(train["lab"])[[10, -10]]  # well inside the k range
    fake["lab"] = fake["lab"].clip(*inside)
    counts = train["lab"].value_counts()
    free = [round(v, 2) for v in np.arange(inside[0], inside[1], 0.05)
            if counts.get(round(v, 2), 0) == 0]  # values no patient holds
    fake["lab"] = fake["lab"].clip(free[0], free[-1])
    found = value_exposure(train, fake, schema)
    assert found.any_rare_row == 0 and not found.beyond and not found.columns_at_risk()
    assert value_flags(found) == []


def test_a_risk_above_its_threshold_is_named_even_when_noisy():
    base = {"dcr_share": 0.5, "exact_copies": 0.0, "holdout_exact_copies": 0.0,
            "privacy_loss": 0.0, "mia_auc": 0.5, "detection_auc": 0.5, "calibrated_dcr": 0.02,
            "singling_out_risk": 0.0, "linkability_risk": 0.0}
    clear = headline_flags({**base, "inference_risk": 0.29}, risk_low={"inference_risk": 0.05})
    assert [f["key"] for f in clear] == ["inference_risk"]
    assert "0.29" in clear[0]["message"] and "flag above 0.1" in clear[0]["message"]
    noisy = headline_flags({**base, "inference_risk": 0.29},
                           risk_low={"inference_risk": -0.2})
    assert [f["key"] for f in noisy] == ["inference_risk"]
    assert "too noisy to judge" in noisy[0]["message"]
    assert headline_flags({**base, "inference_risk": 0.05},
                          risk_low={"inference_risk": -0.2}) == []  # below: no word
