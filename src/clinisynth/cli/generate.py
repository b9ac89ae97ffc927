"""`clinisynth generate`: fit the hybrid on a table and write synthetic rows."""

from __future__ import annotations

import time
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any

import pandas as pd
import typer
from sklearn.model_selection import train_test_split

from clinisynth.audit import audit
from clinisynth.audit.fidelity import fidelity_scores
from clinisynth.audit.inputs import MIN_ROWS
from clinisynth.audit.report import write_html_report
from clinisynth.cli.app import app, console, user_errors
from clinisynth.cli.data import load_fit_input
from clinisynth.cli.evaluate import check_report_path, print_headline
from clinisynth.cli.linked import linked_generate_command
from clinisynth.cli.options import FitChoices, TableInput, check_outside, with_options
from clinisynth.cli.progress import fit_with_progress, write_draw, write_frame
from clinisynth.cli.sections import (
    calibration_section,
    dp_section,
    guard_section,
    protection_section,
    roles_section,
    synthesizer_flags,
    weight_sections,
)
from clinisynth.cli.summary import (
    print_guard,
    print_model,
    print_model_contents,
    print_rows,
    print_rules,
)
from clinisynth.conditions import ConditionSet, parse_conditions
from clinisynth.errors import ClinisynthError
from clinisynth.io import OUTPUT_SUFFIXES, check_output_path
from clinisynth.persistence import check_model_target
from clinisynth.schema import TableSchema
from clinisynth.synthesizer import HybridSynthesizer


