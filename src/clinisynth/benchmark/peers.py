"""SDV synthesizers behind the same ``fit(df, target)`` / ``sample(n)`` interface as ours.

SDV is the optional extra ``clinisynth[peers]``; nothing here imports it until a peer is built.
The adapters use SDV's own defaults (``params`` only overrides them, e.g. ``epochs`` in tests),
and make two choices SDV leaves to the user: metadata is detected from the training table with
key inference off, and the target column is declared ``categorical`` (it is a class label, not a
number). Output keeps the input's column order and dtypes, so the audit treats all alike.

SDV's single-table API changed at 2.0: ``fit`` takes and ``sample`` returns a ``{table: frame}``
mapping, and single-frame metadata detection went private. Both shapes are handled here; the
range pinned in ``pyproject.toml`` (1.38 to 2.0) is the tested one.
"""

from __future__ import annotations

import contextlib
import random
import warnings
from typing import Any

import numpy as np
import pandas as pd

from clinisynth.errors import ClinisynthError
from clinisynth.interrupts import import_native

#: benchmark name -> SDV single-table synthesizer class
PEERS: dict[str, str] = {
    "gaussian_copula": "GaussianCopulaSynthesizer",
    "ctgan": "CTGANSynthesizer",
    "tvae": "TVAESynthesizer",
    "copulagan": "CopulaGANSynthesizer",
}
_TABLE = "table"
INSTALL_HINT = "install clinisynth's 'peers' extra"


def sdv_version() -> str | None:
    """The installed SDV version, or ``None`` when SDV is not importable."""
    try:
        sdv = import_native("sdv")
    except ImportError:
        return None
    return str(getattr(sdv, "__version__", "unknown"))


def require_sdv(name: str) -> None:
    """Raise a one-line :class:`ClinisynthError` when the peer ``name`` cannot be built."""
    if sdv_version() is None:
        raise ClinisynthError(f"synthesizer '{name}' needs SDV, which is not installed; "
                              f"{INSTALL_HINT}")


def _sdv_major() -> int:
    version = sdv_version() or "0"
    try:
        return int(version.split(".")[0])
    except ValueError:
        return 0


def _detect_metadata(data: pd.DataFrame, target: str) -> Any:
    from sdv.metadata import Metadata  # lazy: optional extra (peers)

    if hasattr(Metadata, "detect_from_dataframe"):  # SDV 1.x
        metadata = Metadata.detect_from_dataframe(data, table_name=_TABLE)
    else:  # SDV 2.x: only the multi-table entry point is public
        metadata = Metadata.detect_from_dataframes({_TABLE: data}, infer_keys=None)
    metadata.update_column(target, table_name=_TABLE, sdtype="categorical")
    if getattr(metadata.tables[_TABLE], "primary_key", None):  # 1.x infers keys; we have none
        metadata.remove_primary_key(table_name=_TABLE)
    return metadata


def _seed_everything(seed: int) -> None:
    """SDV takes no seed: its fit draws from the global numpy/torch/random states."""
    torch = import_native("torch")

    random.seed(seed)
    np.random.seed(seed)  # noqa: NPY002  (SDV and its models read the legacy global state)
    torch.manual_seed(seed)


def restore_frame(fake: pd.DataFrame, like: pd.DataFrame) -> pd.DataFrame:
    """``fake`` with ``like``'s column order and, where values allow, its dtypes."""
    missing = [c for c in like.columns if c not in fake.columns]
    if missing:
        raise ValueError(f"synthetic table lacks columns {missing}")
    out = fake.loc[:, list(like.columns)].reset_index(drop=True)
    for col, dtype in like.dtypes.items():
        if out[col].dtype == dtype:
            continue
        values = out[col]
        if pd.api.types.is_integer_dtype(dtype) and pd.api.types.is_float_dtype(values.dtype):
            if values.isna().any():
                continue  # an integer column cannot hold the gaps SDV made; keep floats
            values = values.round()
        with contextlib.suppress(TypeError, ValueError):
            out[col] = values.astype(dtype)
    return out


class SDVSynthesizer:
    """One SDV single-table synthesizer, fitted and sampled like :class:`HybridSynthesizer`.

    Parameters
    ----------
    name : one of :data:`PEERS`
    seed : seeds the global numpy/torch/random states right before ``fit`` (SDV has no seed
        argument); sampling uses SDV's own fixed sampling seed, so a cell is reproducible.
    **params : overrides of SDV's defaults (e.g. ``epochs=2`` for a quick test).
    """

    def __init__(self, name: str, seed: int | None = None, **params: Any) -> None:
        if name not in PEERS:
            raise ClinisynthError(f"unknown SDV synthesizer '{name}'; known: {', '.join(PEERS)}")
        require_sdv(name)
        self.name = name
        self.seed = seed
        self.params = params

    def fit(self, data: pd.DataFrame, target: str) -> SDVSynthesizer:
        """Fit the SDV model on ``data``; ``target`` is declared categorical."""
        import sdv.single_table as single_table  # lazy: optional extra (peers)

        if target not in data.columns:
            raise ClinisynthError(f"target column '{target}' is not in the table")
        self._like = data.iloc[:0].copy()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # SDV warns about saving metadata, etc.
            metadata = _detect_metadata(data, target)
            cls = getattr(single_table, PEERS[self.name])
            self.model_ = cls(metadata, **self.params)
            if self.seed is not None:
                _seed_everything(self.seed)
            self.model_.fit({_TABLE: data} if _sdv_major() >= 2 else data)
        return self

    def sample(self, n: int) -> pd.DataFrame:
        """``n`` synthetic rows with the training table's columns and dtypes."""
        if not hasattr(self, "model_"):
            raise ClinisynthError(f"{self.name} is not fitted; call fit first")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            fake = self.model_.sample(num_rows=int(n))
        if isinstance(fake, dict):
            fake = fake[_TABLE]
        return restore_frame(fake, self._like)
