"""`clinisynth evaluate`: audit a synthetic table against the real train and holdout tables."""

from __future__ import annotations

import math
import time
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from clinisynth.audit import DIRECTIONS, AuditResult, audit
from clinisynth.audit.plots import fmt
from clinisynth.audit.report import GROUPS, write_html_report
from clinisynth.audit.result import interval_text
from clinisynth.audit.risk import N_ATTACKS
from clinisynth.audit.survival import SurvivalResult
from clinisynth.cli.app import app, console, user_errors
from clinisynth.cli.data import read_input
from clinisynth.cli.options import (
    EncodingOption,
    NaValuesOption,
    SepOption,
    SheetOption,
    read_options,
)
from clinisynth.errors import ClinisynthError
from clinisynth.schema import TableSchema
from clinisynth.steps.roles import model_view


def check_report_path(path: Path | None, suffixes: tuple[str, ...], option: str) -> None:
    """Reject an output path with the wrong suffix or that is a directory, before any work."""
    if path is None:
        return
    if path.suffix.lower() not in suffixes:
        raise ClinisynthError(f"{option} '{path}' should end in {' or '.join(suffixes)}")
    if path.is_dir():
        raise ClinisynthError(f"{option} '{path}' is a directory; give a file name")


@app.command("evaluate")
@user_errors
def evaluate_command(
    train: Annotated[Path, typer.Option("--train", help="Real rows the generator was fitted on.")],
    holdout: Annotated[Path, typer.Option(
        "--holdout", help="Real rows the generator never saw (at least 10).")],
    synthetic: Annotated[Path, typer.Option("--synthetic", help="The synthetic table to audit.")],
    target: Annotated[str, typer.Option("--target", help="The class (outcome) column.")],
    json_out: Annotated[Path | None, typer.Option(
        "--json", help="Write every score, with its range and direction, to this JSON file.")
    ] = None,
    html_out: Annotated[Path | None, typer.Option(
        "--html", help="Write a self-contained HTML report to this file.")] = None,
    schema_file: Annotated[Path | None, typer.Option(
        "--schema", help="A schema JSON to use instead of inferring one from --train.")] = None,
    seed: Annotated[int, typer.Option("--seed", help="Seed for every subsample and model.")] = 0,
    privacy_sample: Annotated[int, typer.Option(
        "--privacy-sample", help="At most this many query rows per set for the distance-based "
        "scores (searched against whole tables) and rows per side for detection.")
    ] = 2000,
    quasi_identifier: Annotated[list[str] | None, typer.Option(
        "--quasi-identifier", help="A column an attacker may know (repeat for several); "
        "default: the schema's quasi_identifier columns, else every other column.")] = None,
    secret: Annotated[list[str] | None, typer.Option(
        "--secret", help="A column whose inference is attacked besides the target (repeat for "
        "several).")] = None,
    n_attacks: Annotated[int, typer.Option(
        "--n-attacks", help="Attacks per risk score (targets capped by the holdout size).")
    ] = N_ATTACKS,
    sep: SepOption = None,
    encoding: EncodingOption = None,
    na_values: NaValuesOption = None,
    sheet: SheetOption = None,
) -> None:
    """Score a synthetic table: fidelity (vs train), utility (on holdout) and privacy."""
    start = time.perf_counter()
    check_report_path(json_out, (".json",), "--json")
    check_report_path(html_out, (".html", ".htm"), "--html")
    schema = TableSchema.from_json(schema_file) if schema_file else None
    options = read_options(sep, encoding, na_values, sheet)
    frames = [read_input(p, options) for p in (train, holdout, synthetic)]
    # identifiers and free text are not scored, dates are scored as numbers (clinisynth.roles)
    frames, schema = model_view(frames, target, schema)
    result = audit(*frames, target=target, schema=schema, seed=seed,
                   privacy_sample=privacy_sample, quasi_identifiers=quasi_identifier or None,
                   secrets=secret or None, n_attacks=n_attacks)
    if json_out is not None:
        result.to_json(json_out)
    if html_out is not None:
        write_html_report(result, html_out, train=frames[0], holdout=frames[1],
                          synthetic=frames[2])
    print_headline(result)
    for path in (json_out, html_out):
        if path is not None:
            console.print(f"written: {path}", highlight=False, soft_wrap=True)
    console.print(f"done in {time.perf_counter() - start:.1f} s", highlight=False)


def print_headline(result: AuditResult) -> None:
    """A compact table of the headline scores with their range and direction, then warnings."""
    head = result.headline()
    flagged = {f["key"] for f in result.flags}
    rows = result.meta["rows"]
    table = Table(title=f"audit of {rows['synthetic']} synthetic rows "
                        f"(train {rows['train']}, holdout {rows['holdout']})")
    table.add_column("score", no_wrap=True)
    table.add_column("value", justify="right", no_wrap=True)
    table.add_column("better", no_wrap=True)
    table.add_column("range")
    for keys in GROUPS.values():
        for i, key in enumerate(keys):
            value = fmt(head[key], key)
            if key in flagged:
                value = f"[bold red]{value} ![/]"
            rng, direction = DIRECTIONS[key]
            table.add_row(key, value, "(baseline)" if direction == "baseline" else direction,
                          rng, end_section=i == len(keys) - 1)
    console.print(table)
    for pair in result.survival_pairs or []:
        console.print(survival_line(pair), highlight=False, soft_wrap=True)
    for flag in result.flags:
        console.print(f"[bold red]warning:[/] {flag['message']}", highlight=False,
                      soft_wrap=True)
    if not result.flags:
        console.print("no warnings", highlight=False)


def survival_line(pair: SurvivalResult) -> str:
    """One pair's Kaplan-Meier distance and Cox C-indices, with the gap's interval."""
    h = pair.headline()
    line = (f"survival {pair.time}/{pair.event}: Kaplan-Meier distance to train "
            f"{fmt(h['km_iad_synthetic'])} (holdout {fmt(h['km_iad_holdout'])}); Cox C-index "
            f"on the holdout, trained on synthetic {fmt(h['cindex_tstr'])}, on real "
            f"{fmt(h['cindex_trtr'])}")
    gap = pair.gap
    if gap and all(math.isfinite(gap[k]) for k in ("gap", "low", "high")):
        line += f" (gap {gap['gap']:+.3f}; {interval_text(gap, 'holdout patients')})"
    return line
