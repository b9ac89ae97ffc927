"""Fixtures for the audit tests: the breast-cancer table split 70/30 and 50/50, a gmm sample,
and the ../shared datasets (skipped with a visible reason where ../shared is absent)."""

from __future__ import annotations

import pandas as pd
import pytest

from clinisynth.datasets import load_dataset

from .helpers import SEED, shared_table, split


@pytest.fixture(scope="session")
def bc() -> tuple[pd.DataFrame, str]:
    return load_dataset("breast_cancer")


@pytest.fixture(scope="session")
def bc_70(bc) -> tuple[pd.DataFrame, pd.DataFrame, str]:
    """Breast cancer, 70 % train (398 rows) / 30 % holdout (171 rows)."""
    df, target = bc
    return (*split(df, target, 0.3), target)


@pytest.fixture(scope="session")
def bc_gmm(bc_70) -> pd.DataFrame:
    """398 rows from the gmm-only hybrid fitted on the 70 % train split."""
    from clinisynth import HybridSynthesizer

    train, _, target = bc_70
    return HybridSynthesizer(weights="gmm", seed=SEED).fit(train, target).sample(len(train))


@pytest.fixture(scope="session")
def bc_audit(bc_70, bc_gmm):
    from clinisynth.audit import audit

    train, holdout, target = bc_70
    return audit(train, holdout, bc_gmm, target=target, seed=SEED)


@pytest.fixture(scope="session")
def liver() -> tuple[pd.DataFrame, str]:
    return shared_table("liver_pbc.csv"), "status"


@pytest.fixture(scope="session")
def cardiac() -> tuple[pd.DataFrame, str]:
    return shared_table("cardiac_cabg_ptca.csv"), "procedure"
