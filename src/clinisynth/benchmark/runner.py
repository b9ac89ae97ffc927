"""The benchmark grid: table × synthesizer × seed cells, run on a local pool, Dask or Ray.

A cell is a pure function of its inputs (the table, target, synthesizer name, seed and options):
stratified ``train_fraction`` / rest split by ``seed``, fit on the train part, sample as many rows
as it holds, audit against the holdout; with ``scenarios`` it also scores the training scenarios
(:mod:`clinisynth.benchmark.scenarios`). Workers compute and return; only the driver writes files,
so a remote cluster needs no shared disk. Per cell the driver writes, under ``DIR/cells/TABLE/
SYNTHESIZER/``, ``seedN.csv`` (the synthetic table), ``seedN.json`` (the result row) and
``seedN.scenarios.json``. A re-run with the same DIR skips cells whose result is ``ok`` and was
made with the same options (resume); failed cells run again.

Measured per cell, in the worker: ``fit_seconds`` and ``sample_seconds`` (wall clock),
``peak_rss_mb`` (the process's peak resident memory during fit + sample, from Linux ``VmHWM``
reset before the fit; elsewhere the process's lifetime peak ``ru_maxrss``) and ``rss_delta_mb``
(that peak minus the resident memory just before the fit: what the synthesizer itself took).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from clinisynth.benchmark.engines import default_audit, execute
from clinisynth.benchmark.grid import (
    ENGINES,
    SYNTHESIZERS,
    AuditFn,
    BenchmarkOptions,
    Cell,
    TableSpec,
    cell_paths,
)
from clinisynth.benchmark.peers import PEERS, require_sdv
from clinisynth.benchmark.summary import write_outputs
from clinisynth.errors import ClinisynthError
from clinisynth.io import read_table, write_table, write_text_atomic

RECORD_FIELDS: tuple[str, ...] = (
    "table", "synthesizer", "seed", "status", "error", "n_train", "n_holdout", "n_synthetic",
    "fit_seconds", "sample_seconds", "audit_seconds", "peak_rss_mb", "rss_delta_mb", "library",
)

ResultCallback = Callable[[dict[str, Any]], None]


# -- the driver ----------------------------------------------------------------------------------
@dataclass
class GridResult:
    """What a grid run leaves: one record per cell (grid order) and the scenario rows."""

    records: pd.DataFrame
    scenarios: pd.DataFrame | None
    ran: int
    skipped: int


def _read_json(path: Path) -> dict[str, Any] | None:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def _done(data: dict[str, Any] | None, identity: dict[str, Any]) -> bool:
    return bool(data) and data.get("status") == "ok" and data.get("options") == identity


def validate_grid(tables: Sequence[TableSpec], synthesizers: Sequence[str], seeds: int,
                  engine: str, workers: int) -> None:
    """Raise a one-line :class:`ClinisynthError` for a bad option, before any work."""
    if not tables:
        raise ClinisynthError("give at least one table (--data FILE --target COL or --dataset)")
    names = [t.name for t in tables]
    dup = sorted({n for n in names if names.count(n) > 1})
    if dup:
        raise ClinisynthError(f"table name '{dup[0]}' appears twice in the grid")
    if not synthesizers:
        raise ClinisynthError("--synthesizers is empty")
    for name in synthesizers:
        if name not in SYNTHESIZERS:
            raise ClinisynthError(f"--synthesizers: unknown synthesizer '{name}'; "
                                  f"known: {', '.join(SYNTHESIZERS)}")
        if name in PEERS:
            require_sdv(name)
    if len(set(synthesizers)) != len(synthesizers):
        raise ClinisynthError("--synthesizers lists a synthesizer twice")
    if isinstance(seeds, bool) or not isinstance(seeds, int) or seeds < 1:
        raise ClinisynthError(f"--seeds must be a positive integer, got {seeds!r}")
    if engine not in ENGINES:
        raise ClinisynthError(f"--engine must be one of {', '.join(ENGINES)}, got '{engine}'")
    if workers < 1:
        raise ClinisynthError(f"--workers must be at least 1, got {workers}")


def plan(tables: Sequence[TableSpec], synthesizers: Sequence[str], seeds: int,
         out_dir: Path, options: BenchmarkOptions) -> tuple[list[Cell], int]:
    """The cells still to run (resume skips finished parts) and how many were skipped."""
    cells, skipped = [], 0
    for spec in tables:
        data = spec.load()
        for name in synthesizers:
            ident = options.identity(name)
            for seed in range(seeds):
                paths = cell_paths(out_dir, spec.name, name, seed)
                main_done = _done(_read_json(paths["record"]), ident) and paths[
                    "synthetic"].is_file()
                scen_done = not options.scenarios or _done(
                    _read_json(paths["scenarios"]), options.scenario_identity(name))
                if main_done and scen_done:
                    skipped += 1
                    continue
                synthetic = read_table(paths["synthetic"]) if main_done else None
                cells.append(Cell(spec.name, spec.target, name, seed, data, options, synthetic))
    return cells, skipped


def _save(out: dict[str, Any], cell: Cell, out_dir: Path) -> dict[str, Any]:
    """Write a finished cell's files; return its record (read back when it ran before)."""
    paths = cell_paths(out_dir, cell.table, cell.synthesizer, cell.seed)
    opts = cell.options
    record = out.get("record")
    if record is not None:
        record = {**record, "options": opts.identity(cell.synthesizer)}
        if record["status"] == "ok" and out.get("synthetic") is not None:
            write_table(out["synthetic"], paths["synthetic"])
            record["synthetic_path"] = str(paths["synthetic"].relative_to(out_dir))
        write_text_atomic(paths["record"], json.dumps(record, indent=1, default=str))
    else:
        record = _read_json(paths["record"]) or {}
    scen = out.get("scenarios")
    if scen is not None:
        scen = {**scen, "options": opts.scenario_identity(cell.synthesizer)}
        write_text_atomic(paths["scenarios"], json.dumps(scen, indent=1, default=str))
    return record




