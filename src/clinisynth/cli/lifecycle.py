"""What `generate`, `fit` and `sample` share: the fitting options and their checks, fitting with
a progress bar, output-path checks against the model directory, and the printed summaries."""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

import pandas as pd
import typer
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from clinisynth.cli.app import console
from clinisynth.cli.data import load_input
from clinisynth.errors import ClinisynthError
from clinisynth.io import ReadOptions, TableWriter, check_writable, write_table
from clinisynth.mixture import (
    WeightSpec,
    parse_weights,
    resolve_generators,
    resolve_weights,
    weights_range,
)
from clinisynth.schema import TableSchema, infer_schema
from clinisynth.synthesizer import (
    DEFAULT_CALIBRATION,
    MAX_FIT_ROWS,
    MIN_ROWS_TO_LEARN,
    HybridSynthesizer,
)
from clinisynth.threads import resolve_threads

# -- the options `generate` and `fit` share ------------------------------------------------------
DataOption = Annotated[Path | None, typer.Option(
    "--data", help="Input table: CSV/TSV (also .gz, .zip), Parquet, Excel .xlsx, SAS "
    ".sas7bdat/.xpt, Stata .dta, SPSS .sav.")]
DatasetOption = Annotated[str | None, typer.Option(
    "--dataset", help="A bundled dataset instead of --data (see `clinisynth datasets`).")]
TargetOption = Annotated[str | None, typer.Option("--target", help="The class (outcome) column.")]
SeedOption = Annotated[int, typer.Option("--seed", help="Seed for every random choice.")]
WeightsOption = Annotated[str, typer.Option(
    "--weights", help="'learned' (reinforcement-learning search), 'uniform', one generator "
    "name, or name=weight pairs: noise=1,gmm=2.")]
CalibrationOption = Annotated[str, typer.Option(
    "--calibration", help="Calibration chain, comma-separated (moment, histogram, soft, "
    "adaptive_soft, iterative_soft), or 'none'.")]
GuardOption = Annotated[bool, typer.Option(
    "--privacy-guard/--no-privacy-guard", help="Refuse rows too close to a patient.")]
SchemaOption = Annotated[Path | None, typer.Option(
    "--schema", help="A schema JSON (from `clinisynth schema`) to use instead of inferring.")]
MaxSearchOption = Annotated[float | None, typer.Option(
    "--max-search-seconds", help="Stop the weight search after this many seconds. Off by "
    "default: the search runs its full episode budget, so --seed alone fixes the output; with "
    "a cap the learned weights depend on the machine's speed.")]
ThreadsOption = Annotated[int | None, typer.Option(
    "--threads", metavar="N", help="Threads for BLAS, scikit-learn and PyTorch (-1: every "
    "core; default: the libraries' own); results do not depend on it.")]
MaxRowsOption = Annotated[int, typer.Option(
    "--max-rows", metavar="N", help="Fit on a stratified subsample of N rows when the table "
    "has more (the other rows are never used, so they cannot be copied; sampling time stays "
    "bounded); 0 fits every row.")]
PrivacyWeightOption = Annotated[float | None, typer.Option(
    "--privacy-weight", metavar="W", help="Weight of the privacy term in the weight search's "
    "reward (default 1): larger moves weight from the generators that resample patients to "
    "those that do not (see benchmarks/results/mixture_tradeoff.md).")]
PrivacyMarginOption = Annotated[float | None, typer.Option(
    "--privacy-margin", metavar="M", help="Share of synthetic rows closer to the search split "
    "than to validation rows tolerated above 0.5 before the privacy term counts (default "
    "0.05).")]
GeneratorsOption = Annotated[str | None, typer.Option(
    "--generators", metavar="NAMES", help="Generators learned or uniform weights range over, "
    "comma-separated, or 'all' (default: gmm,cvae, the two that do not build rows from real "
    "patients; 'all' adds noise, interpolation and smote, which add singling-out and "
    "linkability risk: see benchmarks/results/mixture_tradeoff.md).")]
