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
    from sklearn.datasets import load_breast_cancer  # lazy: heavy: only for the bundled table

    bunch = load_breast_cancer(as_frame=True)
    return bunch.frame  # 30 continuous features + integer 'target' (0 malignant, 1 benign)


def _flchain() -> pd.DataFrame:
    """scikit-survival's copy of R's ``survival::flchain``, shaped like the R table.

    sksurv returns the covariates and a structured (event, time) array; they are joined back
    into one frame with R's column order and types: ``sample.yr``, ``flc.grp`` and ``age`` as
    integers, ``mgus`` and ``death`` as 0/1 integers, ``futime`` in days, ``chapter`` (cause of
    death) missing for the patients alive at last follow-up.
    """
    try:
        from sksurv.datasets import load_flchain  # lazy: optional extra (survival)
    except ImportError:
        raise ClinisynthError("dataset 'flchain' needs scikit-survival: "
                              "pip install 'clinisynth[survival]'") from None
    X, y = load_flchain()
    return pd.DataFrame({
        "age": X["age"].astype("int64"),
        "sex": X["sex"].astype(str),
        "sample.yr": X["sample.yr"].astype(str).astype("int64"),
        "kappa": X["kappa"].astype(float),
        "lambda": X["lambda"].astype(float),
        "flc.grp": X["flc.grp"].astype(str).astype("int64"),
        "creatinine": X["creatinine"].astype(float),
        "mgus": (X["mgus"].astype(str) == "yes").astype("int64"),
        "futime": y["futime"].astype("int64"),
        "death": y["death"].astype("int64"),
        "chapter": X["chapter"].astype(object).where(X["chapter"].notna(), None),
    })


DATASETS: dict[str, Dataset] = {
    "breast_cancer": Dataset(
        name="breast_cancer",
        target="target",
        description="Wisconsin diagnostic breast cancer (scikit-learn): 569 rows, 30 continuous "
        "features, target 0 = malignant, 1 = benign",
        loader=_breast_cancer,
    ),
    "flchain": Dataset(
        name="flchain",
        target="death",
        description="Serum free light chains and mortality (R survival::flchain, via "
        "scikit-survival): 7,874 rows; survival pair futime (days) / death (0/1); "
        "needs the 'survival' extra",
        loader=_flchain,
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
