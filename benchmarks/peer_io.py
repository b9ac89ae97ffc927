"""Output writing shared by the peer runners (``dp_peer_run.py``, ``mostly_peer_run.py``).

They run inside the peers' own virtual environments and never import clinisynth, so they cannot
use ``clinisynth.io.atomic``; this module needs only the standard library and pandas.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path

import pandas as pd


def write_atomic(df: pd.DataFrame, out: Path) -> None:
    """Write ``df`` as CSV to ``out`` all or nothing: a hidden temporary beside it, flushed to
    disk, then renamed into place; any error or interrupt removes the temporary."""
    out = out.resolve()
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent)
    try:
        with os.fdopen(fd, "w", newline="") as fh:
            df.to_csv(fh, index=False)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, out)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
