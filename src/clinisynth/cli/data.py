"""Loading the input table for a command: a file, or a bundled dataset."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from clinisynth.datasets import load_dataset
from clinisynth.errors import ClinisynthError
from clinisynth.io import read_table


def load_input(data: Path | None, dataset: str | None, target: str | None
               ) -> tuple[pd.DataFrame, str, str]:
    """Return ``(table, target, label)`` from ``--data`` or ``--dataset`` (exactly one)."""
    if (data is None) == (dataset is None):
        raise ClinisynthError("give exactly one of --data FILE or --dataset NAME")
    if dataset is not None:
        df, default_target = load_dataset(dataset)
        return df, target or default_target, dataset
    assert data is not None
    if target is None:
        raise ClinisynthError("--target is required with --data")
    return read_table(data), target, data.name
