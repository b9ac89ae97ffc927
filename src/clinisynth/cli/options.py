"""The options several commands share, declared once, and their checks.

Options are grouped in dataclasses whose fields are typer options (:class:`TableInput`: the
table and how to read it; :class:`FitChoices`: how to fit). :func:`with_options` adds a group's
options to a command's signature, where typer finds them, and hands the command one object::

    @app.command("fit")
    @with_options(table=TableInput, choices=FitChoices)
    def fit_command(model: ..., table: TableInput, choices: FitChoices) -> None: ...

Every check raises a one-line :class:`~clinisynth.errors.ClinisynthError` naming the option.
"""

from __future__ import annotations

import functools
import inspect
import math
import os
from collections.abc import Callable
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Annotated, Any, TypeVar, get_type_hints

import typer

from clinisynth.calibration import get_calibrator
from clinisynth.errors import ClinisynthError
from clinisynth.io import ReadOptions
from clinisynth.params import DEFAULT_CALIBRATION, MAX_FIT_ROWS, check_dp
from clinisynth.steps.search import MIN_ROWS_TO_LEARN
from clinisynth.synthesizer import HybridSynthesizer
from clinisynth.threads import resolve_threads
from clinisynth.weights import (
    WeightSpec,
    parse_weights,
    resolve_generators,
    resolve_weights,
    weights_range,
)

F = TypeVar("F", bound=Callable[..., Any])

# -- reading a table -----------------------------------------------------------------------------
DataOption = Annotated[list[Path] | None, typer.Option(
    "--data", help="Input table: CSV/TSV (also .gz, .zip), Parquet, Excel .xlsx, SAS "
    ".sas7bdat/.xpt, Stata .dta, SPSS .sav. Repeat for linked tables: a parent table (one row "
    "per patient) and its child tables (visits, labs, intervals); --out is then a directory.")]
KeyOption = Annotated[str | None, typer.Option(
    "--key", help="With several --data tables: the column linking them (default: inferred, "
    "the column unique in one table and found in every other).")]
LinksOption = Annotated[Path | None, typer.Option(
    "--links", help="With several --data tables: a links JSON (from `clinisynth schema` with "
    "the same tables), or SDV's multi-table metadata JSON, to use instead of inferring the "
    "parent, key and each child's order.")]
DatasetOption = Annotated[str | None, typer.Option(
    "--dataset", help="A bundled dataset instead of --data (see `clinisynth datasets`).")]
TargetOption = Annotated[str | None, typer.Option("--target", help="The class (outcome) column.")]
SchemaOption = Annotated[Path | None, typer.Option(
    "--schema", help="A schema JSON (from `clinisynth schema`) to use instead of inferring.")]
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
# -- fitting ---------------------------------------------------------------------------------------
SeedOption = Annotated[int, typer.Option("--seed", help="Seed for every random choice.")]
WeightsOption = Annotated[str, typer.Option(
    "--weights", help="'learned' (reinforcement-learning search), 'uniform', one generator "
    "name, or name=weight pairs: noise=1,gmm=2.")]
CalibrationOption = Annotated[str, typer.Option(
    "--calibration", help="Calibration chain, comma-separated (moment, histogram, soft, "
    "adaptive_soft, iterative_soft), or 'none'.")]
GuardOption = Annotated[bool, typer.Option(
    "--privacy-guard/--no-privacy-guard", help="Refuse rows too close to a patient.")]
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

EpsilonOption = Annotated[float | None, typer.Option(
    "--epsilon", metavar="E", help="Differential privacy: fit with a formal (ε, δ) guarantee "
    "per patient, every read of the rows charged to one budget (the DP tree of noisy "
    "marginals; the weight search, calibration and guard do not run). Off by default.")]
DeltaOption = Annotated[float | None, typer.Option(
    "--delta", metavar="D", help="The δ of --epsilon (default 1e-6; it must be at most "
    "1/(10 × rows)).")]


@dataclass(frozen=True)
class TableInput:
    """``--data`` or ``--dataset``, the target, an optional schema file and the read options."""

    data: DataOption = None
    dataset: DatasetOption = None
    target: TargetOption = None
    schema_file: SchemaOption = None
    sep: SepOption = None
    encoding: EncodingOption = None
    na_values: NaValuesOption = None
    sheet: SheetOption = None
    key: KeyOption = None
    links_file: LinksOption = None

    def read_options(self) -> ReadOptions:
        return read_options(self.sep, self.encoding, self.na_values, self.sheet)

    @property
    def linked(self) -> bool:
        """Several ``--data`` tables: the linked-tables path."""
        return len(self.data or []) > 1

    @property
    def single(self) -> Path | None:
        """The one ``--data`` table (None with ``--dataset``)."""
        if self.linked:
            raise ClinisynthError("this command takes one --data table")
        if self.key is not None or self.links_file is not None:
            raise ClinisynthError("--key and --links apply to several --data tables")
        return self.data[0] if self.data else None


