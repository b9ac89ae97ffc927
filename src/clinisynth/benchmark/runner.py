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

import contextlib
import inspect
import io
import json
import re
import sys
import time
import traceback
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import pandas as pd
from sklearn.model_selection import train_test_split

from clinisynth.audit import audit
from clinisynth.benchmark.peers import PEERS, SDVSynthesizer, require_sdv, sdv_version
from clinisynth.benchmark.scenarios import FRACTIONS, run_scenarios
from clinisynth.benchmark.summary import write_outputs
from clinisynth.clusters import dask_client, ray_runtime
from clinisynth.datasets import get_dataset, load_dataset
from clinisynth.errors import ClinisynthError
from clinisynth.interrupts import import_native
from clinisynth.io import read_table, write_table, write_text_atomic
from clinisynth.synthesizer import HybridSynthesizer
from clinisynth.version import __version__

OURS: tuple[str, ...] = ("hybrid", "smote")
SYNTHESIZERS: tuple[str, ...] = ("hybrid", "gaussian_copula", "ctgan", "tvae", "copulagan",
                                 "smote")
ENGINES: tuple[str, ...] = ("local", "dask", "ray")
RECORD_FIELDS: tuple[str, ...] = (
    "table", "synthesizer", "seed", "status", "error", "n_train", "n_holdout", "n_synthetic",
    "fit_seconds", "sample_seconds", "audit_seconds", "peak_rss_mb", "rss_delta_mb", "library",
)

AuditFn = Callable[..., Any]
ResultCallback = Callable[[dict[str, Any]], None]


class Synthesizer(Protocol):
    def fit(self, data: pd.DataFrame, target: str) -> Any: ...
    def sample(self, n: int) -> pd.DataFrame: ...


# -- the grid ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class TableSpec:
    """A table in the grid: a file (``path``) or a bundled dataset (``dataset``)."""

    name: str
    target: str
    path: str | None = None
    dataset: str | None = None

    @classmethod
    def from_file(cls, path: str | Path, target: str) -> TableSpec:
        return cls(name=Path(path).stem, target=target, path=str(path))

    @classmethod
    def from_dataset(cls, name: str) -> TableSpec:
        return cls(name=name, target=get_dataset(name).target, dataset=name)

    def load(self) -> pd.DataFrame:
        df = (read_table(self.path) if self.path is not None
              else load_dataset(str(self.dataset))[0])
        if self.target not in df.columns:
            raise ClinisynthError(f"--target '{self.target}' is not a column of {self.name}")
        return df


@dataclass(frozen=True)
class BenchmarkOptions:
    """Everything besides table, synthesizer and seed that a cell's result depends on.

    ``synth_params`` maps a synthesizer name to constructor overrides (e.g. ``{"ctgan":
    {"epochs": 2}}`` for a quick run; the benchmark proper uses defaults). ``threads`` caps torch
    and BLAS threads inside a worker (set when cells run side by side); it is not part of a
    cell's identity.
    """

    train_fraction: float = 0.7
    synth_params: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    scenarios: bool = False
    fractions: tuple[float, ...] = FRACTIONS
    threads: int | None = None

    def identity(self, synthesizer: str) -> dict[str, Any]:
        """What a finished cell must have been run with to be reused on resume."""
        ident = {"train_fraction": self.train_fraction,
                 "params": dict(self.synth_params.get(synthesizer, {}))}
        return json.loads(json.dumps(ident, sort_keys=True, default=str))

    def scenario_identity(self, synthesizer: str) -> dict[str, Any]:
        return {**self.identity(synthesizer), "fractions": list(self.fractions)}


@dataclass(eq=False)
class Cell:
    """One unit of work. ``synthetic`` is given when the main part is already done on disk."""

    table: str
    target: str
    synthesizer: str
    seed: int
    data: pd.DataFrame = field(repr=False)
    options: BenchmarkOptions = field(default_factory=BenchmarkOptions)
    synthetic: pd.DataFrame | None = field(default=None, repr=False)

    @property
    def key(self) -> str:
        return f"{self.table}/{self.synthesizer}/seed{self.seed}"


def cell_paths(out_dir: Path, table: str, synthesizer: str, seed: int) -> dict[str, Path]:
    base = Path(out_dir) / "cells" / table / synthesizer
    return {"record": base / f"seed{seed}.json", "synthetic": base / f"seed{seed}.csv",
            "scenarios": base / f"seed{seed}.scenarios.json"}


