"""The typer application object and what every command shares: consoles, and how to fail.

Every command registered on :data:`app` runs inside :func:`user_errors` (the application adds
it to each command, so no command can forget it):

- a :class:`ClinisynthError` (a user mistake) prints ``error: <message>`` on one line, exit 2;
- Ctrl-C or SIGTERM raises ``KeyboardInterrupt`` where the program is, so ``finally`` blocks
  and the atomic writers remove their temporaries; then ``interrupted``, exit 130;
- an ``OSError`` about a file (permission denied, disk full, a file where a folder should be)
  is the environment's, not a bug: ``error: <reason>: '<path>'``, exit 2;
- any other exception is a bug: ``internal error: <type>: <message> (rerun with --debug for
  the traceback)``, exit 1; the global ``--debug`` option prints the traceback as well;
- a Python warning prints as one line ``warning: <message>`` on stderr, without the source
  line; a third-party library's warning of one category is shown once (scikit-learn's
  ConvergenceWarning can fire hundreds of times), and deprecation notices, which are for
  developers, only with ``--debug``.
"""

from __future__ import annotations

import functools
import signal
import sys
import traceback
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console
from rich.markup import escape

from clinisynth.errors import ClinisynthError
from clinisynth.interrupts import defer
from clinisynth.version import __version__

F = TypeVar("F", bound=Callable[..., Any])
_PACKAGE_DIR = Path(__file__).resolve().parents[1]
_DEVELOPER_WARNINGS = (DeprecationWarning, PendingDeprecationWarning, FutureWarning)
#: how typer ends a command on purpose (an exit code, an abort, a usage error): passed through.
#: Typer's own names, so no click import: typer 0.29 no longer depends on click (its usage
#: errors derive from a vendored ``ClickException``, found through ``BadParameter``'s bases).
_TYPER_ENDINGS: tuple[type[BaseException], ...] = (
    typer.Exit, typer.Abort,
    *[c for c in typer.BadParameter.__mro__ if c.__name__ == "ClickException"])


class _State:
    debug = False


state = _State()
console = Console()
err_console = Console(stderr=True)


class _App(typer.Typer):
    """A Typer whose every command is wrapped by :func:`user_errors`."""

    def command(self, *args: Any, **kwargs: Any) -> Callable[[F], F]:
        register = super().command(*args, **kwargs)

        def decorator(func: F) -> F:
            register(user_errors(func))
            return func

        return decorator


app = _App(
    name="clinisynth",
    help="Synthetic clinical tables: generate, fit, sample, evaluate and benchmark.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _print_version(value: bool) -> None:
    if value:
        console.print(f"clinisynth {__version__}", highlight=False)
        raise typer.Exit()


@app.callback()
def _global_options(
    debug: Annotated[bool, typer.Option(
        "--debug", help="On an unexpected error, print the full traceback; also show "
        "deprecation warnings.")] = False,
    version: Annotated[bool, typer.Option(
        "--version", callback=_print_version, is_eager=True,
        help="Print clinisynth's version and exit.")] = False,
) -> None:
    """Synthetic clinical tables: generate, fit, sample, evaluate and benchmark."""
    state.debug = debug


def fail(message: str) -> typer.Exit:
    """Print a one-line error and return the exit (code 2) to raise."""
    err_console.print(f"[bold red]error:[/] {escape(_one_line(message))}", highlight=False,
                      soft_wrap=True)
    return typer.Exit(code=2)


def user_errors(func: F) -> F:
    """Run a command with one-line errors and warnings, and clean interruption (see module)."""
    if getattr(func, "_clinisynth_guarded", False):
        return func

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        with _people_warnings(), signals_as_interrupt():
            try:
                return func(*args, **kwargs)
            except ClinisynthError as exc:
                if state.debug:
                    traceback.print_exc()
                raise fail(str(exc)) from None
            except _TYPER_ENDINGS:
                raise
            except KeyboardInterrupt:
                err_console.print("interrupted", highlight=False)
                raise typer.Exit(code=130) from None
            except OSError as exc:
                if exc.filename is None:  # not about a path the user gave: treat as a bug
                    raise _internal(exc) from None
                if state.debug:
                    traceback.print_exc()
                raise fail(f"{exc.strerror or type(exc).__name__}: '{exc.filename}'") from None
            except Exception as exc:
                raise _internal(exc) from None

    wrapper._clinisynth_guarded = True  # type: ignore[attr-defined]
    return wrapper  # type: ignore[return-value]


def _internal(exc: BaseException) -> typer.Exit:
    """Report a bug in one line (and its traceback with --debug); return the exit (code 1)."""
    if state.debug:
        traceback.print_exception(exc)
    message = _one_line(str(exc)) or "(no message)"
    err_console.print(f"[bold red]internal error:[/] {escape(type(exc).__name__)}: "
                      f"{escape(message)} (rerun with --debug for the traceback)",
                      highlight=False, soft_wrap=True)
    return typer.Exit(code=1)


def _one_line(text: str, limit: int = 500) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


@contextmanager
def signals_as_interrupt() -> Iterator[None]:
    """SIGINT and SIGTERM raise ``KeyboardInterrupt``; a second signal is ignored while the
    first one's cleanup runs; during a native import the signal waits for the import to end
    (:mod:`clinisynth.interrupts`). Outside the main thread (no signals there) this does
    nothing."""

    def interrupt(signum: int, frame: Any) -> None:
        if defer(signum):  # inside a native import: raised again when it returns
            return
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, signal.SIG_IGN)
        raise KeyboardInterrupt

    try:
        previous = {sig: signal.signal(sig, interrupt) for sig in (signal.SIGINT, signal.SIGTERM)}
    except ValueError:  # not the main thread
        previous = {}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


@contextmanager
def _people_warnings() -> Iterator[None]:
    """Show each warning as one line ``warning: ...`` (see the module docstring)."""
    seen: set[Any] = set()

    def show(message: Warning | str, category: type[Warning], filename: str, lineno: int,
             file: Any = None, line: str | None = None) -> None:
        if issubclass(category, _DEVELOPER_WARNINGS) and not state.debug:
            return
        text = _one_line(str(message), 300)
        library = _library(category, filename)
        key: Any = (category, text) if library is None else (category, library)
        if key in seen:
            return
        seen.add(key)
        if library is not None:
            text = f"{library}: {text} ({category.__name__}; repeats hidden)"
        err_console.print(f"[yellow]warning:[/] {escape(text)}", highlight=False,
                          soft_wrap=True)

    with warnings.catch_warnings():
        if not sys.warnoptions:  # the user's -W / PYTHONWARNINGS settings win
            warnings.simplefilter("always")
        warnings.showwarning = show
        yield


def _library(category: type[Warning], filename: str) -> str | None:
    """The third-party package a warning comes from, or None when it is clinisynth's own."""
    module = category.__module__.split(".")[0]
    if module == "clinisynth":
        return None
    if module != "builtins":
        return module
    path = Path(filename)
    try:
        path.resolve().relative_to(_PACKAGE_DIR)
        return None
    except (ValueError, OSError):
        pass
    parts = path.parts
    for marker in ("site-packages", "dist-packages"):
        if marker in parts and parts.index(marker) + 1 < len(parts):
            return Path(parts[parts.index(marker) + 1]).stem
    return None
