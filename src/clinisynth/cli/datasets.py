"""`clinisynth datasets` and `clinisynth schema`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from clinisynth.cli.app import app, console, user_errors
from clinisynth.cli.data import load_input
from clinisynth.cli.linked import linked_schema_command
from clinisynth.cli.options import (
    DataOption,
    DatasetOption,
    EncodingOption,
    KeyOption,
    NaValuesOption,
    SepOption,
    SheetOption,
    TableInput,
    TargetOption,
    read_options,
)
from clinisynth.cli.summary import print_pairs
from clinisynth.datasets import DATASETS
from clinisynth.rules.storage import describe as describe_storage
from clinisynth.schema import ColumnSchema, TableSchema, infer_schema
from clinisynth.schema.rules import rule_from_dict
from clinisynth.steps.roles import RolesStep
from clinisynth.steps.rules import RulesStep


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
    data: DataOption = None,
    dataset: DatasetOption = None,
    target: TargetOption = None,
    sep: SepOption = None,
    encoding: EncodingOption = None,
    na_values: NaValuesOption = None,
    sheet: SheetOption = None,
    key: KeyOption = None,
) -> None:
    """Infer a table's schema and write it as JSON, to edit and pass to `generate --schema`.

    The file also holds the rules discovered in the table and each numeric column's recorded
    precision: delete or add rules there (an empty ``"rules"`` list turns rules off).
    With several --data tables it writes their links instead (the parent, the key, each
    child's order, intervals, counter and bound), to edit and pass to `generate --links`.
    """
    if len(data or []) > 1:
        linked_schema_command(TableInput(data=data, target=target, sep=sep, encoding=encoding,
                                         na_values=na_values, sheet=sheet, key=key), out)
        return
    options = read_options(sep, encoding, na_values, sheet)
    df, target_col, _ = load_input(data[0] if data else None, dataset, target, options)
    schema = infer_schema(df, target_col)
    roles = RolesStep().fit_table(df, schema)  # rules are found on the record view (dates as days)
    learned = RulesStep().fit_table(roles.transform_table(df), roles.model_schema_).schema_
    schema.rules = learned.rules
    for col in learned.columns:
        if col.name in schema.names and schema[col.name].is_numeric:
            schema[col.name].precision = col.precision
            schema[col.name].storage = col.storage
    schema.to_json(out)
    console.print(schema_table(schema))
    print_pairs(schema, df)
    for rule in schema.rules or []:
        console.print(f"rule: {rule_from_dict(rule).describe()}", highlight=False)
    for col in schema.columns:
        if isinstance(col.storage, dict):
            console.print(f"stored as in the file: {col.name} {describe_storage(col.storage)} "
                          '(set "storage": false to write plain decimals)', highlight=False)
    console.print(f"schema written to {out} ({len(schema.rules or [])} rules)")


def schema_table(schema: TableSchema) -> Table:
    """Columns with kind, role, range or categories, and missing rate (values of identifier,
    date and text columns are not shown: the schema does not hold them)."""
    table = Table(title=f"schema ({len(schema.columns)} columns, target '{schema.target}', "
                        f"rare below k={schema.k})")
    for name in ("column", "kind", "role", "range / categories", "missing"):
        table.add_column(name)
    for col in schema.columns:
        table.add_row(col.name, col.kind, _role_text(col), _span(col), f"{col.missing_rate:.1%}")
    return table


def _role_text(col: ColumnSchema) -> str:
    if col.role == "identifier":
        return f"identifier ({col.strategy or 'regenerate'})"
    return col.role or ""


def _span(col: ColumnSchema) -> str:
    if col.role == "datetime":
        return f"dates, format {col.format}" if col.format else "dates (datetime dtype)"
    if col.role == "identifier":
        return "regenerated, never copied" if col.strategy != "drop" else "dropped"
    if col.role == "text":
        return "free text, written as missing"
    if col.is_numeric:
        return f"{col.min:g} to {col.max:g}"
    return ", ".join(map(str, (col.categories or [])[:6]))
