"""Several ``--data`` tables: a parent table and its child tables, fitted, sampled and
audited together (:class:`~clinisynth.linked.LinkedSynthesizer`)."""

from __future__ import annotations

import json
import math
import os
import time
from pathlib import Path

import pandas as pd

from clinisynth.audit.linked import linked_audit
from clinisynth.audit.linked_report import render_linked_html
from clinisynth.audit.result import interval_text
from clinisynth.cli.app import console
from clinisynth.cli.data import read_input
from clinisynth.cli.options import FitOptions, TableInput
from clinisynth.cli.progress import progress_bar
from clinisynth.errors import ClinisynthError
from clinisynth.io import OUTPUT_SUFFIXES, write_tables, write_text_atomic
from clinisynth.linked import LinkedSynthesizer
from clinisynth.linked.holdout import split_patients
from clinisynth.persistence import check_model_target
from clinisynth.schema.links import LinkSchema, infer_links, links_from_sdv


def read_tables(table: TableInput) -> tuple[dict[str, pd.DataFrame], dict[str, str]]:
    """Each ``--data`` file read, named by its file name without suffixes; and each table's
    output file name (the input's, or ``.csv`` where its format cannot be written)."""
    if table.dataset is not None or table.schema_file is not None:
        option = "--dataset" if table.dataset is not None else "--schema"
        raise ClinisynthError(f"{option} cannot be combined with several --data tables")
    tables, names = {}, {}
    for path in table.data or []:
        name = path.name.split(".")[0]
        if name in tables:
            raise ClinisynthError(f"--data: two tables are named {name!r}; rename one file")
        tables[name] = read_input(path, table.read_options())
        suffix = "".join(path.suffixes).lower()
        names[name] = path.name if suffix in OUTPUT_SUFFIXES else f"{name}.csv"
    return tables, names


def out_dir(out: str | Path) -> Path:
    """``--out`` for linked tables: a directory, one file per table (created if needed)."""
    path = Path(str(out).rstrip("/" + os.sep) or str(out))
    if (path.exists() and not path.is_dir()) or path.suffix.lower() in OUTPUT_SUFFIXES:
        raise ClinisynthError(f"--out '{out}': several --data tables are written into a "
                              "directory, one file per table; give a directory name such as "
                              f"{path.stem}/")
    return path


def print_links(links: LinkSchema) -> None:
    """The parent, key and each child's link, as inferred or given."""
    console.print(f"links: parent [bold]{links.parent}[/] keyed by "
                  f"'{links.key}'", highlight=False)
    for c in links.children:
        parts = [f"{c.kind}"]
        if c.stop:
            parts[0] += f" from '{c.order}' to '{c.stop}'"
        elif c.order:
            parts.append(f"ordered by '{c.order}'")
        if c.counter:
            parts.append(f"counter '{c.counter}'")
        if c.bound:
            parts.append(f"never after {links.parent}.{c.bound}")
        if c.monotone:
            parts.append("never falling: " + ", ".join(c.monotone))
        console.print(f"  child [bold]{c.table}[/] by '{c.key}': " + ", ".join(parts),
                      highlight=False)


