"""``python -m clinisynth``: the same command line as ``clinisynth``."""

from clinisynth.cli import main

if __name__ == "__main__":
    main()