# -- one cell (runs in a worker) -----------------------------------------------------------------
def split_table(df: pd.DataFrame, target: str, seed: int, train_fraction: float = 0.7
                ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Stratified split by ``seed`` into (train, holdout), both re-indexed from 0."""
    train, holdout = train_test_split(df, train_size=train_fraction, stratify=df[target],
                                      random_state=seed, shuffle=True)
    return train.reset_index(drop=True), holdout.reset_index(drop=True)


def make_synthesizer(name: str, seed: int, params: Mapping[str, Any] | None = None
                     ) -> Synthesizer:
    """A fresh, unfitted synthesizer for a benchmark name; ``params`` override its defaults."""
    params = dict(params or {})
    if name in PEERS:
        return SDVSynthesizer(name, seed=seed, **params)
    if name == "hybrid":
        return HybridSynthesizer(**{"seed": seed, **params})
    if name == "smote":  # plain SMOTE: no calibration, no guard (when the hybrid has them)
        accepted = inspect.signature(HybridSynthesizer).parameters
        plain = {"weights": "smote", "calibration": None, "privacy_guard": False}
        kwargs = {k: v for k, v in plain.items() if k in accepted}
        return HybridSynthesizer(**{**kwargs, "seed": seed, **params})
    raise ClinisynthError(f"unknown synthesizer '{name}'; known: {', '.join(SYNTHESIZERS)}")


def _limit_threads(threads: int | None) -> None:
    if not threads:
        return
    from threadpoolctl import threadpool_limits

    torch = import_native("torch")

    torch.set_num_threads(threads)
    threadpool_limits(limits=threads)


def _proc_status_mb(field_name: str) -> float | None:
    try:
        text = Path("/proc/self/status").read_text()
    except OSError:
        return None
    match = re.search(rf"^{field_name}:\s+(\d+)\s+kB", text, flags=re.MULTILINE)
    return int(match.group(1)) / 1024 if match else None


@contextlib.contextmanager
def peak_memory() -> Iterator[dict[str, float]]:
    """Measure peak resident memory (MB) over the block: ``{"peak": .., "delta": ..}``."""
    out: dict[str, float] = {}
    with contextlib.suppress(OSError):
        Path("/proc/self/clear_refs").write_text("5")  # reset VmHWM to the current RSS
    before = _proc_status_mb("VmRSS")
    yield out
    peak = _proc_status_mb("VmHWM")
    if peak is None or before is None:
        import resource

        scale = 1024 if sys.platform != "darwin" else 1024 * 1024
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / scale
        before = before if before is not None else float("nan")
    out["peak"] = round(peak, 1)
    out["delta"] = round(peak - before, 1)


def one_line(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {lines[0] if lines else ''}".strip()


def _default_audit() -> AuditFn:
    return audit


def _library(name: str) -> str:
    return f"sdv {sdv_version()}" if name in PEERS else f"clinisynth {__version__}"


def _floats(metrics: Mapping[str, Any]) -> dict[str, Any]:
    out = {}
    for key, value in metrics.items():
        try:
            out[key] = float(value)
        except (TypeError, ValueError):
            out[key] = value
    return out


def _csv_roundtrip(df: pd.DataFrame) -> pd.DataFrame:
    """The table as it will read back from its CSV, so resumed and fresh runs see the same."""
    return pd.read_csv(io.StringIO(df.to_csv(index=False)))


def run_cell(cell: Cell, audit_fn: AuditFn | None = None) -> dict[str, Any]:
    """Run one cell; never raises. Returns ``{"key", "record", "synthetic", "scenarios"}``."""
    _limit_threads(cell.options.threads)
    opts = cell.options
    out: dict[str, Any] = {"key": cell.key, "record": None, "synthetic": cell.synthetic,
                           "scenarios": None}
    params = opts.synth_params.get(cell.synthesizer, {})
    train, holdout = split_table(cell.data, cell.target, cell.seed, opts.train_fraction)
    if cell.synthetic is None:
        record: dict[str, Any] = {
            "table": cell.table, "synthesizer": cell.synthesizer, "seed": cell.seed,
            "status": "ok", "error": "", "n_train": len(train), "n_holdout": len(holdout),
            "library": _library(cell.synthesizer),
        }
        try:
            audit = audit_fn or _default_audit()
            syn = make_synthesizer(cell.synthesizer, cell.seed, params)
            with peak_memory() as mem:
                start = time.perf_counter()
                syn.fit(train, cell.target)
                record["fit_seconds"] = round(time.perf_counter() - start, 3)
                start = time.perf_counter()
                fake = syn.sample(len(train))
                record["sample_seconds"] = round(time.perf_counter() - start, 3)
            record["peak_rss_mb"], record["rss_delta_mb"] = mem["peak"], mem["delta"]
            record["n_synthetic"] = len(fake)
            start = time.perf_counter()
            result = audit(train, holdout, fake, cell.target, seed=cell.seed)
            record["audit_seconds"] = round(time.perf_counter() - start, 3)
            record.update(_floats(result.headline()))
            out["synthetic"] = _csv_roundtrip(fake)
        except Exception as exc:  # the grid goes on; the cell keeps its error
            record.update(status="error", error=one_line(exc), traceback=traceback.format_exc())
        out["record"] = record
    if opts.scenarios and out["synthetic"] is not None:
        out["scenarios"] = _scenario_part(cell, train, holdout, out["synthetic"], params)
    return out


def _scenario_part(cell: Cell, train: pd.DataFrame, holdout: pd.DataFrame,
                   synthetic: pd.DataFrame, params: Mapping[str, Any]) -> dict[str, Any]:
    def sample_fn(sample: pd.DataFrame, n: int) -> pd.DataFrame:
        syn = make_synthesizer(cell.synthesizer, cell.seed, params)
        syn.fit(sample, cell.target)
        return _csv_roundtrip(syn.sample(n))

    start = time.perf_counter()
    try:
        rows = run_scenarios(train, holdout, synthetic, cell.target, cell.seed, sample_fn,
                             cell.options.fractions)
        status, error = "ok", ""
    except Exception as exc:
        rows, status, error = [], "error", one_line(exc)
    head = {"table": cell.table, "synthesizer": cell.synthesizer, "seed": cell.seed}
    return {**head, "status": status, "error": error,
            "seconds": round(time.perf_counter() - start, 3),
            "rows": [{**head, **row} for row in rows]}


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


def _failed(cell: Cell, exc: BaseException) -> dict[str, Any]:
    """The output of a cell whose worker died or whose task could not run."""
    lines = [ln.strip() for ln in re.sub(r"\x1b\[[0-9;]*m", "", str(exc)).splitlines()
             if ln.strip()]
    error = f"{type(exc).__name__}: {lines[-1] if lines else ''}"  # engines put the cause last
    record = {"table": cell.table, "synthesizer": cell.synthesizer, "seed": cell.seed,
              "status": "error", "error": error, "library": _library(cell.synthesizer)}
    return {"key": cell.key, "record": record if cell.synthetic is None else None,
            "synthetic": None, "scenarios": None}


def _settle(cell: Cell, result: Callable[[], dict[str, Any]]) -> tuple[Cell, dict[str, Any]]:
    """A finished cell's output, or its error recorded as a failed cell (the grid goes on)."""
    try:
        return cell, result()
    except Exception as exc:
        return cell, _failed(cell, exc)


def _iter_local(cells: list[Cell], workers: int, audit_fn: AuditFn | None
                ) -> Iterator[tuple[Cell, dict[str, Any]]]:
    if workers == 1:
        for cell in cells:
            yield cell, run_cell(cell, audit_fn)
        return
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor, as_completed

    ctx = multiprocessing.get_context("spawn")  # fork after torch/OpenMP start-up can hang
    pool = ProcessPoolExecutor(max_workers=workers, mp_context=ctx)
    try:
        futures = {pool.submit(run_cell, cell, audit_fn): cell for cell in cells}
        for fut in as_completed(futures):
            yield _settle(futures[fut], fut.result)
    finally:  # on an interrupt, drop the cells not yet started
        pool.shutdown(wait=True, cancel_futures=True)


def _iter_dask(cells: list[Cell], workers: int, address: str | None,
               audit_fn: AuditFn | None) -> Iterator[tuple[Cell, dict[str, Any]]]:
    with dask_client(address, workers) as client:
        from distributed import as_completed

        run_id = uuid.uuid4().hex[:8]
        futures = {client.submit(run_cell, cell, audit_fn, pure=False,
                                 key=f"clinisynth-{cell.key}-{run_id}"): cell
                   for cell in cells}
        for fut in as_completed(futures):
            yield _settle(futures[fut], fut.result)


def _iter_ray(cells: list[Cell], workers: int, address: str | None,
              audit_fn: AuditFn | None) -> Iterator[tuple[Cell, dict[str, Any]]]:
    with ray_runtime(address, workers) as ray:
        remote = ray.remote(num_cpus=1, max_retries=0)(run_cell)
        refs = {remote.remote(cell, audit_fn): cell for cell in cells}
        pending = list(refs)
        while pending:
            done, pending = ray.wait(pending, num_returns=1)
            yield _settle(refs[done[0]], lambda ref=done[0]: ray.get(ref))


def execute(cells: list[Cell], engine: str = "local", workers: int = 2,
            address: str | None = None, audit_fn: AuditFn | None = None
            ) -> Iterator[tuple[Cell, dict[str, Any]]]:
    """Yield ``(cell, output)`` as cells finish, on the chosen engine's own scheduler."""
    if not cells:
        return iter(())
    if engine == "local":
        return _iter_local(cells, workers, audit_fn)
    if engine == "dask":
        return _iter_dask(cells, workers, address, audit_fn)
    if engine == "ray":
        return _iter_ray(cells, workers, address, audit_fn)
    raise ClinisynthError(f"--engine must be one of {', '.join(ENGINES)}, got '{engine}'")


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
        _default_audit()  # fail now, not in every cell
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
