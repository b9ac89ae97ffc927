"""`clinisynth datasets` and `clinisynth schema`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from clinisynth.cli.app import app, console, user_errors
from clinisynth.cli.data import (
    EncodingOption,
    NaValuesOption,
    SepOption,
    SheetOption,
    load_input,
    read_options,
)
from clinisynth.datasets import DATASETS
from clinisynth.schema import infer_schema


@app.command("datasets")
def datasets_command() -> None:
    """List the bundled datasets (usable as --dataset NAME)."""
    table = Table(title="bundled datasets")
    table.add_column("name")
    table.add_column("target")
    table.add_column("description")
    for ds in DATASETS.values():
        table.add_row(ds.name, ds.target, ds.description)
    console.print(table)


@app.command("schema")
@user_errors
def schema_command(
    out: Annotated[Path, typer.Option("--out", help="Where to write the schema JSON.")],
    data: Annotated[Path | None, typer.Option(
        "--data", help="Input table (CSV/TSV, Parquet, .xlsx, .sas7bdat, .xpt, .dta, .sav).")
    ] = None,
    dataset: Annotated[str | None, typer.Option("--dataset", help="A bundled dataset.")] = None,
    target: Annotated[str | None, typer.Option("--target", help="The class column.")] = None,
    sep: SepOption = None,
    encoding: EncodingOption = None,
    na_values: NaValuesOption = None,
    sheet: SheetOption = None,
) -> None:
    """Infer a table's schema and write it as JSON, to edit and pass to `generate --schema`."""
    options = read_options(sep, encoding, na_values, sheet)
    df, target_col, _ = load_input(data, dataset, target, options)
    schema = infer_schema(df, target_col)
    schema.to_json(out)
    table = Table(title=f"schema ({len(schema.columns)} columns, target '{schema.target}')")
    for name in ("column", "kind", "range / categories", "missing"):
        table.add_column(name)
    for col in schema.columns:
        span = f"{col.min:g} to {col.max:g}" if col.is_numeric else ", ".join(
            map(str, (col.categories or [])[:6]))
        table.add_row(col.name, col.kind, span, f"{col.missing_rate:.1%}")
    console.print(table)
    if schema.survival:
        pair = schema.survival
        console.print(f"survival pair: time '{pair['time']}', event '{pair['event']}' in "
                      f"{pair['event_values']} (edit or set to null in the JSON)",
                      highlight=False)
    console.print(f"schema written to {out}")
