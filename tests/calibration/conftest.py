"""Shared data for the calibration tests: a skewed synthetic case and breast cancer via gmm."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from clinisynth.datasets import load_dataset
from clinisynth.encoding import NUMERIC, TableEncoder
from clinisynth.generators import get_generator
from clinisynth.schema import infer_schema


@dataclass
class Case:
    """Real matrix and class codes, a synthetic batch, and the numeric columns to calibrate."""

    X: np.ndarray
    y: np.ndarray
    Xs: np.ndarray
    ys: np.ndarray
    columns: list[int]


@pytest.fixture(scope="session")
def gamma_case() -> Case:
    """Skewed real classes (gamma, lognormal) and a correlated normal batch with wrong moments.

    Columns 0, 1, 4 are numeric (calibrated); 2, 3 play a one-hot block and 5 a missing
    indicator (noisy floats, as generators emit them), which must come back untouched.
    """
    rng = np.random.default_rng(0)

    def real(n: int, shape: float, shift: float) -> np.ndarray:
        onehot = rng.integers(0, 2, n)
        return np.column_stack([
            rng.gamma(shape, 1.0, n) + shift, rng.lognormal(0.0, 0.6, n) + shift,
            onehot, 1 - onehot, rng.normal(3.0 + shift, 2.0, n), rng.integers(0, 2, n),
        ]).astype(float)

    X = np.vstack([real(1500, 2.0, 0.0), real(1000, 5.0, 1.0)])
    y = np.repeat([0, 1], [1500, 1000])
    corr = np.array([[1.0, 0.6, 0.3], [0.6, 1.0, -0.4], [0.3, -0.4, 1.0]])
    chol = np.linalg.cholesky(corr)
    parts = []
    for m, loc in ((1200, 1.0), (800, 4.0)):
        z = rng.standard_normal((m, 3)) @ chol.T
        parts.append(np.column_stack([loc + 0.8 * z[:, 0], 1.0 + z[:, 1], rng.normal(0.5, 0.3, m),
                                      rng.normal(0.5, 0.3, m), 2.0 + 3.0 * z[:, 2],
                                      rng.uniform(-0.2, 1.2, m)]))
    ys = np.repeat([0, 1], [1200, 800])
    perm = rng.permutation(len(ys))  # classes interleaved, as after shuffling
    return Case(X, y, np.vstack(parts)[perm], ys[perm], [0, 1, 4])


@dataclass
class TableCase(Case):
    encoder: TableEncoder
    df: pd.DataFrame


def _table_case(df: pd.DataFrame, target: str, seed: int = 0) -> TableCase:
    schema = infer_schema(df, target)
    encoder = TableEncoder(schema).fit(df)
    X, y = encoder.transform(df, np.random.default_rng(seed))
    gen = get_generator("gmm")(seed=seed).fit(X, y, encoder.blocks_)
    counts = np.bincount(y)
    Xs, ys = gen.sample({k: int(n) for k, n in enumerate(counts)})
    columns = [b.start for b in encoder.blocks_ if b.kind == NUMERIC]
    return TableCase(X, y, Xs, ys, columns, encoder, df)


@pytest.fixture(scope="session")
def bc_case() -> TableCase:
    """Breast cancer (30 continuous columns), encoded; a gmm sample (seed 0) of the same size."""
    df, target = load_dataset("breast_cancer")
    return _table_case(df, target)


LIVER = Path(__file__).resolve().parents[3] / "shared" / "datasets" / "liver_pbc.csv"


@pytest.fixture(scope="session")
def liver_case() -> TableCase:
    """liver_pbc (shared datasets): mixed types and gaps, three classes; a gmm sample (seed 0)."""
    if not LIVER.is_file():
        pytest.skip(f"shared dataset not found: {LIVER}")
    return _table_case(pd.read_csv(LIVER), "status")
