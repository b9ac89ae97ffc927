"""The opening lines every benchmark report shares: title, the command that made it, the run
line, and the script's own description (its docstring after the usage block, up to
"Writes")."""

from __future__ import annotations

import time
from collections.abc import Sequence


def report_head(title: str, command: str, header: str, docstring: str | None) -> list[str]:
    """Markdown lines: ``# title``, the command in a bash block, ``header``, the description."""
    description = (docstring or "").split("\n\n", 2)[2].split("Writes")[0].strip()
    return [f"# {title}", "", "Produced by:", "", "```bash", command, "```", "", header, "",
            description, ""]


def seeds_line(seeds: Sequence[int], start: float) -> str:
    """The run line: the seeds and the seconds since ``start`` (a ``time.perf_counter()``)."""
    return (f"Seeds {', '.join(map(str, seeds))}; {time.perf_counter() - start:.0f} s "
            "on 2 cores.")
