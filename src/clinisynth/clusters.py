"""Connecting to a Dask or Ray cluster, shared by the benchmark runner and the sampling engines.

Each context manager connects to ``address`` when given, else starts a local cluster of
``workers`` single-threaded processes, and tears down only what it started.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from clinisynth.errors import ClinisynthError


@contextmanager
def dask_client(address: str | None, workers: int) -> Iterator[Any]:
    """A ``distributed.Client`` on the cluster at ``address`` or on a new local one."""
    try:
        from distributed import Client, LocalCluster  # lazy: optional extra (dask)
    except ImportError:
        raise ClinisynthError("--engine dask needs Dask, which is not installed: "
                              "pip install 'clinisynth[dask]'") from None
    cluster = None
    if address is None:
        cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                               dashboard_address=None, silence_logs=logging.ERROR)
    try:
        with Client(address or cluster) as client:
            yield client
    finally:
        if cluster is not None:
            cluster.close()


@contextmanager
def ray_runtime(address: str | None, workers: int
                ) -> Iterator[Any]:  # pragma: no cover - Ray is an optional extra
    """The ``ray`` module, initialised on ``address`` or locally unless already running."""
    try:
        import ray  # lazy: optional extra (ray)
    except ImportError:
        raise ClinisynthError("--engine ray needs Ray, which is not installed: "
                              "pip install 'clinisynth[ray]'") from None
    started = not ray.is_initialized()
    if started:
        kwargs: dict[str, Any] = {"address": address, "include_dashboard": False,
                                  "log_to_driver": False, "logging_level": "ERROR"}
        if address is None:
            kwargs["num_cpus"] = workers
        ray.init(**kwargs)
    try:
        yield ray
    finally:
        if started:
            ray.shutdown()