DEFAULT_CALIBRATION_TEXT = ",".join(DEFAULT_CALIBRATION)


def check_threads(threads: int | None) -> int | None:
    """Check ``--threads`` before any work; the value is passed on as ``n_jobs``."""
    if threads is not None and (threads == 0 or threads < -1):
        raise ClinisynthError(f"--threads must be a positive integer or -1, got {threads}")
    resolve_threads(threads)
    return threads


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


@dataclass(frozen=True)
class FitOptions:
    """The checked fitting options; :meth:`synthesizer` builds the unfitted model."""

    weights: WeightSpec
    calibration: list[str]
    privacy_guard: bool
    seed: int
    max_search_seconds: float | None
    threads: int | None = None
    max_rows: int | None = MAX_FIT_ROWS
    reward: dict[str, float] | None = None
    generators: str | list[str] | None = None

    def synthesizer(self) -> HybridSynthesizer:
        search = ({"seconds": self.max_search_seconds}
                  if self.max_search_seconds is not None else None)
        return HybridSynthesizer(weights=self.weights, calibration=self.calibration,
                                 privacy_guard=self.privacy_guard, search=search,
                                 seed=self.seed, n_jobs=self.threads, max_rows=self.max_rows,
                                 reward=self.reward, generators=self.generators)


def fit_options(weights: str, calibration: str, privacy_guard: bool, seed: int,
                max_search_seconds: float | None, threads: int | None = None,
                max_rows: int = MAX_FIT_ROWS, privacy_weight: float | None = None,
                privacy_margin: float | None = None, generators: str | None = None
                ) -> FitOptions:
    """Check the fitting options before any data is read."""
    check_seed(seed)
    spec = parse_weights(weights)
    allowed = parse_generators(generators)
    if spec != "learned":
        resolve_weights(spec, weights_range(spec, allowed))
    if max_search_seconds is not None:
        if not max_search_seconds > 0:
            raise ClinisynthError(
                f"--max-search-seconds must be positive, got {max_search_seconds}")
        if spec != "learned":
            raise ClinisynthError("--max-search-seconds applies only to --weights learned")
    if max_rows != 0 and max_rows < 2 * MIN_ROWS_TO_LEARN:
        raise ClinisynthError(f"--max-rows must be 0 (every row) or at least "
                              f"{2 * MIN_ROWS_TO_LEARN}, got {max_rows}")
    return FitOptions(spec, parse_calibration(calibration), privacy_guard, seed,
                      max_search_seconds, check_threads(threads), max_rows or None,
                      reward_options(spec, privacy_weight, privacy_margin), allowed)


def parse_generators(text: str | None) -> str | list[str] | None:
    """``--generators gmm,cvae`` (or ``all``) as the synthesizer's checked ``generators``
    (None: the default set)."""
    if text is None:
        return None
    spec: str | list[str] = ("all" if text.strip() == "all"
                             else [part.strip() for part in text.split(",") if part.strip()])
    try:
        resolve_generators(spec)
    except ClinisynthError as exc:
        raise ClinisynthError(f"--{exc}") from None
    return spec


def reward_options(spec: WeightSpec, privacy_weight: float | None,
                   privacy_margin: float | None) -> dict[str, float] | None:
    """``--privacy-weight`` / ``--privacy-margin`` as the synthesizer's ``reward`` (checked)."""
    reward = {key: float(value) for key, value in (("privacy", privacy_weight),
                                                   ("privacy_margin", privacy_margin))
              if value is not None}
    if not reward:
        return None
    option = "--privacy-weight" if privacy_weight is not None else "--privacy-margin"
    if spec != "learned":
        raise ClinisynthError(f"{option} applies only to --weights learned")
    if privacy_weight is not None and not (math.isfinite(privacy_weight) and privacy_weight >= 0):
        raise ClinisynthError(f"--privacy-weight must be a non-negative number, got "
                              f"{privacy_weight}")
    if privacy_margin is not None and not 0 <= privacy_margin < 0.5:
        raise ClinisynthError(f"--privacy-margin must be in [0, 0.5), got {privacy_margin}")
    return reward


