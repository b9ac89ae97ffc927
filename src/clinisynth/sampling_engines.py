"""Sampling a fitted model into a partitioned Parquet dataset, locally or on a Dask/Ray cluster.

``write_partitioned(syn, n, out_dir, seed, engine)`` splits ``n`` rows into the model's chunks
(:meth:`~clinisynth.HybridSynthesizer.chunk_plan`) and writes chunk ``i`` as
``out_dir/part-{i:05d}.parquet``, produced by ``syn.sample_chunk(plan[i], seed, i)``. A chunk's
randomness comes from ``(seed, i)`` only and calibration is a fitted transform, so the dataset is
identical whatever the engine and the number of workers, and equal to ``syn.sample(n, seed=seed)``
read back in partition order (each partition with the dtypes every chunk shares,
:func:`clinisynth.io.stable_dtypes`, so the partitions read as one dataset).

Fit stays on one machine: the weight search, the calibration maps and the guard's index each
need the whole training table at once, and fitting takes minutes where sampling many millions
of rows is what takes hours; a fitted model is small and ships to every worker.

The partitions are written into a hidden staging directory beside ``out_dir`` (workers of a
remote cluster must see that filesystem), and the staging directory becomes ``out_dir`` only
when every partition is written, so a failed run leaves no half-written dataset. An existing
``out_dir`` is used only if it is an empty directory, never replaced.
"""

from __future__ import annotations

import importlib.util
import shutil
import uuid
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from clinisynth.clusters import dask_client, ray_runtime
from clinisynth.errors import ClinisynthError
from clinisynth.guard import GuardReport
from clinisynth.io.stream import arrow_table

ENGINES: tuple[str, ...] = ("local", "dask", "ray")


def partition_name(index: int) -> str:
    return f"part-{index:05d}.parquet"


def write_partition(syn: Any, counts: np.ndarray, seed: int, index: int, staging: str
                    ) -> tuple[int, int, GuardReport | None]:
    """Chunk ``index`` of the plan, written to ``staging``; ``(index, rows, guard report)``."""
    import pyarrow.parquet as pq  # lazy: heavy: only for Parquet

    with warnings.catch_warnings():  # scikit-learn in a daemonic Dask worker: one thread,
        # which changes no result (see clinisynth.threads)
        warnings.filterwarnings("ignore", message="Inside a Dask worker with daemon=True")
        frame, reports = syn.sample_chunk(counts, seed, index)
    path = Path(staging) / partition_name(index)
    tmp = path.with_name(f".{path.name}.tmp")
    # the dtypes every chunk shares (stable_dtypes), so the partitions read as one dataset
    pq.write_table(arrow_table(frame, getattr(syn, "schema_", None)), tmp)
    tmp.replace(path)
    return index, len(frame), reports.get("guard")


def write_partitioned(syn: Any, n: int, out_dir: str | Path, seed: int, engine: str = "local",
                      address: str | None = None, workers: int = 2,
                      class_counts: Mapping[Any, int] | None = None) -> dict[str, Any]:
    """Write ``n`` sampled rows of the fitted ``syn`` to ``out_dir`` as Parquet partitions.

    ``engine`` is ``"local"`` (this process), ``"dask"`` (a ``distributed`` cluster at
    ``address``, or a local one with ``workers`` processes) or ``"ray"`` (``ray.init(address)``,
    or a local Ray with ``workers`` CPUs). Returns ``{"partitions", "rows", "out_dir", "guard"}``.
    """
    check_engine(engine)
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise ClinisynthError(f"--workers must be a positive integer, got {workers!r}")
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0:
        raise ClinisynthError(f"seed must be a non-negative integer, got {seed!r}")
    out_dir = Path(out_dir)
    check_dataset_dir(out_dir)
    if not out_dir.parent.is_dir():
        raise ClinisynthError(f"--out: parent directory '{out_dir.parent}' does not exist")
    counts = syn.class_plan(n, class_counts)
    plan = syn.chunk_plan(counts)
    staging = out_dir.with_name(f".{out_dir.name}.partial-{uuid.uuid4().hex[:8]}")
    staging.mkdir()
    try:
        tasks = [(np.asarray(c), int(seed), i, str(staging)) for i, c in enumerate(plan)]
        if engine == "local":
            results = [write_partition(syn, *t) for t in tasks]
        elif engine == "dask":
            results = _run_dask(syn, tasks, address, workers)
        else:
            results = _run_ray(syn, tasks, address, workers)
        staging.rename(out_dir)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    guard = None
    for _, _, report in sorted(results, key=lambda r: r[0]):
        if report is not None:
            guard = guard or GuardReport(threshold=report.threshold)
            guard.add(report)
    return {"partitions": len(plan), "rows": int(sum(r[1] for r in results)),
            "out_dir": str(out_dir), "guard": guard.to_dict() if guard else None,
            "class_rows": {label: int(c) for label, c in zip(syn.schema_.classes, counts,
                                                             strict=True)}}


def check_dataset_dir(out_dir: str | Path) -> Path:
    """Refuse an output dataset directory that exists and is a file or not empty (an existing
    empty directory is used); its parent must exist."""
    out_dir = Path(out_dir)
    if out_dir.is_symlink() or (out_dir.exists() and not out_dir.is_dir()):
        raise ClinisynthError(f"--out '{out_dir}' already exists and is not a directory; give "
                              "a new or empty directory")
    if out_dir.is_dir() and any(out_dir.iterdir()):
        raise ClinisynthError(f"--out '{out_dir}' already exists and is not empty; give a new "
                              "or empty directory (a dataset is never written over files)")
    if not out_dir.parent.is_dir():
        raise ClinisynthError(f"--out: parent directory '{out_dir.parent}' does not exist")
    return out_dir


def check_engine(engine: str) -> None:
    """Refuse an unknown engine, or Dask/Ray when it is not installed (naming the pip extra)."""

    if engine not in ENGINES:
        raise ClinisynthError(f"--engine must be one of {', '.join(ENGINES)}, got '{engine}'")
    module = {"dask": "distributed", "ray": "ray"}.get(engine)
    if module is not None and importlib.util.find_spec(module) is None:
        raise ClinisynthError(f"--engine {engine} needs {engine.capitalize()}, which is not "
                              f"installed: pip install 'clinisynth[{engine}]'")


def _run_dask(syn: Any, tasks: list[tuple], address: str | None, workers: int) -> list[tuple]:
    with dask_client(address, workers) as client:
        model = client.scatter(syn, broadcast=True)
        run_id = uuid.uuid4().hex[:8]
        futures = [client.submit(write_partition, model, *t, pure=False,
                                 key=f"clinisynth-part-{t[2]}-{run_id}") for t in tasks]
        return client.gather(futures)


def _run_ray(syn: Any, tasks: list[tuple], address: str | None, workers: int
             ) -> list[tuple]:  # pragma: no cover - Ray is an optional extra, not installed in CI
    with ray_runtime(address, workers) as ray:
        model = ray.put(syn)
        remote = ray.remote(num_cpus=1, max_retries=0)(write_partition)
        return ray.get([remote.remote(model, *t) for t in tasks])
