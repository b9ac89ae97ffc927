"""The benchmark grid's vocabulary: the synthesizers and engines it knows, its tables
(:class:`TableSpec`), the options a cell's result depends on (:class:`BenchmarkOptions`), its
cells (:class:`Cell`, :func:`cell_paths`), and how a cell splits its table and builds its
synthesizer (:func:`split_table`, :func:`make_synthesizer`).

Shared by :mod:`~clinisynth.benchmark.engines` (which runs cells) and
:mod:`~clinisynth.benchmark.runner` (the driver).
"""

from __future__ import annotations

import inspect
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import pandas as pd
from sklearn.model_selection import train_test_split

from clinisynth.benchmark.peers import PEERS, SDVSynthesizer
from clinisynth.benchmark.scenarios import FRACTIONS
from clinisynth.datasets import get_dataset, load_dataset
from clinisynth.errors import ClinisynthError
from clinisynth.io import read_table
from clinisynth.synthesizer import HybridSynthesizer

OURS: tuple[str, ...] = ("hybrid", "smote")
SYNTHESIZERS: tuple[str, ...] = ("hybrid", "gaussian_copula", "ctgan", "tvae", "copulagan",
                                 "smote")
ENGINES: tuple[str, ...] = ("local", "dask", "ray")

AuditFn = Callable[..., Any]


class Synthesizer(Protocol):
    def fit(self, data: pd.DataFrame, target: str) -> Any: ...
    def sample(self, n: int) -> pd.DataFrame: ...


# -- the grid ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class TableSpec:
    """A table in the grid: a file (``path``) or a bundled dataset (``dataset``)."""

    name: str
    target: str
    path: str | None = None
    dataset: str | None = None

    @classmethod
    def from_file(cls, path: str | Path, target: str) -> TableSpec:
        return cls(name=Path(path).stem, target=target, path=str(path))

    @classmethod
    def from_dataset(cls, name: str) -> TableSpec:
        return cls(name=name, target=get_dataset(name).target, dataset=name)

    def load(self) -> pd.DataFrame:
        df = (read_table(self.path) if self.path is not None
              else load_dataset(str(self.dataset))[0])
        if self.target not in df.columns:
            raise ClinisynthError(f"--target '{self.target}' is not a column of {self.name}")
        return df


@dataclass(frozen=True)
class BenchmarkOptions:
    """Everything besides table, synthesizer and seed that a cell's result depends on.

    ``synth_params`` maps a synthesizer name to constructor overrides (e.g. ``{"ctgan":
    {"epochs": 2}}`` for a quick run; the benchmark proper uses defaults). ``threads`` caps torch
    and BLAS threads inside a worker (set when cells run side by side); it is not part of a
    cell's identity.
    """

    train_fraction: float = 0.7
    synth_params: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    scenarios: bool = False
    fractions: tuple[float, ...] = FRACTIONS
    threads: int | None = None

    def identity(self, synthesizer: str) -> dict[str, Any]:
        """What a finished cell must have been run with to be reused on resume."""
        ident = {"train_fraction": self.train_fraction,
                 "params": dict(self.synth_params.get(synthesizer, {}))}
        return json.loads(json.dumps(ident, sort_keys=True, default=str))

    def scenario_identity(self, synthesizer: str) -> dict[str, Any]:
        return {**self.identity(synthesizer), "fractions": list(self.fractions)}


@dataclass(eq=False)
class Cell:
    """One unit of work. ``synthetic`` is given when the main part is already done on disk."""

    table: str
    target: str
    synthesizer: str
    seed: int
    data: pd.DataFrame = field(repr=False)
    options: BenchmarkOptions = field(default_factory=BenchmarkOptions)
    synthetic: pd.DataFrame | None = field(default=None, repr=False)

    @property
    def key(self) -> str:
        return f"{self.table}/{self.synthesizer}/seed{self.seed}"


def cell_paths(out_dir: Path, table: str, synthesizer: str, seed: int) -> dict[str, Path]:
    base = Path(out_dir) / "cells" / table / synthesizer
    return {"record": base / f"seed{seed}.json", "synthetic": base / f"seed{seed}.csv",
            "scenarios": base / f"seed{seed}.scenarios.json"}


# -- a cell's split and synthesizer --------------------------------------------------------------
def split_table(df: pd.DataFrame, target: str, seed: int, train_fraction: float = 0.7
                ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Stratified split by ``seed`` into (train, holdout), both re-indexed from 0."""
    train, holdout = train_test_split(df, train_size=train_fraction, stratify=df[target],
                                      random_state=seed, shuffle=True)
    return train.reset_index(drop=True), holdout.reset_index(drop=True)


def make_synthesizer(name: str, seed: int, params: Mapping[str, Any] | None = None
                     ) -> Synthesizer:
    """A fresh, unfitted synthesizer for a benchmark name; ``params`` override its defaults."""
    params = dict(params or {})
    if name in PEERS:
        return SDVSynthesizer(name, seed=seed, **params)
    if name == "hybrid":
        return HybridSynthesizer(**{"seed": seed, **params})
    if name == "smote":  # plain SMOTE: no calibration, no guard (when the hybrid has them)
        accepted = inspect.signature(HybridSynthesizer).parameters
        plain = {"weights": "smote", "calibration": None, "privacy_guard": False}
        kwargs = {k: v for k, v in plain.items() if k in accepted}
        return HybridSynthesizer(**{**kwargs, "seed": seed, **params})
    raise ClinisynthError(f"unknown synthesizer '{name}'; known: {', '.join(SYNTHESIZERS)}")
