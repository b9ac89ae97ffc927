"""`clinisynth generate`: fit the hybrid on a table and write synthetic rows."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from clinisynth.cli.app import app, console, user_errors
from clinisynth.cli.data import load_input
from clinisynth.errors import ClinisynthError
from clinisynth.io import check_output_path, write_table
from clinisynth.mixture import parse_weights, resolve_weights
from clinisynth.schema import TableSchema, infer_schema
from clinisynth.synthesizer import DEFAULT_CALIBRATION, HybridSynthesizer


def parse_calibration(text: str) -> list[str]:
    """``"moment,adaptive_soft"`` -> steps; ``"none"`` -> no calibration. Names are checked."""
    from clinisynth.calibration import get_calibrator

    if text.strip().lower() in ("", "none"):
        return []
    steps = [part.strip() for part in text.split(",") if part.strip()]
    for step in steps:
        try:
            get_calibrator(step)
        except ClinisynthError as exc:
            raise ClinisynthError(f"--calibration: {exc}") from None
    return steps


def progress_bar() -> Progress:
    return Progress(SpinnerColumn(), TextColumn("{task.description}"), BarColumn(),
                    TextColumn("{task.completed}/{task.total}"), TimeElapsedColumn(),
                    console=console, transient=False)


def fit_with_progress(syn: HybridSynthesizer, df, target: str,
                      schema: TableSchema | None = None) -> HybridSynthesizer:
    """Fit ``syn`` with a rich progress bar over its generators."""
    with progress_bar() as bar:
        task = bar.add_task("fitting", total=None)

        def on_step(label: str, i: int, total: int) -> None:
            bar.update(task, description=label, completed=i, total=total)

        return syn.fit(df, target, schema=schema, on_step=on_step)


@app.command("generate")
@user_errors
def generate_command(
    rows: Annotated[int, typer.Option("--rows", help="Number of synthetic rows to write.")],
    out: Annotated[Path, typer.Option("--out", help="Output table (.csv or .parquet).")],
    data: Annotated[Path | None, typer.Option("--data", help="Input table (.csv or .parquet).")
                    ] = None,
    dataset: Annotated[str | None, typer.Option(
        "--dataset", help="A bundled dataset instead of --data (see `clinisynth datasets`).")
    ] = None,
    target: Annotated[str | None, typer.Option("--target", help="The class (outcome) column.")
                      ] = None,
    seed: Annotated[int, typer.Option("--seed", help="Seed for every random choice.")] = 0,
    weights: Annotated[str, typer.Option(
        "--weights", help="'learned' (reinforcement-learning search), 'uniform', one generator "
        "name, or name=weight pairs: noise=1,gmm=2.")
    ] = "learned",
    calibration: Annotated[str, typer.Option(
        "--calibration", help="Calibration chain, comma-separated (moment, histogram, soft, "
        "adaptive_soft, iterative_soft), or 'none'.")
    ] = ",".join(DEFAULT_CALIBRATION),
    privacy_guard: Annotated[bool, typer.Option(
        "--privacy-guard/--no-privacy-guard", help="Refuse rows too close to a patient.")
    ] = True,
    schema_file: Annotated[Path | None, typer.Option(
        "--schema", help="A schema JSON (from `clinisynth schema`) to use instead of inferring.")
    ] = None,
    save_model: Annotated[Path | None, typer.Option(
        "--save-model", help="Directory to save the fitted model in (JSON + arrays).")] = None,
) -> None:
    """Fit the hybrid generator on a table and write synthetic rows."""
    start = time.perf_counter()
    if rows < 1:
        raise ClinisynthError(f"--rows must be a positive integer, got {rows}")
    out = check_output_path(out)
    spec = parse_weights(weights)
    if spec != "learned":
        resolve_weights(spec)  # fail on a bad spec before reading any data
    steps = parse_calibration(calibration)
    schema = TableSchema.from_json(schema_file) if schema_file else None
    if schema is not None and target is None:
        target = schema.target
    df, target_col, label = load_input(data, dataset, target)
    if schema is None:
        schema = infer_schema(df, target_col)
    console.print(f"[bold]{label}[/]: {len(df)} rows × {df.shape[1]} columns, "
                  f"target '{target_col}'", highlight=False)
    syn = HybridSynthesizer(weights=spec, calibration=steps, privacy_guard=privacy_guard,
                            seed=seed)
    syn = fit_with_progress(syn, df, target_col, schema)
    fake = syn.sample(rows)
    write_table(fake, out)
    if save_model is not None:
        syn.save(save_model)
    print_summary(fake, target_col, out, syn, time.perf_counter() - start, save_model)


def print_summary(fake, target: str, out: Path, syn: HybridSynthesizer, seconds: float,
                  model_dir: Path | None) -> None:
    table = Table(title=f"{len(fake)} synthetic rows written to {out}")
    table.add_column(f"class ({target})")
    table.add_column("rows", justify="right")
    for label, count in fake[target].value_counts(sort=False).sort_index().items():
        table.add_row(str(label), str(count))
    console.print(table)
    mix = ", ".join(f"{n} {w:.2f}" for n, w in syn.weights_.items())
    how = "learned" if syn.search_ else "given"
    console.print(f"generator weights ({how}): {mix}", highlight=False)
    steps = " → ".join(syn.calibration_.steps) if syn.calibration_ else "none"
    console.print(f"calibration: {steps}", highlight=False)
    if syn.guard_report_ is not None:
        g = syn.guard_report_
        console.print(f"privacy guard: {g.refused} near-copies refused and redrawn "
                      f"in {g.rounds} round(s); {g.remaining} left", highlight=False)
    if model_dir is not None:
        console.print(f"model saved to {model_dir}", highlight=False)
    console.print(f"done in {seconds:.1f} s", highlight=False)
