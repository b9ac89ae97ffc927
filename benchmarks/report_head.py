"""The opening lines every benchmark report shares: title, the command that made it, the run
line, and the script's own description (its docstring after the usage block, up to
"Writes")."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def report_head(title: str, command: str, header: str, docstring: str | None) -> list[str]:
    """Markdown lines: ``# title``, the command in a bash block, ``header``, the description."""
    description = (docstring or "").split("\n\n", 2)[2].split("Writes")[0].strip()
    return [f"# {title}", "", "Produced by:", "", "```bash", command, "```", "", header, "",
            description, ""]


def seeds_line(seeds: Sequence[int], start: float) -> str:
    """The run line: the seeds and the seconds since ``start`` (a ``time.perf_counter()``)."""
    return (f"Seeds {', '.join(map(str, seeds))}; {time.perf_counter() - start:.0f} s "
            "on 2 cores.")


def pythonpath_prefix() -> str:
    """``PYTHONPATH=... `` when set (a run on another checkout's sources says so), else ""."""
    path = os.environ.get("PYTHONPATH", "")
    return f"PYTHONPATH={path} " if path else ""


def command_line() -> str:
    """The command this run was started with, ``PYTHONPATH`` included when set."""
    return pythonpath_prefix() + ".venv/bin/python " + " ".join(
        [f"benchmarks/{Path(sys.argv[0]).name}", *sys.argv[1:]])


def shown(path: Path) -> str:
    """``path`` relative to the repository where it lies inside it."""
    try:
        return str(path.resolve().relative_to(ROOT))
    except ValueError:
        return str(path)


def out_option(out: Path, default: Path) -> str:
    """`` --out PATH`` for a command line, or "" when ``out`` is the script's ``default``."""
    return "" if out.resolve() == default.resolve() else f" --out {shown(out)}"


def measured_commit() -> str:
    """The commit of the clinisynth sources this run imported (through ``PYTHONPATH`` they may
    be another checkout's), "plus uncommitted changes" when they differ from it."""
    import clinisynth  # the package as imported, wherever it comes from

    where = str(Path(clinisynth.__file__).resolve().parent)
    done = subprocess.run(["git", "-C", where, "rev-parse", "--short", "HEAD"],
                          capture_output=True, text=True, check=False)
    commit = done.stdout.strip()
    if not commit:
        return "an unknown commit"
    dirty = subprocess.run(["git", "-C", where, "status", "--porcelain", "--", "."],
                           capture_output=True, text=True, check=False).stdout.strip()
    return commit + (" plus uncommitted changes" if dirty else "")
