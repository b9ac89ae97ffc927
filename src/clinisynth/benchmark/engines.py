"""Running benchmark cells: one cell in a worker (:func:`run_cell`, with its per-process thread
limits and peak-memory measurement) and the engines that run many (:func:`execute`: a local
process pool, Dask or Ray), yielding each cell's output as it finishes.

Used by :func:`clinisynth.benchmark.runner.run_grid`, which writes the outputs.
"""

from __future__ import annotations

import contextlib
import io
import multiprocessing
import re
import resource
import sys
import time
import traceback
import uuid
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path
from typing import Any

import pandas as pd
from threadpoolctl import threadpool_limits

from clinisynth.audit import audit
from clinisynth.benchmark.grid import ENGINES, AuditFn, Cell, make_synthesizer, split_table
from clinisynth.benchmark.peers import PEERS, sdv_version
from clinisynth.benchmark.scenarios import run_scenarios
from clinisynth.clusters import dask_client, ray_runtime
from clinisynth.errors import ClinisynthError
from clinisynth.interrupts import import_native
from clinisynth.version import __version__


# -- one cell (runs in a worker) -----------------------------------------------------------------
def _limit_threads(threads: int | None) -> None:
    if not threads:
        return

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

        scale = 1024 if sys.platform != "darwin" else 1024 * 1024
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / scale
        before = before if before is not None else float("nan")
    out["peak"] = round(peak, 1)
    out["delta"] = round(peak - before, 1)


def one_line(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {lines[0] if lines else ''}".strip()


def default_audit() -> AuditFn:
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
            audit = audit_fn or default_audit()
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


# -- the engines ---------------------------------------------------------------------------------
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
        from distributed import as_completed  # lazy: optional extra (dask)

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
