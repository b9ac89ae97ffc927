"""Table steps: fitted transforms that sit before the encoder and after the decoder.

The synthesizer is a pipeline (see ``../shared/architecture.md``): roles -> rules -> encoding ->
mixture of generators -> calibration -> guard -> decoding. A *table step* is one of the stages
that act on DataFrames rather than on the encoded matrix: column roles (identifiers regenerated,
dates as numbers, free text dropped) and rules (``b >= a`` modelled as ``b - a >= 0``, derived
columns recomputed from their inputs, recorded precision).

Contract, for a step ``s`` fitted on the real training table ``real`` with schema ``schema``:

* ``s.fit(real, schema)`` learns everything it needs and returns ``s``; afterwards the step is
  frozen, so ``transform`` and ``inverse_transform`` are pure functions of their inputs (and of
  the ``rng`` they are given), and chunks can be processed in any order on any worker;
* ``s.model_schema_`` is the schema of ``s.transform(real)`` (the table the next stage sees);
* ``s.transform(frame)`` maps a table with the user's columns to the model's table;
* ``s.inverse_transform(frame, rng)`` maps a synthetic model table back to the user's columns,
  order and dtypes, drawing any randomness it needs from ``rng``;
* ``s.violations(frame)`` marks the rows of a user-side synthetic table that break a rule the
  step could not make true by construction (the synthesizer redraws them; default: none);
* ``s.get_state()`` returns JSON-able metadata and named numpy arrays; ``cls.from_state(meta,
  arrays)`` rebuilds the fitted step from them (never a pickle).

Steps are found by name through :data:`TABLE_STEPS`, so a saved model names the class of each of
its steps and loading builds them from JSON and arrays only.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from clinisynth.errors import NotFittedError
from clinisynth.registry import Registry
from clinisynth.schema import TableSchema

Arrays = dict[str, np.ndarray]


class TableStep(ABC):
    """Base class of the table steps. Parameters are set in ``__init__`` only."""

    name: ClassVar[str]

    @abstractmethod
    def fit(self, real: pd.DataFrame, schema: TableSchema) -> TableStep:
        """Learn from the real table; set ``model_schema_``; return ``self``."""

    @abstractmethod
    def transform(self, frame: pd.DataFrame) -> pd.DataFrame:
        """User table -> model table (columns of ``model_schema_``)."""

    @abstractmethod
    def inverse_transform(self, frame: pd.DataFrame, rng: np.random.Generator) -> pd.DataFrame:
        """Model table -> user table (the user's columns, order and dtypes)."""

    def violations(self, frame: pd.DataFrame) -> np.ndarray:
        """Rows of a user-side synthetic table that break one of this step's rules."""
        return np.zeros(len(frame), dtype=bool)

    def report(self) -> dict[str, Any]:
        """What the step learned, for the audit and the CLI summary (JSON-able)."""
        return {}

    @abstractmethod
    def get_state(self) -> tuple[dict[str, Any], Arrays]:
        """JSON-able metadata and named arrays that rebuild the fitted step."""

    @classmethod
    @abstractmethod
    def from_state(cls, meta: dict[str, Any], arrays: Arrays) -> TableStep:
        """Rebuild a fitted step from :meth:`get_state`'s output."""

    def _check_fitted(self) -> None:
        if not hasattr(self, "model_schema_"):
            raise NotFittedError(f"table step '{self.name}' is not fitted; call fit first")


#: table steps by name; built-ins are registered by the modules that define them
TABLE_STEPS: Registry[TableStep] = Registry("table step", TableStep, {
    "survival": "clinisynth.survival:SurvivalStep",
})