@dataclass(frozen=True)
class FitChoices:
    """How to fit: the options `fit` and `generate` share (:meth:`checked` checks them)."""

    seed: SeedOption = 0
    weights: WeightsOption = "learned"
    calibration: CalibrationOption = ",".join(DEFAULT_CALIBRATION)
    privacy_guard: GuardOption = True
    max_search_seconds: MaxSearchOption = None
    threads: ThreadsOption = None
    max_rows: MaxRowsOption = MAX_FIT_ROWS
    privacy_weight: PrivacyWeightOption = None
    privacy_margin: PrivacyMarginOption = None
    generators: GeneratorsOption = None
    epsilon: EpsilonOption = None
    delta: DeltaOption = None

    def checked(self) -> FitOptions:
        """The options checked before any data is read."""
        check_seed(self.seed)
        spec = parse_weights(self.weights)
        allowed = parse_generators(self.generators)
        if spec != "learned":
            resolve_weights(spec, weights_range(spec, allowed))
        if self.max_search_seconds is not None:
            if not self.max_search_seconds > 0:
                raise ClinisynthError(f"--max-search-seconds must be positive, got "
                                      f"{self.max_search_seconds}")
            if spec != "learned":
                raise ClinisynthError("--max-search-seconds applies only to --weights learned")
        if self.max_rows != 0 and self.max_rows < 2 * MIN_ROWS_TO_LEARN:
            raise ClinisynthError(f"--max-rows must be 0 (every row) or at least "
                                  f"{2 * MIN_ROWS_TO_LEARN}, got {self.max_rows}")
        return FitOptions(spec, parse_calibration(self.calibration), self.privacy_guard,
                          self.seed, self.max_search_seconds, check_threads(self.threads),
                          self.max_rows or None,
                          reward_options(spec, self.privacy_weight, self.privacy_margin),
                          allowed, *dp_options(self.epsilon, self.delta))


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
    epsilon: float | None = None
    delta: float | None = None

    def synthesizer(self) -> HybridSynthesizer:
        search = ({"seconds": self.max_search_seconds}
                  if self.max_search_seconds is not None else None)
        return HybridSynthesizer(weights=self.weights, calibration=self.calibration,
                                 privacy_guard=self.privacy_guard, search=search,
                                 seed=self.seed, n_jobs=self.threads, max_rows=self.max_rows,
                                 reward=self.reward, generators=self.generators,
                                 epsilon=self.epsilon, delta=self.delta)


def dp_options(epsilon: float | None, delta: float | None) -> tuple[float | None,
                                                                     float | None]:
    """``--epsilon`` and ``--delta``, checked (a one-line error naming the option)."""
    try:
        check_dp(epsilon, delta)
    except ClinisynthError as exc:
        raise ClinisynthError(str(exc).replace("epsilon", "--epsilon", 1).replace(
            "delta", "--delta", 1)) from None
    return epsilon, delta


def with_options(**groups: type) -> Callable[[F], F]:
    """Add each group's fields to the command's options; call it with one group object per
    keyword (see the module docstring)."""

    def decorate(func: F) -> F:
        signature = inspect.signature(func, eval_str=True)
        kept = [p for name, p in signature.parameters.items() if name not in groups]
        added = []
        for group in groups.values():
            hints = get_type_hints(group, include_extras=True)
            added += [inspect.Parameter(f.name, inspect.Parameter.KEYWORD_ONLY,
                                        default=f.default, annotation=hints[f.name])
                      for f in fields(group)]

        @functools.wraps(func)
        def command(*args: Any, **kwargs: Any) -> Any:
            for name, group in groups.items():
                kwargs[name] = group(**{f.name: kwargs.pop(f.name) for f in fields(group)})
            return func(*args, **kwargs)

        parameters = kept + added
        command.__signature__ = signature.replace(parameters=parameters)  # type: ignore[attr-defined]
        command.__annotations__ = {p.name: p.annotation for p in parameters}
        return command  # type: ignore[return-value]

    return decorate


# -- checks ----------------------------------------------------------------------------------------
def read_options(sep: str | None = None, encoding: str | None = None,
                 na_values: list[str] | None = None, sheet: str | None = None) -> ReadOptions:
    """The :class:`ReadOptions` for the command-line flags (checked: one-line errors)."""
    return ReadOptions(sep=sep, encoding=encoding, na_values=tuple(na_values or ()), sheet=sheet)


def check_seed(seed: int) -> None:
    if seed < 0:
        raise ClinisynthError(f"--seed must be a non-negative integer, got {seed}")


def check_threads(threads: int | None) -> int | None:
    """Check ``--threads`` before any work; the value is passed on as ``n_jobs``."""
    if threads is not None and (threads == 0 or threads < -1):
        raise ClinisynthError(f"--threads must be a positive integer or -1, got {threads}")
    resolve_threads(threads)
    return threads


def parse_calibration(text: str) -> list[str]:
    """``"moment,adaptive_soft"`` -> steps; ``"none"`` -> no calibration. Names are checked."""
    if text.strip().lower() in ("", "none"):
        return []
    steps = [part.strip() for part in text.split(",") if part.strip()]
    for step in steps:
        try:
            get_calibrator(step)
        except ClinisynthError as exc:
            raise ClinisynthError(f"--calibration: {exc}") from None
    return steps


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
