"""Seconds of the privacy scores and the attack-based risk at 10k and 100k training rows.

    PYTHONPATH=src python benchmarks/privacy_scale.py [ROWS ...]     # default: 10000 100000

For each size N: a seeded mixed table of 2N rows (12 numeric columns, 4 categorical, a binary
outcome) split 50/50 into train and holdout; the "synthetic" table is the training rows with a
1e-3·sd jitter on the numeric columns (a memorised table). Prints one JSON line per size with
the seconds of ``privacy_scores`` (every row) and ``risk_scores`` (default attacks), and the
scores that must flag the copy.
"""

from __future__ import annotations

import json
import sys
import time

import numpy as np
import pandas as pd

from clinisynth.audit.privacy import privacy_scores
from clinisynth.audit.risk import risk_scores
from clinisynth.schema import infer_schema


def make_table(n: int, seed: int = 0) -> pd.DataFrame:
    """A seeded clinical-looking table: correlated numerics, categoricals and an outcome."""
    rng = np.random.default_rng(seed)
    latent = rng.normal(size=(n, 3))
    data = {}
    for j in range(12):
        w = rng.normal(size=3)
        data[f"lab_{j}"] = np.round(latent @ w + rng.normal(scale=0.7, size=n) + 50, 2)
    data["age"] = np.clip(np.round(60 + 12 * latent[:, 0] + rng.normal(scale=5, size=n)), 18, 99)
    data["sex"] = rng.choice(["F", "M"], size=n)
    data["site"] = rng.choice([f"site_{i}" for i in range(8)], size=n)
    data["stage"] = rng.choice(["I", "II", "III", "IV"], size=n, p=[0.4, 0.3, 0.2, 0.1])
    data["smoker"] = rng.choice(["yes", "no"], size=n, p=[0.3, 0.7])
    logit = latent[:, 0] - 0.5 * latent[:, 1]
    data["outcome"] = np.where(rng.random(n) < 1 / (1 + np.exp(-logit)), "event", "none")
    return pd.DataFrame(data)


def jittered_copy(train: pd.DataFrame, seed: int = 1, scale: float = 1e-3) -> pd.DataFrame:
    """The training rows with ``scale``·sd Gaussian noise added to every float column."""
    rng = np.random.default_rng(seed)
    out = train.copy()
    for name in out.columns:
        if pd.api.types.is_float_dtype(out[name]):
            out[name] = out[name] + rng.normal(scale=scale * out[name].std(), size=len(out))
    return out


def main(sizes: list[int]) -> None:
    for n in sizes:
        df = make_table(2 * n)
        train, holdout = df.iloc[:n].reset_index(drop=True), df.iloc[n:].reset_index(drop=True)
        synthetic = jittered_copy(train)
        schema = infer_schema(train, "outcome")
        start = time.perf_counter()
        pri = privacy_scores(train, holdout, synthetic, schema, seed=0)
        t_pri = time.perf_counter() - start
        start = time.perf_counter()
        risk = risk_scores(train, holdout, synthetic, schema, seed=0)
        t_risk = time.perf_counter() - start
        print(json.dumps({
            "train_rows": n, "privacy_seconds": round(t_pri, 1), "risk_seconds": round(t_risk, 1),
            "dcr_share": round(pri.dcr_share, 3), "privacy_loss": round(pri.privacy_loss, 3),
            "calibrated_dcr": round(pri.calibrated_dcr, 3),
            **{k: round(v, 3) for k, v in risk.headline().items()},
            "risk_seconds_by_attack": risk.seconds,
        }), flush=True)


if __name__ == "__main__":
    main([int(a) for a in sys.argv[1:]] or [10_000, 100_000])
