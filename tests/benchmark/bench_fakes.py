"""Test doubles for the benchmark: a fast, deterministic stand-in for ``clinisynth.audit.audit``.

Module-level functions, so a process pool or a Dask cluster can import them by name.
"""

from __future__ import annotations

import numpy as np
import pandas as pd


class FakeResult:
    def __init__(self, values: dict[str, float]) -> None:
        self.values = values

    def headline(self) -> dict[str, float]:
        return dict(self.values)


def fake_audit(train: pd.DataFrame, holdout: pd.DataFrame, synthetic: pd.DataFrame, target: str,
               seed: int = 0) -> FakeResult:
    """Scores that depend on every value of the synthetic table, so equal scores mean equal data."""
    num = [c for c in train.columns if pd.api.types.is_numeric_dtype(train[c]) and c != target]
    gaps = [abs(float(train[c].mean()) - float(synthetic[c].mean())) for c in num]
    checksum = float(np.nansum(synthetic[num].to_numpy(dtype=float)))
    share = float((synthetic[target].astype(str) == str(train[target].mode()[0])).mean())
    return FakeResult({"ks_mean": float(np.nanmean(gaps)), "tstr_f1": share, "trtr_f1": 0.75,
                       "dcr_share": 0.5 + 0.01 * seed, "checksum": checksum,
                       "n_holdout_seen": float(len(holdout))})


def failing_audit(train: pd.DataFrame, holdout: pd.DataFrame, synthetic: pd.DataFrame,
                  target: str, seed: int = 0) -> FakeResult:
    """Fails on seed 1 only, like one bad cell in a grid."""
    if seed == 1:
        raise RuntimeError("audit exploded on purpose\nsecond line")
    return fake_audit(train, holdout, synthetic, target, seed)


#: the hybrid with one cheap generator, so grid tests take seconds
FAST = {"hybrid": {"weights": "noise"}}


def tiny_table(tmp_path, n: int = 120, seed: int = 3):
    """A small mixed-type table written to CSV, as a grid ``TableSpec``."""
    from clinisynth.benchmark import TableSpec
    from conftest import make_mixed_table

    path = tmp_path / "tiny.csv"
    make_mixed_table(n=n, seed=seed).to_csv(path, index=False)
    return TableSpec.from_file(path, "outcome")
