"""Loading the input table for a command: a file or a bundled dataset, and the read options.

Every command that reads a table takes the same options; declare them with the aliases below
and turn them into :class:`ReadOptions` with :func:`read_options`::

    def cmd(..., sep: SepOption = None, encoding: EncodingOption = None,
            na_values: NaValuesOption = None, sheet: SheetOption = None):
        options = read_options(sep, encoding, na_values, sheet)

Notices raised while reading (:class:`ClinisynthNotice`) are printed as one line each,
``notice: …``, on stdout, by :func:`printing_notices`.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import pandas as pd
import typer
from rich.markup import escape

from clinisynth.cli.app import console
from clinisynth.datasets import load_dataset
from clinisynth.errors import ClinisynthError
from clinisynth.io import ClinisynthNotice, ReadOptions, read_table

SepOption = Annotated[str | None, typer.Option(
    "--sep", help="Delimiter of a text table: one character, or comma, semicolon, tab, pipe "
    "(default: detected).")]
EncodingOption = Annotated[str | None, typer.Option(
    "--encoding", help="Text encoding of the input, e.g. utf-8, cp1252, latin-1 (default: "
    "UTF-8, else cp1252, with a notice).")]
NaValuesOption = Annotated[list[str] | None, typer.Option(
    "--na-values", help="A cell text that means missing, e.g. '?'; repeat for several.")]
SheetOption = Annotated[str | None, typer.Option(
    "--sheet", help="Excel sheet to read: its name or its number from 1 (default: the first).")]


def read_options(sep: str | None = None, encoding: str | None = None,
                 na_values: list[str] | None = None, sheet: str | None = None) -> ReadOptions:
    """The :class:`ReadOptions` for the command-line flags (checked: one-line errors)."""
    return ReadOptions(sep=sep, encoding=encoding, na_values=tuple(na_values or ()), sheet=sheet)


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
