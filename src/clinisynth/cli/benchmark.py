"""`clinisynth benchmark`: every synthesizer on the same tables, splits, seeds and audit."""

from __future__ import annotations

import shlex
import time
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from clinisynth.benchmark import BenchmarkOptions, TableSpec, run_grid
from clinisynth.benchmark.runner import validate_grid
from clinisynth.cli.app import app, console, user_errors
from clinisynth.errors import ClinisynthError

DEFAULT_SYNTHESIZERS = "hybrid,gaussian_copula,ctgan,tvae,copulagan,smote"
EPOCH_PEERS = ("ctgan", "tvae", "copulagan")


def _tables(data: list[Path], targets: list[str], datasets: list[str]) -> list[Any]:
    if not data and not datasets:
        raise ClinisynthError("give a table: --data FILE --target COL, or --dataset NAME")
    if len(targets) != len(data):
        raise ClinisynthError(f"give one --target per --data ({len(data)} --data, "
                              f"{len(targets)} --target)")
    specs = [TableSpec.from_dataset(name) for name in datasets]
    specs += [TableSpec.from_file(path, target) for path, target in zip(data, targets,
                                                                        strict=True)]
    return specs


def _command(data: list[Path], targets: list[str], datasets: list[str], synthesizers: str,
             seeds: int, out: Path, scenarios: bool, engine: str, workers: int,
             epochs: int | None) -> str:
    parts = ["clinisynth", "benchmark"]
    for name in datasets:
        parts += ["--dataset", name]
    for path, target in zip(data, targets, strict=True):
        parts += ["--data", str(path), "--target", target]
    parts += ["--synthesizers", synthesizers, "--seeds", str(seeds), "--out", str(out)]
    if scenarios:
        parts.append("--scenarios")
    if epochs is not None:
        parts += ["--epochs", str(epochs)]
    parts += ["--engine", engine, "--workers", str(workers)]
    return shlex.join(parts)


@app.command("benchmark")
@user_errors
def benchmark_command(
    out: Annotated[Path, typer.Option("--out", help="Output directory (re-use it to resume).")],
    data: Annotated[list[Path] | None, typer.Option(
        "--data", help="Input table (.csv or .parquet); repeat for several tables.")] = None,
    target: Annotated[list[str] | None, typer.Option(
        "--target", help="The class column of each --data table, in the same order.")] = None,
    dataset: Annotated[list[str] | None, typer.Option(
        "--dataset", help="A bundled dataset (see `clinisynth datasets`); repeatable.")] = None,
    synthesizers: Annotated[str, typer.Option(
        "--synthesizers", help="Comma-separated: hybrid, gaussian_copula, ctgan, tvae, "
        "copulagan, smote (the SDV ones need the 'peers' extra).")] = DEFAULT_SYNTHESIZERS,
    seeds: Annotated[int, typer.Option("--seeds", help="Seeds 0..N-1 per table and synthesizer."
                                       )] = 3,
    scenarios: Annotated[bool, typer.Option(
        "--scenarios", help="Also score train-real/synthetic/mixed, augmentation and the "
        "data-scarcity curve.")] = False,
    engine: Annotated[str, typer.Option(
        "--engine", help="local (process pool), dask or ray.")] = "local",
    address: Annotated[str | None, typer.Option(
        "--address", help="Scheduler address of an existing Dask/Ray cluster; without it a "
        "local cluster is started.")] = None,
    workers: Annotated[int, typer.Option(
        "--workers", help="Cells run at once (local pool or local cluster).")] = 2,
    epochs: Annotated[int | None, typer.Option(
        "--epochs", help="Override SDV's training epochs for ctgan/tvae/copulagan (quick runs "
        "only; the benchmark proper uses SDV's defaults).")] = None,
) -> None:
    """Benchmark synthesizers: table × synthesizer × seed, audited alike, with a summary."""
    start = time.perf_counter()
    data, target, dataset = list(data or []), list(target or []), list(dataset or [])
    tables = _tables(data, target, dataset)
    names = [s.strip() for s in synthesizers.split(",") if s.strip()]
    if address is not None and engine == "local":
        raise ClinisynthError("--address needs --engine dask or --engine ray")
    if epochs is not None and epochs < 1:
        raise ClinisynthError(f"--epochs must be a positive integer, got {epochs}")
    validate_grid(tables, names, seeds, engine, workers)
    params = {n: {"epochs": epochs} for n in EPOCH_PEERS if n in names} if epochs else {}
    options = BenchmarkOptions(synth_params=params, scenarios=scenarios)
    command = _command(data, target, dataset, synthesizers, seeds, out, scenarios, engine,
                       workers, epochs)
    failures: list[str] = []
    progress = Progress(SpinnerColumn(), TextColumn("{task.description}"), BarColumn(),
                        MofNCompleteColumn(), TimeElapsedColumn(), TimeRemainingColumn(),
                        console=console, transient=False)
    with progress:
        task = progress.add_task("planning", total=None)

        def on_plan(to_run: int, skipped: int) -> None:
            if skipped:
                console.print(f"resuming: {skipped} finished cell(s) in {out} are kept",
                              highlight=False)
            progress.update(task, description=f"cells on {engine}", total=to_run)

        def on_result(rec: dict[str, Any]) -> None:
            ok = rec.get("status") == "ok" and rec.get("scenario_status") in (None, "ok")
            if not ok:
                error = rec.get("error") or rec.get("scenario_error")
                failures.append(f"{rec['key']}: {error}")
            secs = (rec.get("fit_seconds") or 0) + (rec.get("sample_seconds") or 0)
            mark = "[green]✓[/]" if ok else "[red]✗[/]"
            progress.console.print(f"{mark} {rec['key']}  fit+sample {secs:.1f} s", highlight=False)
            progress.advance(task)

        result = run_grid(tables, names, seeds, out, options, engine=engine, workers=workers,
                          address=address, on_plan=on_plan, on_result=on_result,
                          command=command)
    n_ok = int((result.records["status"] == "ok").sum())
    console.print(f"{n_ok} of {len(result.records)} cells finished "
                  f"({result.ran} run now, {result.skipped} resumed); "
                  f"wrote {out / 'results.csv'} and {out / 'summary.md'} "
                  f"in {time.perf_counter() - start:.1f} s", highlight=False)
    for line in failures:
        console.print(f"[red]failed[/] {line}", highlight=False)