def load_links(table: TableInput, frames: dict[str, pd.DataFrame]) -> LinkSchema:
    """The links of ``--links FILE``, else inferred (``--key`` when given)."""
    if table.links_file is None:
        return infer_links(frames, key=table.key)
    try:
        data = json.loads(table.links_file.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ClinisynthError(f"--links '{table.links_file}': cannot read it ({exc})") from None
    if isinstance(data, dict) and "relationships" in data:  # SDV's multi-table metadata
        return links_from_sdv(data, frames)
    links = LinkSchema.from_dict(data)
    links.validate(frames)
    return links


def fit_linked(table: TableInput, options: FitOptions, links: LinkSchema,
               frames: dict[str, pd.DataFrame]) -> LinkedSynthesizer:
    """The linked model fitted on ``frames`` with the ``--fit`` options for the parent."""
    if table.target is None:
        raise ClinisynthError("--target is required with --data (a column of the parent "
                              "table)")
    params = options.synthesizer().get_params()
    seed = params.pop("seed")
    syn = LinkedSynthesizer(seed=seed, links=links, parent_options=params)
    with progress_bar() as bar:
        task = bar.add_task(f"{links.parent}: fitting", total=None)

        def on_step(label: str, i: int, total: int) -> None:
            bar.update(task, description=label, completed=i, total=total)

        syn.fit(frames, table.target, on_step=on_step)
    return syn


def linked_schema_command(table: TableInput, out: Path) -> None:
    """Infer the links of several tables and write them as JSON, for ``--links``."""
    frames = read_tables(table)[0]
    links = load_links(table, frames)
    write_text_atomic(out, json.dumps(links.to_dict(), indent=1) + "\n")
    print_links(links)
    console.print(f"links written to {out}", highlight=False)


def linked_fit_command(table: TableInput, options: FitOptions, model: Path) -> None:
    start = time.perf_counter()
    check_model_target(model)
    frames = read_tables(table)[0]
    links = load_links(table, frames)
    print_links(links)
    syn = fit_linked(table, options, links, frames)
    syn.save(model)
    console.print(f"model saved to {model}; fitted in {time.perf_counter() - start:.1f} s",
                  highlight=False)


def linked_generate_command(table: TableInput, options: FitOptions, rows: int, out: str,
                            holdout_fraction: float, json_out: Path | None,
                            html_out: Path | None, save_model: Path | None) -> None:
    start = time.perf_counter()
    directory = out_dir(out)
    if save_model is not None:
        check_model_target(save_model)
    frames, names = read_tables(table)
    links = load_links(table, frames)
    print_links(links)
    train, holdout = (frames, None) if holdout_fraction == 0 else split_patients(
        frames, links, table.target, holdout_fraction, options.seed)
    if holdout is not None:
        console.print(f"fitting on {len(train[links.parent])} patients, "
                      f"{len(holdout[links.parent])} held out (with all their rows) for the "
                      "audit", highlight=False)
    syn = fit_linked(table, options, links, train)
    with console.status(f"sampling {rows} patients"):
        fake = syn.sample(rows, seed=options.seed)
    report, page_text = None, ""
    if holdout is not None:  # audited before anything is written
        with console.status("auditing against the held-out patients"):
            report = linked_audit(train, holdout, fake, links, target=table.target,
                                  seed=options.seed)
            page_text = render_linked_html(report, holdout, fake, links, seed=options.seed)
    write_tables({directory / names[name]: frame for name, frame in fake.items()})
    for name, frame in fake.items():
        console.print(f"{directory / names[name]}: {len(frame):,} rows", highlight=False)
    print_patient_guard(syn)
    if save_model is not None:
        syn.save(save_model)
    if report is not None:
        path = json_out or directory / "linked.audit.json"
        page = html_out or directory / "linked.report.html"
        write_text_atomic(path, json.dumps(report, indent=1, default=float) + "\n")
        write_text_atomic(page, page_text)
        print_audit(report, links, path)
        console.print(f"report: {page}", highlight=False)
    console.print(f"done in {time.perf_counter() - start:.1f} s", highlight=False)


def print_audit(report: dict, links: LinkSchema, path: Path) -> None:
    for child in links.children:
        broken = {k: v for k, v in report["structure"][child.table].items()
                  if k != "rows" and v}
        console.print(f"{child.table}: structure "
                      + (", ".join(f"{k} {v}" for k, v in broken.items()) if broken
                         else "holds in every row"), highlight=False)
        ks = report["dynamics"][child.table]["children_ks"]
        console.print(f"  children per patient KS {ks['synthetic']:.3f} (training patients "
                      f"{ks['training']:.3f}, with their counts protected "
                      f"{ks['training_protected']:.3f})", highlight=False)
        lag = report["dynamics"][child.table].get("lag1") or {}
        gaps = {c: v["gap"] for c, v in lag.items()
                if all(math.isfinite(v.get("gap", {}).get(k, math.nan))
                       for k in ("gap", "low", "high"))}
        if gaps:
            col = max(gaps, key=lambda c: abs(gaps[c]["gap"]))
            held = sum(g["low"] <= 0 <= g["high"] for g in gaps.values())
            g = gaps[col]
            console.print(f"  lag-1 autocorrelation: largest gap to the holdout {col} "
                          f"{g['gap']:+.3f} ({interval_text(g, 'patients')}); {held} of "
                          f"{len(gaps)} columns' intervals hold 0",
                          highlight=False)
    det = report["patient_detection"]
    console.print(f"patient-level detection AUC {det['synthetic']:.3f} (training patients "
                  f"{det['training']:.3f}); audit JSON: {path}", highlight=False)
    if "longitudinal" in report:
        lon = report["longitudinal"]
        console.print(f"landmark task AUC on holdout patients: train on synthetic "
                      f"{lon['synthetic']:.3f}, on real {lon['train']:.3f}", highlight=False)


def print_patient_guard(syn: LinkedSynthesizer) -> None:
    report = getattr(syn, "guard_report_", None)
    if report is not None:
        console.print(f"patient guard: {report['refused']} patients nearer to a training "
                      "patient than training patients are to each other, drawn again"
                      + (f"; {report['remaining']} left after the last round"
                         if report["remaining"] else ""), highlight=False)


def linked_sample_command(model: Path, rows: int, out: str, seed: int) -> None:
    start = time.perf_counter()
    directory = out_dir(out)
    syn = LinkedSynthesizer.load(model)
    fake = syn.sample(rows, seed=seed)
    write_tables({directory / f"{name}.csv": frame for name, frame in fake.items()})
    for name, frame in fake.items():
        console.print(f"{directory / (name + '.csv')}: {len(frame):,} rows", highlight=False)
    print_patient_guard(syn)
    console.print(f"sampled in {time.perf_counter() - start:.1f} s", highlight=False)
