"""`clinisynth fit`: fit the hybrid on every row of a table and save the model directory."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import typer

from clinisynth.cli.app import app, console
from clinisynth.cli.data import (
    EncodingOption,
    NaValuesOption,
    SepOption,
    SheetOption,
    read_options,
)
from clinisynth.cli.lifecycle import (
    DEFAULT_CALIBRATION_TEXT,
    CalibrationOption,
    DataOption,
    DatasetOption,
    GeneratorsOption,
    GuardOption,
    MaxRowsOption,
    MaxSearchOption,
    PrivacyMarginOption,
    PrivacyWeightOption,
    SchemaOption,
    SeedOption,
    TargetOption,
    ThreadsOption,
    WeightsOption,
    fit_options,
    fit_with_progress,
    load_fit_input,
    print_model,
)
from clinisynth.persistence import check_model_target
from clinisynth.synthesizer import MAX_FIT_ROWS


@app.command("fit")
def fit_command(
    model: Annotated[Path, typer.Option(
        "--model", help="Directory to save the model in (new, empty, or a model to replace).")],
    data: DataOption = None,
    dataset: DatasetOption = None,
    target: TargetOption = None,
    schema_file: SchemaOption = None,
    seed: SeedOption = 0,
    weights: WeightsOption = "learned",
    calibration: CalibrationOption = DEFAULT_CALIBRATION_TEXT,
    privacy_guard: GuardOption = True,
    max_search_seconds: MaxSearchOption = None,
    sep: SepOption = None,
    encoding: EncodingOption = None,
    na_values: NaValuesOption = None,
    sheet: SheetOption = None,
    threads: ThreadsOption = None,
    max_rows: MaxRowsOption = MAX_FIT_ROWS,
    privacy_weight: PrivacyWeightOption = None,
    privacy_margin: PrivacyMarginOption = None,
    generators: GeneratorsOption = None,
) -> None:
    """Fit the hybrid generator on every row of a table and save it, for `clinisynth sample`."""
    start = time.perf_counter()
    check_model_target(model)
    read = read_options(sep, encoding, na_values, sheet)
    options = fit_options(weights, calibration, privacy_guard, seed, max_search_seconds,
                          threads, max_rows, privacy_weight, privacy_margin,
                          generators)
    df, target_col, label, schema = load_fit_input(data, dataset, target, schema_file, read)
    console.print(f"[bold]{label}[/]: {len(df)} rows × {df.shape[1]} columns, "
                  f"target '{target_col}'; fitting on "
                  + (f"a stratified subsample of {options.max_rows:,} rows (--max-rows)"
                     if options.max_rows and len(df) > options.max_rows else "all rows"),
                  highlight=False)
    syn = fit_with_progress(options.synthesizer(), df, target_col, schema,
                            announce_subsample=False)
    syn.save(model)
    print_model(syn)
    console.print(f"model saved to {model} in {time.perf_counter() - start:.1f} s; it holds "
                  "training rows: share synthetic tables, not the model", highlight=False)
