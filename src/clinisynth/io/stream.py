"""Writing a table chunk by chunk, atomically: :class:`TableWriter`.

``with TableWriter(path, schema) as writer: writer.write(chunk)`` writes each chunk as it
comes, into a temporary file beside ``path`` that is renamed into place only when the block
ends without error (an exception, Ctrl-C or SIGTERM leaves neither a partial file nor the
temporary; see :mod:`clinisynth.io.atomic`). By suffix:

- ``.csv``: each chunk is appended (header once), with the formula quoting of
  :func:`~clinisynth.io.writers.write_table`; the bytes equal writing the chunks' concatenation
  at once.
- ``.parquet``: each chunk is one row group of a ``pyarrow.parquet.ParquetWriter``; every chunk
  is converted to one Arrow schema (the first chunk's, see :func:`arrow_table`).
- ``.dta``, ``.sav``: these formats cannot be appended to, so the chunks are collected in memory
  and written once at the end (memory is not bounded for them).

Chunks of one draw can differ in dtype where the values do (an integer column whose chunk has
a gap becomes float; ``astype("category")`` keeps only the categories a chunk holds, and pandas
concatenates categoricals of different categories as object; a text column with no value in a
chunk has no Arrow type). :func:`stable_dtypes` removes those differences from what the schema
says, so every chunk is written with the same types.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import AbstractContextManager, ExitStack, contextmanager
from pathlib import Path
from types import TracebackType
from typing import IO, Any, Protocol

import pandas as pd

from clinisynth.io.atomic import atomic_path
from clinisynth.io.writers import check_writable, neutralise_formulas, suffix_of, write_table_to
from clinisynth.values import sorted_categories


class Columns(Protocol):
    """The schema as the writers read it: ``schema[name]`` describes column ``name`` (its
    ``dtype``, ``missing_rate`` and ``categories``), a ``KeyError`` for a column it does not
    describe (a :class:`~clinisynth.schema.TableSchema` is one)."""

    def __getitem__(self, name: str) -> Any: ...


#: output formats written chunk by chunk (the others are collected and written once)
STREAMED_SUFFIXES = (".csv", ".parquet")


def stable_dtypes(frame: pd.DataFrame, schema: Columns | None) -> pd.DataFrame:
    """``frame`` with the dtypes every chunk of a draw shares, read from ``schema``.

    An integer column that may hold gaps (missing rate above 0) is float64; a column whose
    schema dtype is ``category`` is categorical with the schema's categories (and any other the
    frame holds), sorted as ``astype("category")`` sorts them, whatever categories the frame
    holds itself. Columns the schema does not name are left as they are.
    """
    if schema is None:
        return frame
    out = frame
    for name in frame.columns:
        try:
            col = schema[name]
        except KeyError:  # a column the schema does not describe
            continue
        series = frame[name]
        new = None
        if (pd.api.types.is_integer_dtype(series.dtype)
                and not pd.api.types.is_extension_array_dtype(series.dtype)
                and col.missing_rate > 0):
            new = series.astype("float64")
        elif str(col.dtype) == "category" and not pd.api.types.is_numeric_dtype(series.dtype):
            categorical = isinstance(series.dtype, pd.CategoricalDtype)
            present = list(series.cat.categories) if categorical else list(
                series.dropna().unique())
            dtype = pd.CategoricalDtype(_sorted_union(list(col.categories or []), present),
                                        ordered=bool(categorical and series.cat.ordered))
            if series.dtype != dtype:
                new = series.astype(dtype)
        if new is not None:
            if out is frame:
                out = frame.copy()
            out[name] = new
    return out


def _sorted_union(first: list[Any], second: list[Any]) -> list[Any]:
    return sorted_categories(first + second)


def arrow_table(frame: pd.DataFrame, schema: Columns | None = None,
                arrow_schema: Any = None) -> Any:
    """``frame`` (with :func:`stable_dtypes`) as a ``pyarrow.Table``, without the index.

    With ``arrow_schema`` the table is cast to it (a chunk whose text column is all missing has
    Arrow type null, an integer chunk may meet a float schema). Without it, a null-typed column
    takes the type of the schema's categories, so the first chunk fixes a usable schema.
    """
    import pyarrow as pa  # lazy: heavy: only for Parquet

    table = pa.Table.from_pandas(stable_dtypes(frame, schema), preserve_index=False)
    if arrow_schema is not None:
        if not table.schema.equals(arrow_schema, check_metadata=False):
            table = table.cast(arrow_schema)
        return table
    if schema is not None:
        for i, field in enumerate(table.schema):
            if not pa.types.is_null(field.type):
                continue
            try:
                kind = pa.array(list(schema[field.name].categories or [])).type
            except Exception:  # not a described column, or categories Arrow cannot type
                continue
            if not pa.types.is_null(kind):
                table = table.set_column(i, field.with_type(kind),
                                         table.column(i).cast(kind))
    return table


class TableWriter:
    """Write a table chunk by chunk to ``path`` (by suffix), atomically (see the module).

    ``schema`` (the model's table schema) makes every chunk's dtypes the same
    (:func:`stable_dtypes`). ``rows`` counts the rows written so far.
    """

    def __init__(self, path: str | Path, schema: Columns | None = None) -> None:
        self.path = Path(path)
        self.suffix = suffix_of(self.path)
        self.schema = schema
        self.rows = 0
        self._session: AbstractContextManager[TableWriter] | None = None
        self._tmp: Path | None = None
        self._handles: ExitStack | None = None
        self._csv: IO[str] | None = None
        self._parquet: Any = None
        self._header_done = False
        self._chunks: list[pd.DataFrame] = []

    @property
    def streamed(self) -> bool:
        """True when chunks go to disk as they come (CSV, Parquet), False when collected."""
        return self.suffix in STREAMED_SUFFIXES

    def __enter__(self) -> TableWriter:
        if self.schema is not None and self.suffix in (".dta", ".sav"):  # names, before any work
            check_writable(pd.DataFrame(columns=self.schema.names), self.path)
        self._session = self._open()
        return self._session.__enter__()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> bool | None:
        session, self._session = self._session, None
        assert session is not None, "TableWriter.__exit__ without __enter__"
        return session.__exit__(exc_type, exc, tb)

    @contextmanager
    def _open(self) -> Iterator[TableWriter]:
        with atomic_path(self.path) as tmp, ExitStack() as handles:  # closed before the rename
            self._tmp, self._handles = tmp, handles
            if self.suffix == ".csv":  # the file object pandas' to_csv(path) would open
                self._csv = handles.enter_context(open(tmp, "w", encoding="utf-8", newline=""))
            try:
                yield self
                self._finish(tmp)
            finally:
                self._tmp = self._handles = self._csv = self._parquet = None
                self._chunks = []

    def write(self, chunk: pd.DataFrame) -> None:
        """Write (or, for .dta/.sav, keep) one chunk."""
        if self._tmp is None or self._handles is None:
            raise RuntimeError("TableWriter.write outside its `with` block")
        if self.suffix == ".csv":
            assert self._csv is not None
            neutralise_formulas(stable_dtypes(chunk, self.schema)).to_csv(
                self._csv, index=False, header=not self._header_done)
            self._header_done = True
        elif self.suffix == ".parquet":
            import pyarrow.parquet as pq  # lazy: heavy: only for Parquet

            schema = self._parquet.schema if self._parquet is not None else None
            table = arrow_table(chunk, self.schema, schema)
            if self._parquet is None:
                self._parquet = self._handles.enter_context(pq.ParquetWriter(self._tmp,
                                                                             table.schema))
            self._parquet.write_table(table)
        else:
            self._chunks.append(chunk)
        self.rows += len(chunk)

    def _finish(self, tmp: Path) -> None:
        if self.suffix == ".parquet" and self._parquet is None:
            raise ValueError("TableWriter: no chunk was written to a Parquet file")
        if self.suffix in (".dta", ".sav"):
            frames, self._chunks = self._chunks, []
            df = pd.concat(frames, ignore_index=True) if len(frames) > 1 else (
                frames[0] if frames else pd.DataFrame())
            write_table_to(df, tmp, self.path)


__all__ = ["STREAMED_SUFFIXES", "TableWriter", "arrow_table", "stable_dtypes"]