def collect(tables: Sequence[TableSpec], synthesizers: Sequence[str], seeds: int,
            out_dir: Path, options: BenchmarkOptions) -> tuple[pd.DataFrame, pd.DataFrame | None]:
    """Results (one row a cell, grid order) and scenario rows of the grid, from DIR/cells."""
    records, scen_rows = [], []
    for spec in tables:
        for name in synthesizers:
            for seed in range(seeds):
                paths = cell_paths(out_dir, spec.name, name, seed)
                rec = _read_json(paths["record"])
                if rec is None:
                    rec = {"table": spec.name, "synthesizer": name, "seed": seed,
                           "status": "missing", "error": "not run"}
                rec = {k: v for k, v in rec.items() if k not in ("traceback", "options")}
                records.append(rec)
                scen = _read_json(paths["scenarios"]) if options.scenarios else None
                if scen:
                    scen_rows.extend(scen.get("rows", []))
    frame = pd.DataFrame(records)
    lead = [c for c in RECORD_FIELDS if c in frame.columns]
    frame = frame[lead + [c for c in frame.columns if c not in lead]]
    scen_frame = pd.DataFrame(scen_rows) if options.scenarios else None
    return frame, scen_frame


def run_grid(tables: Sequence[TableSpec], synthesizers: Sequence[str], seeds: int,
             out_dir: str | Path, options: BenchmarkOptions | None = None,
             engine: str = "local", workers: int = 2, address: str | None = None,
             audit_fn: AuditFn | None = None, on_plan: Callable[[int, int], None] | None = None,
             on_result: ResultCallback | None = None, command: str | None = None
             ) -> GridResult:
    """Run the grid into ``out_dir`` and write results.csv, summary.md and the plots.

    ``on_plan(to_run, skipped)`` is called once before the first cell, ``on_result(record)``
    after each cell. ``audit_fn`` replaces :func:`clinisynth.audit.audit` (it must be
    picklable for a pool or cluster).
    """
    options = options or BenchmarkOptions()
    validate_grid(tables, synthesizers, seeds, engine, workers)
    out_dir = Path(out_dir)
    if out_dir.exists() and not out_dir.is_dir():
        raise ClinisynthError(f"--out '{out_dir}' is a file; give a directory")
    if audit_fn is None:
        default_audit()  # fail now, not in every cell
    if options.threads is None and (engine != "local" or workers > 1):
        options = BenchmarkOptions(options.train_fraction, options.synth_params,
                                   options.scenarios, options.fractions, threads=1)
    cells, skipped = plan(tables, synthesizers, seeds, out_dir, options)
    if on_plan:
        on_plan(len(cells), skipped)
    for cell, out in execute(cells, engine, workers, address, audit_fn):
        record = _save(out, cell, out_dir)
        if on_result:
            scen = out.get("scenarios") or {}
            on_result({**record, "key": cell.key, "scenario_status": scen.get("status"),
                       "scenario_error": scen.get("error", "")})
    records, scen = collect(tables, synthesizers, seeds, out_dir, options)
    write_outputs(out_dir, records, scen, tables, command=command)
    return GridResult(records, scen, ran=len(cells), skipped=skipped)