def check_seed(seed: int) -> None:
    if seed < 0:
        raise ClinisynthError(f"--seed must be a non-negative integer, got {seed}")


def load_fit_input(data: Path | None, dataset: str | None, target: str | None,
                   schema_file: Path | None, read: ReadOptions | None = None,
                   out: Path | None = None) -> tuple[pd.DataFrame, str, str, TableSchema]:
    """``(table, target, label, schema)``: the schema given (its target is the default) or
    inferred, and the table validated against it (and its names against ``out``'s format)."""
    schema = TableSchema.from_json(schema_file) if schema_file else None
    if schema is not None and target is None:
        target = schema.target
    df, target_col, label = load_input(data, dataset, target, read)
    if out is not None:
        check_writable(df, out)
    if schema is None:
        schema = infer_schema(df, target_col)
    schema.validate(df)
    return df, target_col, label, schema


def progress_bar() -> Progress:
    return Progress(SpinnerColumn(), TextColumn("{task.description}"), BarColumn(),
                    TextColumn("{task.completed}/{task.total}"), TimeElapsedColumn(),
                    console=console, transient=False)


def fit_with_progress(syn: HybridSynthesizer, df: pd.DataFrame, target: str,
                      schema: TableSchema | None = None, announce_subsample: bool = True
                      ) -> HybridSynthesizer:
    """Fit ``syn`` with a rich progress bar over its generators (and say when ``max_rows``
    made it fit a subsample, unless the caller already did)."""
    with progress_bar() as bar:
        task = bar.add_task("fitting", total=None)

        def on_step(label: str, i: int, total: int) -> None:
            bar.update(task, description=label, completed=i, total=total)

        syn.fit(df, target, schema=schema, on_step=on_step)
    given, used = syn.fit_rows_
    if announce_subsample and used < given:
        console.print(f"fitted on a stratified subsample of {used:,} of {given:,} rows "
                      "(--max-rows); the other rows were not used", highlight=False)
    return syn


# -- paths -----------------------------------------------------------------------------------------
def check_outside(path: Path | None, model_dir: Path | None, option: str, model_option: str
                  ) -> None:
    """Refuse an output file that is the model directory or inside it (saving a model replaces
    its whole directory, and a model directory holds only the model's files)."""
    if path is None or model_dir is None:
        return
    file, folder = Path(os.path.realpath(path)), Path(os.path.realpath(model_dir))
    if file == folder or folder in file.parents:
        raise ClinisynthError(f"{option} '{path}' is inside {model_option} '{model_dir}'; a "
                              "model directory holds only the model's files, so write the "
                              "table elsewhere")


# -- sampling to a file ----------------------------------------------------------------------------
@dataclass
class Draw:
    """What was written: rows per class, and the whole table when it was asked to be kept."""

    counts: dict[Any, int] = field(default_factory=dict)
    table: pd.DataFrame | None = None

    def add(self, labels: pd.Series) -> None:
        for label, n in labels.value_counts(sort=False).items():
            self.counts[label] = self.counts.get(label, 0) + int(n)


