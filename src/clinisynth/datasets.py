"""Tables bundled with installed packages (no download at run time)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pandas as pd

from clinisynth.errors import ClinisynthError


@dataclass(frozen=True)
class Dataset:
    name: str
    target: str
    description: str
    loader: Callable[[], pd.DataFrame]

    def load(self) -> pd.DataFrame:
        return self.loader()


def _breast_cancer() -> pd.DataFrame:
    from sklearn.datasets import load_breast_cancer

    bunch = load_breast_cancer(as_frame=True)
    return bunch.frame  # 30 continuous features + integer 'target' (0 malignant, 1 benign)


DATASETS: dict[str, Dataset] = {
    "breast_cancer": Dataset(
        name="breast_cancer",
        target="target",
        description="Wisconsin diagnostic breast cancer (scikit-learn): 569 rows, 30 continuous "
        "features, target 0 = malignant, 1 = benign",
        loader=_breast_cancer,
    ),
}


def get_dataset(name: str) -> Dataset:
    try:
        return DATASETS[name]
    except KeyError:
        raise ClinisynthError(
            f"unknown dataset '{name}'; bundled datasets: {', '.join(DATASETS)}"
        ) from None


def load_dataset(name: str) -> tuple[pd.DataFrame, str]:
    """Return the bundled table ``name`` and its target column."""
    ds = get_dataset(name)
    return ds.load(), ds.target
