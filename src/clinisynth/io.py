"""Reading tables with clear errors, and writing files atomically (all or nothing)."""

from __future__ import annotations

import csv
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pandas as pd

from clinisynth.errors import ClinisynthError

TABLE_SUFFIXES = (".csv", ".parquet")


def _suffix(path: Path) -> str:
    suffix = path.suffix.lower()
    if suffix not in TABLE_SUFFIXES:
        raise ClinisynthError(f"'{path}': unsupported file type '{suffix}'; use .csv or .parquet")
    return suffix


def read_table(path: str | Path) -> pd.DataFrame:
    """Read a CSV or Parquet table; raise a one-line :class:`ClinisynthError` if it is not one."""
    path = Path(path)
    suffix = _suffix(path)
    if not path.is_file():
        raise ClinisynthError(f"data file '{path}' does not exist")
    if path.stat().st_size == 0:
        raise ClinisynthError(f"data file '{path}' is empty")
    if suffix == ".parquet":
        try:
            df = pd.read_parquet(path)
        except Exception as exc:  # pyarrow raises many types for a non-parquet file
            raise ClinisynthError(f"'{path}' is not a readable Parquet table ({exc})") from None
    else:
        df = _read_csv(path)
    if df.shape[1] < 2:
        raise ClinisynthError(f"'{path}' has fewer than two columns; is it a table?")
    if df.shape[0] == 0:
        raise ClinisynthError(f"'{path}' has a header but no rows")
    return df


def _read_csv(path: Path) -> pd.DataFrame:
    try:
        with path.open(newline="", encoding="utf-8") as fh:
            header = next(csv.reader(fh), [])
    except UnicodeDecodeError:
        raise ClinisynthError(f"'{path}' is not a text CSV file") from None
    seen: set[str] = set()
    for name in header:
        if name in seen:
            raise ClinisynthError(f"'{path}': duplicate column name '{name}'")
        seen.add(name)
    try:
        return pd.read_csv(path)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ClinisynthError(f"'{path}' is not a readable CSV table ({first})") from None


@contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; move it into place only if the block succeeds."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes 0600; give the file the usual permissions
    try:
        yield Path(tmp)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def write_text_atomic(path: Path, text: str) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(text)


def write_table(df: pd.DataFrame, path: str | Path) -> None:
    """Write ``df`` as CSV or Parquet (by suffix), atomically."""
    path = Path(path)
    suffix = _suffix(path)
    with atomic_path(path) as tmp:
        if suffix == ".parquet":
            df.to_parquet(tmp, index=False)
        else:
            df.to_csv(tmp, index=False)


def check_output_path(path: str | Path) -> Path:
    """Validate an output table path before any work is done."""
    path = Path(path)
    _suffix(path)
    if path.is_dir():
        raise ClinisynthError(f"output '{path}' is a directory; give a .csv or .parquet file")
    return path
