"""Command-line interface: ``clinisynth generate | fit | sample | evaluate | benchmark |
datasets | schema``.

Each command lives in its own module and registers itself on :data:`app`.
"""

import sys

from clinisynth.cli import (  # noqa: F401  (register commands)
    benchmark,
    datasets,
    evaluate,
    fit,
    generate,
    sample,
)
from clinisynth.cli.app import app


def main() -> None:
    """The ``clinisynth`` entry point; ``--debug`` may stand anywhere on the command line."""
    args = sys.argv[1:]
    if "--debug" in args[1:]:
        args = ["--debug"] + [a for a in args if a != "--debug"]
    app(args=args, prog_name="clinisynth")


__all__ = ["app", "main"]
