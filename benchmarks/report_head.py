"""The opening lines every benchmark report shares: title, the command that made it, the run
line, and the script's own description (its docstring after the usage block, up to
"Writes")."""

from __future__ import annotations


def report_head(title: str, command: str, header: str, docstring: str | None) -> list[str]:
    """Markdown lines: ``# title``, the command in a bash block, ``header``, the description."""
    description = (docstring or "").split("\n\n", 2)[2].split("Writes")[0].strip()
    return [f"# {title}", "", "Produced by:", "", "```bash", command, "```", "", header, "",
            description, ""]
