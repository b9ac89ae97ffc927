"""Command-line interface: ``clinisynth generate | evaluate | benchmark | datasets | schema``.

Each command lives in its own module and registers itself on :data:`app`.
"""

from clinisynth.cli import benchmark, datasets, evaluate, generate  # noqa: F401  (register commands)
from clinisynth.cli.app import app


def main() -> None:
    app()


__all__ = ["app", "main"]