@app.command("generate")
@user_errors
@with_options(table=TableInput, choices=FitChoices)
def generate_command(
    rows: Annotated[int, typer.Option("--rows", help="Number of synthetic rows to write "
                                      "(of patients, with several --data tables).")],
    out: Annotated[Path, typer.Option(
        "--out", help=f"Output table ({', '.join(OUTPUT_SUFFIXES)}), written atomically; "
        ".csv and .parquet chunk by chunk (.dta and .sav collected and written at the end). "
        "With several --data tables: a directory, one file per table.")],
    table: TableInput,
    choices: FitChoices,
    save_model: Annotated[Path | None, typer.Option(
        "--save-model", help="Directory to save the fitted model in, for `clinisynth sample` "
        "(new, empty, or a model to replace).")] = None,
    holdout_fraction: Annotated[float, typer.Option(
        "--holdout-fraction", help="Share of input rows held out (stratified) to audit the "
        "result on; the generator never sees them. The audit needs the whole synthetic table, "
        "so with it the rows are also kept in memory while they are written; 0 fits on all "
        "rows, skips the audit and streams the rows to --out in bounded memory.")
    ] = 0.3,
    json_out: Annotated[Path | None, typer.Option(
        "--json", help="Audit JSON path (default: beside --out, ending .audit.json).")] = None,
    html_out: Annotated[Path | None, typer.Option(
        "--html", help="Audit HTML report path (default: beside --out, ending .report.html).")
    ] = None,
    condition: Annotated[list[str] | None, typer.Option(
        "--condition", help="Keep only rows meeting a condition, e.g. 'age>=65', 'sex=F', "
        "'stage in 3,4', '40<=age<=65'; repeat to combine. Exactly --rows rows are written "
        "(drawn in one piece, not streamed).")] = None,
) -> None:
    """Fit the hybrid generator on a table, write synthetic rows, and audit them.

    With several --data tables (a parent and its child tables), --rows counts patients and
    --out is a directory that receives one file per table, named after the inputs."""
    start = time.perf_counter()
    if rows < 1:
        raise ClinisynthError(f"--rows must be a positive integer, got {rows}")
    if not 0 <= holdout_fraction < 0.9:
        raise ClinisynthError(
            f"--holdout-fraction must be in [0, 0.9), got {holdout_fraction}")
    if table.linked:
        if condition:
            raise ClinisynthError("--condition applies to one --data table")
        linked_generate_command(table, choices.checked(), rows, out, holdout_fraction,
                                json_out, html_out, save_model)
        return
    out = check_output_path(out)
    audited = holdout_fraction > 0
    if audited:
        json_out = json_out or out.with_name(out.stem + ".audit.json")
        html_out = html_out or out.with_name(out.stem + ".report.html")
        check_report_path(json_out, (".json",), "--json")
        check_report_path(html_out, (".html", ".htm"), "--html")
    if save_model is not None:
        for path, option in ((out, "--out"), (json_out, "--json"), (html_out, "--html")):
            check_outside(path, save_model, option, "--save-model")
        check_model_target(save_model)
    options = choices.checked()
    seed = options.seed
    df, target_col, label, schema = load_fit_input(table, out=out)
    conditions = parse_conditions(condition or [], schema)
    train, holdout = split_holdout(df, target_col, holdout_fraction, seed)
    console.print(f"[bold]{label}[/]: {len(df)} rows × {df.shape[1]} columns, "
                  f"target '{target_col}'; fitting on {len(train)} rows"
                  + (f", {len(holdout)} held out for the audit" if audited else ""),
                  highlight=False)
    syn = fit_with_progress(options.synthesizer(), train, target_col, schema)
    if holdout is not None and syn.roles_ is not None:  # no regenerated id may equal theirs
        syn.roles_.exclude_identifiers(holdout)
    if conditions:
        with console.status(f"sampling {rows} rows meeting {conditions.text}"):
            fake = syn.sample(rows, seed=seed, conditions=conditions)
        draw = write_frame(fake, target_col, out)
    else:  # streamed; the chunks are kept only for the audit
        draw = write_draw(syn, rows, out, seed=seed, keep=audited)
    if save_model is not None:
        syn.save(save_model)
    print_summary(draw.counts, target_col, out, syn, time.perf_counter() - start, save_model)
    if audited:
        assert json_out is not None and html_out is not None and draw.table is not None
        audit_and_report(syn, train, holdout, draw.table, schema, seed, json_out, html_out,
                         conditions)
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
                     html_out: Path, conditions: ConditionSet | None = None) -> None:
    """Audit ``fake`` against the held-out rows; write JSON and the HTML report.

    With ``conditions``, synthetic rows are compared with the real rows that meet them (and
    the calibration and guard sections, which describe one unconditioned draw, are left out).
    """
    if conditions:
        train, holdout = train[conditions.mask(train)], holdout[conditions.mask(holdout)]
        small = [name for name, part in (("train", train), ("holdout", holdout))
                 if len(part) < MIN_ROWS or part[schema.target].nunique() < 2]
        if small:
            console.print(f"audit skipped: the {small[0]} rows meeting {conditions.text} are "
                          f"fewer than {MIN_ROWS} or hold one class", highlight=False)
            return
    # the audit scores the record view of each table: identifiers and free text left out
    # (never modelled, never copied), dates as numbers; against the real values (not their
    # protected copies), so what the protection costs and what it leaves are both measured
    model_schema = syn.model_schema_

    def view(frame: pd.DataFrame) -> pd.DataFrame:
        return syn.record_view(frame, protected=False)

    train, holdout, fake = view(train), view(holdout), view(fake)
    if syn.ledger_ is not None:
        with console.status("auditing against the held-out rows"):
            result = audit(train, holdout, fake, schema.target, seed=seed)
            result.meta["synthesizer"] = {"differential_privacy": syn.ledger_}
            result.to_json(json_out)
            write_html_report(result, html_out, train=train, holdout=holdout, synthetic=fake,
                              extra_sections=[dp_section(syn.ledger_)])
        print_headline(result)
        console.print(f"audit written: {json_out}, {html_out}", highlight=False)
        return
    with console.status("auditing against the held-out rows"):
        result = audit(train, holdout, fake, schema.target, schema=model_schema, seed=seed)
        sections = weight_sections(syn)
        before = None
        if syn.calibration_ is not None and not conditions:
            keys = ("ks_mean", "wasserstein_mean", "pair_trend", "detection_auc")
            raw = fidelity_scores(train, view(syn.uncalibrated(len(fake), seed)), model_schema,
                                  seed=seed)
            before = {k: getattr(raw, k) for k in keys}
            after = {k: getattr(result.fidelity, k) for k in keys}
            sections.append(calibration_section(before, after, syn.calibration_.steps))
        roles = roles_section(syn.roles_.report())
        if roles is not None:
            sections.append(roles)
        if syn.protect_ is not None:
            sections.append(protection_section(syn.protect_.report(), syn.protect_.k_,
                                               syn.smoothed_))
        if syn.guard_report_ is not None and not conditions:
            sections.append(guard_section(syn.guard_report_, syn.guard_))
        result.meta["synthesizer"] = {
            "weights": syn.weights_,
            "calibration": syn.calibration_.steps if syn.calibration_ else [],
            "privacy_guard": syn.guard_report_.to_dict() if syn.guard_report_ else None,
            "fidelity_before_calibration": before,
            "protection": syn.protect_.report() if syn.protect_ is not None else None,
        }
        result.flags += synthesizer_flags(syn)
        result.to_json(json_out)
        write_html_report(result, html_out, train=train, holdout=holdout, synthetic=fake,
                          extra_sections=sections)
    print_headline(result)
    console.print(f"audit written: {json_out}, {html_out}", highlight=False)


def print_summary(counts: Mapping[Any, int], target: str, out: Path, syn: HybridSynthesizer,
                  seconds: float, model_dir: Path | None) -> None:
    """Rows per class, the model, the guard and rules reports, where the model was saved."""
    print_rows(counts, target, out)
    print_model(syn)
    print_guard(syn)
    print_rules(syn)
    if model_dir is not None:
        print_model_contents(syn, model_dir)
    console.print(f"generated in {seconds:.1f} s", highlight=False)