def write_draw(syn: HybridSynthesizer, rows: int, out: Path,
               class_counts: Mapping[Any, int] | None = None, seed: int = 0,
               keep: bool = False) -> Draw:
    """Sample ``rows`` rows of ``syn`` into ``out`` chunk by chunk (:meth:`iter_chunks` into a
    :class:`~clinisynth.io.TableWriter`), with a progress bar of rows written; atomic.

    The rows per class are counted as the chunks pass; ``keep`` also keeps the chunks and
    returns their concatenation (equal to ``syn.sample(rows, class_counts, seed)``) as
    ``Draw.table``, for an audit that needs the whole table.
    """
    draw, kept = Draw(), []
    target = syn.schema_.target
    with progress_bar() as bar, TableWriter(out, schema=syn.schema_) as writer:
        task = bar.add_task("sampling", total=rows)
        for chunk in syn.iter_chunks(rows, class_counts, seed):
            writer.write(chunk)
            draw.add(chunk[target])
            if keep:
                kept.append(chunk)
            bar.update(task, completed=writer.rows)
        if not writer.streamed:
            bar.update(task, description=f"writing {out.suffix}")
    if keep:
        draw.table = pd.concat(kept, ignore_index=True) if len(kept) > 1 else kept[0]
    return draw


def write_frame(fake: pd.DataFrame, target: str, out: Path) -> Draw:
    """Write a table drawn in one piece (conditioned sampling), atomically; its :class:`Draw`."""
    write_table(fake, out)
    draw = Draw(table=fake)
    draw.add(fake[target])
    return draw


# -- summaries -------------------------------------------------------------------------------------
def print_rows(counts: Mapping[Any, int], target: str, out: Path | str) -> None:
    """A table of the rows written per class (``counts``: class -> rows, see :class:`Draw`)."""
    by_class = pd.Series(dict(counts), dtype="int64").sort_index()
    table = Table(title=f"{int(by_class.sum())} synthetic rows written to {out}")
    table.add_column(f"class ({target})")
    table.add_column("rows", justify="right")
    for label, count in by_class.items():
        if count:
            table.add_row(str(label), str(count))
    console.print(table)


def print_model(syn: HybridSynthesizer) -> None:
    """The weights (learned or given, and what stopped the search), calibration and guard."""
    mix = ", ".join(f"{n} {w:.2f}" for n, w in syn.weights_.items())
    how = "given"
    if syn.search_:
        how = f"learned in {len(syn.search_.episodes)} episodes"
        if syn.search_.stopped_by == "time":
            how += ", stopped by --max-search-seconds"
    console.print(f"generator weights ({how}): {mix}", highlight=False)
    steps = " → ".join(syn.calibration_.steps) if syn.calibration_ else "none"
    console.print(f"calibration: {steps}", highlight=False)
    survival = getattr(syn, "survival_", None)
    if survival is not None:
        pair, window = survival.pair_, survival.window_
        cell = (pair["event"] if pair["event"] == syn.schema_.target
                else f"({syn.schema_.target}, {pair['event']})")
        text = f"survival: {pair['time']} modelled per {cell} cell"
        if window:
            text += (f"; study window {window['entry']} × {window['scale']:g} + {pair['time']} "
                     f"≤ {window['end']:g} ({window['rows_at_end']:.0%} of rows reach it), kept "
                     "for every synthetic row")
        console.print(text, highlight=False)


def print_guard(syn: HybridSynthesizer) -> None:
    """What the privacy guard did in the last draw."""
    g: Any = getattr(syn, "guard_report_", None)
    if g is None:
        return
    roles = syn.roles_.report()
    if any(roles.get(r) for r in ("identifier", "datetime", "text")):
        parts = [f"{r} {', '.join(roles[r])}" for r in ("identifier", "datetime", "text")
                 if roles.get(r)]
        console.print("column roles: " + "; ".join(parts) + " (identifiers regenerated, dates "
                      "modelled as numbers, text written as missing)", highlight=False)
    guard = syn.guard_
    qi = (f"singling-out on {', '.join(guard.qi_)}" if guard is not None
          and guard.singling_out_active else "singling-out rule off (no quasi-identifiers)")
    rules = ", ".join(f"{rule} {count}" for rule, count in sorted(g.by_rule.items()))
    console.print(f"privacy guard ({qi}; distance rule): {g.refused} refused draw(s) replaced"
                  + (f" (by rule: {rules})" if rules else "")
                  + f" in {g.rounds} round(s), {g.fallback} from the last-resort generators; "
                  "no refused row is written", highlight=False)
