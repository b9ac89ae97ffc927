"""Loading the input table for a command: a file or a bundled dataset, and the read options.

The options that say which table and how to read it are declared once, in
:class:`clinisynth.cli.options.TableInput`.

Notices raised while reading (:class:`ClinisynthNotice`) are printed as one line each,
``notice: …``, on stdout, by :func:`printing_notices`.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pandas as pd
from rich.markup import escape

from clinisynth.cli.app import console
from clinisynth.cli.options import TableInput
from clinisynth.datasets import load_dataset
from clinisynth.errors import ClinisynthError
from clinisynth.io import ClinisynthNotice, ReadOptions, check_writable, read_table
from clinisynth.schema import TableSchema, infer_schema


@contextmanager
def printing_notices() -> Iterator[None]:
    """Print every :class:`ClinisynthNotice` raised in the block as one line ``notice: …``;
    other warnings pass through unchanged."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ClinisynthNotice)
        try:
            yield
        finally:
            others = []
            for item in caught:
                if issubclass(item.category, ClinisynthNotice):
                    console.print(f"[bold]notice:[/] {escape(str(item.message))}",
                                  highlight=False, soft_wrap=True)
                else:
                    others.append(item)
    for item in others:
        warnings.warn_explicit(item.message, item.category, item.filename, item.lineno,
                               source=item.source)


def read_input(path: Path, options: ReadOptions | None = None) -> pd.DataFrame:
    """:func:`read_table` with its notices printed."""
    with printing_notices():
        return read_table(path, options)


def load_input(data: Path | None, dataset: str | None, target: str | None,
               options: ReadOptions | None = None) -> tuple[pd.DataFrame, str, str]:
    """Return ``(table, target, label)`` from ``--data`` or ``--dataset`` (exactly one)."""
    if (data is None) == (dataset is None):
        raise ClinisynthError("give exactly one of --data FILE or --dataset NAME")
    if dataset is not None:
        df, default_target = load_dataset(dataset)
        return df, target or default_target, dataset
    assert data is not None
    if target is None:
        raise ClinisynthError("--target is required with --data")
    return read_input(data, options), target, data.name


def load_fit_input(table: TableInput, out: Path | None = None
                   ) -> tuple[pd.DataFrame, str, str, TableSchema]:
    """``(table, target, label, schema)``: the schema given (its target is the default) or
    inferred, and the table validated against it (and its names against ``out``'s format)."""
    schema = TableSchema.from_json(table.schema_file) if table.schema_file else None
    target = table.target
    if schema is not None and target is None:
        target = schema.target
    df, target_col, label = load_input(table.single, table.dataset, target, table.read_options())
    if out is not None:
        check_writable(df, out)
    if schema is None:
        schema = infer_schema(df, target_col)
    schema.validate(df)
    return df, target_col, label, schema
