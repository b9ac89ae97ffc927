"""The typer application object and what every command shares: consoles, error handling."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

import typer
from rich.console import Console
from rich.markup import escape

from clinisynth.errors import ClinisynthError

app = typer.Typer(
    name="clinisynth",
    help="Synthetic clinical tables: generate, evaluate and benchmark.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
console = Console()
err_console = Console(stderr=True)

F = TypeVar("F", bound=Callable[..., Any])


def fail(message: str) -> typer.Exit:
    """Print a one-line error and return the exit (code 2) to raise."""
    err_console.print(f"[bold red]error:[/] {escape(message)}", highlight=False, soft_wrap=True)
    return typer.Exit(code=2)


def user_errors(func: F) -> F:
    """Turn :class:`ClinisynthError` raised by a command into a one-line message and exit 2."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except ClinisynthError as exc:
            raise fail(str(exc)) from None

    return wrapper  # type: ignore[return-value]
