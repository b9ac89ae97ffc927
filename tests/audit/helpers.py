"""Helpers for the audit tests: seeded splits and the ../shared tables."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from sklearn.model_selection import train_test_split

from clinisynth.io import read_table

SHARED = Path(__file__).resolve().parents[2] / ".." / "shared" / "datasets"
SEED = 0


def split(df: pd.DataFrame, target: str, holdout: float, seed: int = SEED
          ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Stratified, seeded train/holdout split with fresh indices."""
    tr, ho = train_test_split(df, test_size=holdout, random_state=seed, stratify=df[target])
    return tr.reset_index(drop=True), ho.reset_index(drop=True)


def shared_table(name: str) -> pd.DataFrame:
    path = SHARED / name
    if not path.is_file():
        pytest.skip(f"{path.resolve()} not found: ../shared/datasets is absent on this clone")
    return read_table(path)
