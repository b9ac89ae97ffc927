"""`clinisynth generate`: fit the hybrid on a table and write synthetic rows."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import pandas as pd
import typer
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table
from sklearn.model_selection import train_test_split

from clinisynth.audit import audit
from clinisynth.audit.fidelity import fidelity_scores
from clinisynth.audit.inputs import MIN_ROWS
from clinisynth.audit.report import write_html_report
from clinisynth.cli.app import app, console, user_errors
from clinisynth.cli.data import (
    EncodingOption,
    NaValuesOption,
    SepOption,
    SheetOption,
    load_input,
    read_options,
)
from clinisynth.cli.evaluate import check_report_path, print_headline
from clinisynth.cli.sections import (
    calibration_section,
    guard_section,
    roles_section,
    weight_sections,
)
from clinisynth.errors import ClinisynthError
from clinisynth.io import OUTPUT_SUFFIXES, check_output_path, check_writable, write_table
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
    out: Annotated[Path, typer.Option(
        "--out", help=f"Output table ({', '.join(OUTPUT_SUFFIXES)}).")],
    data: Annotated[Path | None, typer.Option(
        "--data", help="Input table: CSV/TSV (also .gz, .zip), Parquet, Excel .xlsx, SAS "
        ".sas7bdat/.xpt, Stata .dta, SPSS .sav.")] = None,
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
    holdout_fraction: Annotated[float, typer.Option(
        "--holdout-fraction", help="Share of input rows held out (stratified) to audit the "
        "result on; the generator never sees them. 0 fits on all rows and skips the audit.")
    ] = 0.3,
    json_out: Annotated[Path | None, typer.Option(
        "--json", help="Audit JSON path (default: beside --out, ending .audit.json).")] = None,
    html_out: Annotated[Path | None, typer.Option(
        "--html", help="Audit HTML report path (default: beside --out, ending .report.html).")
    ] = None,
    sep: SepOption = None,
    encoding: EncodingOption = None,
    na_values: NaValuesOption = None,
    sheet: SheetOption = None,
) -> None:
    """Fit the hybrid generator on a table, write synthetic rows, and audit them."""
    start = time.perf_counter()
    if rows < 1:
        raise ClinisynthError(f"--rows must be a positive integer, got {rows}")
    if not 0 <= holdout_fraction < 0.9:
        raise ClinisynthError(
            f"--holdout-fraction must be in [0, 0.9), got {holdout_fraction}")
    out = check_output_path(out)
    options = read_options(sep, encoding, na_values, sheet)
    audited = holdout_fraction > 0
    if audited:
        json_out = json_out or out.with_name(out.stem + ".audit.json")
        html_out = html_out or out.with_name(out.stem + ".report.html")
        check_report_path(json_out, (".json",), "--json")
        check_report_path(html_out, (".html", ".htm"), "--html")
    spec = parse_weights(weights)
    if spec != "learned":
        resolve_weights(spec)  # fail on a bad spec before reading any data
    steps = parse_calibration(calibration)
    schema = TableSchema.from_json(schema_file) if schema_file else None
    if schema is not None and target is None:
        target = schema.target
    df, target_col, label = load_input(data, dataset, target, options)
    check_writable(df, out)
    if schema is None:
        schema = infer_schema(df, target_col)
    schema.validate(df)
    train, holdout = split_holdout(df, target_col, holdout_fraction, seed)
    console.print(f"[bold]{label}[/]: {len(df)} rows × {df.shape[1]} columns, "
                  f"target '{target_col}'; fitting on {len(train)} rows"
                  + (f", {len(holdout)} held out for the audit" if audited else ""),
                  highlight=False)
    syn = HybridSynthesizer(weights=spec, calibration=steps, privacy_guard=privacy_guard,
                            seed=seed)
    syn = fit_with_progress(syn, train, target_col, schema)
    if holdout is not None:  # held-out patients are real too: no regenerated id may equal theirs
        syn.roles_.exclude_identifiers(holdout)
    fake = syn.sample(rows, seed=seed)
    write_table(fake, out)
    if save_model is not None:
        syn.save(save_model)
    print_summary(fake, target_col, out, syn, time.perf_counter() - start, save_model)
    if audited:
        assert json_out is not None and html_out is not None
        audit_and_report(syn, train, holdout, fake, schema, seed, json_out, html_out)
        console.print(f"done in {time.perf_counter() - start:.1f} s", highlight=False)


def split_holdout(df: pd.DataFrame, target: str, fraction: float, seed: int
                  ) -> tuple[pd.DataFrame, pd.DataFrame | None]:
    """Stratified split; ``fraction`` 0 keeps every row for fitting."""
    if fraction == 0:
        return df, None
    n_holdout = int(round(fraction * len(df)))
    if n_holdout < MIN_ROWS or len(df) - n_holdout < MIN_ROWS:
        raise ClinisynthError(
            f"--holdout-fraction {fraction} leaves {n_holdout} holdout rows of {len(df)}; "
            f"the audit needs at least {MIN_ROWS} on each side (or use 0 to skip it)")
    counts = df[target].value_counts()
    if (counts < 2).any():
        raise ClinisynthError(
            f"target class {counts.idxmin()!r} has 1 row; a stratified holdout needs 2 per class")
    train, holdout = train_test_split(df, test_size=n_holdout, stratify=df[target],
                                      random_state=seed)
    return train, holdout


def audit_and_report(syn: HybridSynthesizer, train: pd.DataFrame, holdout: pd.DataFrame,
                     fake: pd.DataFrame, schema: TableSchema, seed: int, json_out: Path,
                     html_out: Path) -> None:
    """Audit ``fake`` against the held-out rows; write JSON and the HTML report."""
    # the audit scores the model's view of each table: identifiers and free text left out
    # (never modelled, never copied), dates as numbers (see clinisynth.roles)
    view, model_schema = syn.roles_.transform, syn.model_schema_
    train, holdout, fake = view(train), view(holdout), view(fake)
    with console.status("auditing against the held-out rows"):
        result = audit(train, holdout, fake, schema.target, schema=model_schema, seed=seed)
        sections = weight_sections(syn)
        before = None
        if syn.calibration_ is not None:
            keys = ("ks_mean", "wasserstein_mean", "pair_trend", "detection_auc")
            raw = fidelity_scores(train, view(syn.uncalibrated(len(fake), seed)), model_schema,
                                  seed=seed)
            before = {k: getattr(raw, k) for k in keys}
            after = {k: getattr(result.fidelity, k) for k in keys}
            sections.append(calibration_section(before, after, syn.calibration_.steps))
        roles = roles_section(syn.roles_.report())
        if roles is not None:
            sections.append(roles)
        if syn.guard_report_ is not None:
            sections.append(guard_section(syn.guard_report_, syn.guard_))
        result.meta["synthesizer"] = {
            "weights": syn.weights_,
            "calibration": syn.calibration_.steps if syn.calibration_ else [],
            "privacy_guard": syn.guard_report_.to_dict() if syn.guard_report_ else None,
            "fidelity_before_calibration": before,
        }
        result.to_json(json_out)
        write_html_report(result, html_out, train=train, holdout=holdout, synthetic=fake,
                          extra_sections=sections)
    print_headline(result)
    console.print(f"audit written: {json_out}, {html_out}", highlight=False)


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
    roles = syn.roles_.report()
    if any(roles.get(r) for r in ("identifier", "datetime", "text")):
        parts = [f"{r} {', '.join(roles[r])}" for r in ("identifier", "datetime", "text")
                 if roles.get(r)]
        console.print("column roles: " + "; ".join(parts) + " (identifiers regenerated, dates "
                      "modelled as numbers, text written as missing)", highlight=False)
    if syn.guard_report_ is not None and syn.guard_ is not None:
        g = syn.guard_report_
        rules = ", ".join(f"{rule} {count}" for rule, count in sorted(g.by_rule.items()))
        qi = (f"singling-out on {', '.join(syn.guard_.qi_)}" if syn.guard_.singling_out_active
              else "singling-out rule off (no quasi-identifiers)")
        console.print(f"privacy guard ({qi}; distance rule): {g.refused} refused draw(s) "
                      "replaced" + (f" (by rule: {rules})" if rules else "")
                      + f" in {g.rounds} round(s), {g.fallback} from the last-resort generators; "
                      "no refused row is written", highlight=False)
    if model_dir is not None:
        console.print(f"model saved to {model_dir}", highlight=False)
    console.print(f"generated in {seconds:.1f} s", highlight=False)
