"""One thread setting for BLAS/OpenMP, scikit-learn and PyTorch.

``with thread_limits(n_jobs):`` runs a block with at most ``n_jobs`` BLAS/OpenMP threads
(threadpoolctl) and torch threads and restores every setting afterwards; scikit-learn estimators
built inside it take ``n_jobs=current_threads()`` (the nearest-neighbour searches of SMOTE and
:mod:`clinisynth.distances`); ``n_jobs=None`` leaves the libraries' own defaults, ``-1``
means all cores. Inside the block :func:`current_threads` answers the setting, so code that used
to force one thread (nearest-neighbour searches on a shared machine) can follow it instead.

Results do not depend on the setting: the numerical kernels used here (BLAS products, tree and
brute-force neighbour searches) partition work by output element, and the CVAE trains on one
torch thread whatever the setting (its tiny layers gain nothing from more, and one thread keeps
its floating-point reductions in one order; see :mod:`clinisynth.generators.cvae`).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager

from threadpoolctl import ThreadpoolController, threadpool_limits

from clinisynth.errors import ClinisynthError
from clinisynth.interrupts import import_native

_current: int | None = None


def resolve_threads(n_jobs: int | None) -> int | None:
    """``None`` stays ``None``; ``-1`` is every core; otherwise a positive count is checked."""
    if n_jobs is None:
        return None
    if isinstance(n_jobs, bool) or not isinstance(n_jobs, int):
        raise ClinisynthError(f"n_jobs (--threads) must be a positive integer or -1, got "
                              f"{n_jobs!r}")
    if n_jobs == -1:
        return os.cpu_count() or 1
    if n_jobs < 1:
        raise ClinisynthError(f"n_jobs (--threads) must be a positive integer or -1, got "
                              f"{n_jobs}")
    return n_jobs


def current_threads(default: int = 1) -> int:
    """The thread count of the innermost :func:`thread_limits` block, else ``default``."""
    return default if _current is None else _current


@contextmanager
def thread_limits(n_jobs: int | None) -> Iterator[None]:
    """At most ``n_jobs`` BLAS/OpenMP and torch threads inside the block."""
    global _current
    threads = resolve_threads(n_jobs)
    if threads is None:
        yield
        return

    torch = _loaded_torch()
    torch_before = torch.get_num_threads() if torch is not None else None
    previous = _current
    _current = threads
    try:
        with threadpool_limits(limits=threads):
            if torch is not None:
                torch.set_num_threads(threads)
            yield
    finally:
        _current = previous
        if torch is not None and torch_before is not None:
            torch.set_num_threads(torch_before)


_controller = None


def blas_limits(threads: int) -> AbstractContextManager:
    """A context manager limiting the BLAS/OpenMP pools to ``threads``.

    Like ``threadpoolctl.threadpool_limits``, but the loaded libraries are found once per process
    (a ``ThreadpoolController`` built on first use) instead of on every call: a scan costs
    about 5 ms, and the weight search's distance scores enter such a block hundreds of times.
    Libraries loaded after the first call (PyTorch's own pools) are set by :func:`thread_limits`.
    """
    global _controller
    if _controller is None:

        _controller = ThreadpoolController()
    return _controller.limit(limits=threads)


def _loaded_torch():
    """PyTorch if it is installed (importing it only costs once per process), else None."""
    try:
        return import_native("torch")
    except ImportError:  # pragma: no cover - torch is a dependency
        return None

