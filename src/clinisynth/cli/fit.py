"""`clinisynth fit`: fit the hybrid on every row of a table and save the model directory."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import typer

from clinisynth.cli.app import app, console
from clinisynth.cli.data import load_fit_input
from clinisynth.cli.linked import linked_fit_command
from clinisynth.cli.options import FitChoices, TableInput, with_options
from clinisynth.cli.progress import fit_with_progress
from clinisynth.cli.summary import print_model, print_model_contents, print_pairs
from clinisynth.persistence import check_model_target


@app.command("fit")
@with_options(table=TableInput, choices=FitChoices)
def fit_command(
    model: Annotated[Path, typer.Option(
        "--model", help="Directory to save the model in (new, empty, or a model to replace).")],
    table: TableInput,
    choices: FitChoices,
) -> None:
    """Fit the hybrid generator on every row of a table and save it, for `clinisynth sample`.

    With several --data tables (a parent and its child tables) the linked model is fitted."""
    start = time.perf_counter()
    check_model_target(model)
    options = choices.checked()
    if table.linked:
        linked_fit_command(table, options, model)
        return
    df, target_col, label, schema = load_fit_input(table)
    console.print(f"[bold]{label}[/]: {len(df)} rows × {df.shape[1]} columns, "
                  f"target '{target_col}'; fitting on "
                  + (f"a stratified subsample of {options.max_rows:,} rows (--max-rows)"
                     if options.max_rows and len(df) > options.max_rows else "all rows"),
                  highlight=False)
    print_pairs(schema, df)
    syn = fit_with_progress(options.synthesizer(), df, target_col, schema,
                            announce_subsample=False)
    syn.save(model)
    print_model(syn)
    print_model_contents(syn, model)
    console.print(f"fitted in {time.perf_counter() - start:.1f} s", highlight=False)
