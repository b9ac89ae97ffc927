"""The training rows in DP mode: a wrapper that only the privacy ledger opens.

Every step of a DP pipeline gets its rows as :class:`Sensitive`. Row-wise maps (binning,
encoding: each output row depends on one input row, so one patient still moves one row) give a
new :class:`Sensitive`; anything else (``len``, a column, ``.mean()``, iteration) raises
:class:`UnchargedRead`. Only a mechanism of :class:`~clinisynth.dp.ledger.PrivacyLedger`, which
charges its cost first, reads the rows inside.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pandas as pd

from clinisynth.errors import ClinisynthError


class UnchargedRead(ClinisynthError):
    """A step read the training rows in DP mode without a charged mechanism."""


class Sensitive:
    """Training rows no one reads uncharged (see the module)."""

    __slots__ = ("_frame", "_owner")

    def __init__(self, frame: pd.DataFrame, owner: object) -> None:
        object.__setattr__(self, "_frame", frame)
        object.__setattr__(self, "_owner", owner)  # the ledger allowed to open it

    def map(self, rows: Callable[[pd.DataFrame], pd.DataFrame]) -> Sensitive:
        """A row-wise transformation (one output row per input row, from it alone)."""
        return Sensitive(rows(self._frame), self._owner)

    @property
    def columns(self) -> list[str]:
        """The column names (the schema's, public)."""
        return list(self._frame.columns)

    def open(self, ledger: object) -> pd.DataFrame:
        """The rows, for the ledger that owns them while it charges a mechanism."""
        if ledger is not self._owner or not getattr(ledger, "charging", False):
            raise UnchargedRead("the training rows were read in DP mode without a charged "
                                "mechanism")
        return self._frame

    def _refuse(self, *_: Any, **__: Any) -> Any:
        raise UnchargedRead("the training rows were read in DP mode without a charged "
                            "mechanism")

    __len__ = _refuse
    __iter__ = _refuse
    __getitem__ = _refuse
    __array__ = _refuse

    def __getattr__(self, name: str) -> Any:
        raise UnchargedRead(f"the training rows were read in DP mode ('.{name}') without a "
                            "charged mechanism")

    def __setattr__(self, name: str, value: Any) -> None:
        raise UnchargedRead("the training rows are read-only in DP mode")
