"""Deferring Ctrl-C and SIGTERM across imports of native extensions.

The CLI turns SIGINT and SIGTERM into ``KeyboardInterrupt`` (``clinisynth.cli.app``). Python runs
that handler between any two bytecodes of the main thread, including module code that a C++
extension executes while it initialises: PyTorch runs Python from pybind11 during ``import
torch``. An exception raised there crosses C++ and the process aborts ("terminate called after
throwing an instance of 'pybind11::error_already_set'") instead of exiting with ``interrupted``.

Inside :func:`interrupts_deferred` a handler that calls :func:`defer` only records the signal;
when the outermost block ends normally the signal is raised again (``signal.raise_signal``),
so the handler runs where raising is safe. When the block itself raises, the recorded signal is
dropped: that exception already stops the work. Blocking the signals at the OS level would not
do: another thread (a progress bar's refresh) would take them, and Python would still run the
handler in the main thread.
"""

from __future__ import annotations

import signal
from collections.abc import Iterator
from contextlib import contextmanager
from importlib import import_module
from types import ModuleType

_depth = 0
_pending: int | None = None


def defer(signum: int) -> bool:
    """For a signal handler: inside :func:`interrupts_deferred`, record ``signum`` and return
    True (the handler should return at once); elsewhere return False."""
    global _pending
    if _depth:
        _pending = signum
        return True
    return False


@contextmanager
def interrupts_deferred() -> Iterator[None]:
    """Signals a handler defers during the block are raised again when it ends normally."""
    global _depth, _pending
    _depth += 1
    try:
        yield
    except BaseException:
        if _depth == 1:
            _pending = None
        raise
    finally:
        _depth -= 1
    if _depth == 0 and _pending is not None:
        signum, _pending = _pending, None
        signal.raise_signal(signum)


def import_native(name: str) -> ModuleType:
    """``importlib.import_module(name)`` with interrupts deferred until it returns."""
    with interrupts_deferred():
        return import_module(name)
