"""Shared fixtures: a mixed-type clinical-like table made in code, and the ../shared datasets."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_DATASETS = REPO.parent / "shared" / "datasets"

# Fast settings for the conditional VAE in tests; the defaults are exercised by the benchmarks.
FAST_PARAMS = {"cvae": {"epochs": 40, "patience": 10}}


def make_mixed_table(n: int = 300, seed: int = 0) -> pd.DataFrame:
    """A table with every column kind: integers, skewed labs with gaps, strings, flags, codes,
    a constant column, and a string outcome that depends on the features."""
    rng = np.random.default_rng(seed)
    age = rng.integers(20, 90, size=n)
    bmi = rng.normal(27, 4, size=n).round(1)
    lab = rng.gamma(2.0, 3.0, size=n) + 0.05 * age
    sex = rng.choice(["F", "M"], size=n)
    smoker = rng.integers(0, 2, size=n)
    stage = rng.integers(1, 5, size=n).astype(float)
    site = rng.choice(["north", "south", "east"], size=n, p=[0.5, 0.3, 0.2])
    risk = 0.04 * (age - 55) + 0.3 * (lab - lab.mean()) / lab.std() + 0.8 * smoker
    outcome = np.where(risk + rng.normal(0, 1, size=n) > 0.4, "Yes", "No")
    lab[rng.random(n) < 0.2] = np.nan
    stage[rng.random(n) < 0.05] = np.nan
    return pd.DataFrame({
        "age": age, "bmi": bmi, "lab": lab, "sex": sex, "smoker": smoker, "stage": stage,
        "site": site, "const": 7, "outcome": outcome,
    })


@pytest.fixture(scope="session")
def mixed_table() -> pd.DataFrame:
    return make_mixed_table()


@pytest.fixture(scope="session")
def breast_cancer() -> tuple[pd.DataFrame, str]:
    from clinisynth.datasets import load_dataset

    return load_dataset("breast_cancer")


def shared_dataset(name: str) -> Path:
    """Path of a table in ../shared/datasets, or skip the test with the reason."""
    path = SHARED_DATASETS / name
    if not path.is_file():
        pytest.skip(f"{path} not found: ../shared/datasets is absent on this clone")
    return path
