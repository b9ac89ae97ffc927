"""What the commands print after fitting or sampling: rows per class, the model, the guard."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd
from rich.table import Table

from clinisynth.cli.app import console
from clinisynth.guard import GuardReport
from clinisynth.synthesizer import HybridSynthesizer


def print_rows(counts: Mapping[Any, int], target: str, out: Path | str) -> None:
    """A table of the rows written per class (``counts``: class -> rows, see :class:`Draw`)."""
    by_class = pd.Series(dict(counts), dtype="int64").sort_index()
    table = Table(title=f"{int(by_class.sum())} synthetic rows written to {out}")
    table.add_column(f"class ({target})")
    table.add_column("rows", justify="right")
    for label, count in by_class.items():
        if count:
            table.add_row(str(label), str(count))
    console.print(table)


def print_model(syn: HybridSynthesizer) -> None:
    """The weights (learned or given, and what stopped the search), calibration and guard."""
    mix = ", ".join(f"{n} {w:.2f}" for n, w in syn.weights_.items())
    how = "given"
    if syn.search_:
        how = f"learned in {len(syn.search_.episodes)} episodes"
        if syn.search_.stopped_by == "time":
            how += ", stopped by --max-search-seconds"
    console.print(f"generator weights ({how}): {mix}", highlight=False)
    steps = " → ".join(syn.calibration_.steps) if syn.calibration_ else "none"
    console.print(f"calibration: {steps}", highlight=False)
    survival = getattr(syn, "survival_", None)
    if survival is not None:
        pair, window = survival.pair_, survival.window_
        cell = (pair["event"] if pair["event"] == syn.schema_.target
                else f"({syn.schema_.target}, {pair['event']})")
        text = f"survival: {pair['time']} modelled per {cell} cell"
        if window:
            text += (f"; study window {window['entry']} × {window['scale']:g} + {pair['time']} "
                     f"≤ {window['end']:g} ({window['rows_at_end']:.0%} of rows reach it), kept "
                     "for every synthetic row")
        console.print(text, highlight=False)


def print_guard(syn: HybridSynthesizer, report: GuardReport | None = None) -> None:
    """What the privacy guard did in the last draw (``report``: its report, when the draw was
    not the model's own, e.g. a partitioned dataset's)."""
    g: Any = report if report is not None else syn.guard_report_
    if g is None:
        return
    roles = syn.roles_.report()
    if any(roles.get(r) for r in ("identifier", "datetime", "text")):
        parts = [f"{r} {', '.join(roles[r])}" for r in ("identifier", "datetime", "text")
                 if roles.get(r)]
        console.print("column roles: " + "; ".join(parts) + " (identifiers regenerated, dates "
                      "modelled as numbers, text written as missing)", highlight=False)
    guard = syn.guard_
    qi = (f"singling-out on {', '.join(guard.qi_)}" if guard is not None
          and guard.singling_out_active else "singling-out rule off (no quasi-identifiers)")
    rules = ", ".join(f"{rule} {count}" for rule, count in sorted(g.by_rule.items()))
    console.print(f"privacy guard ({qi}; distance rule): {g.refused} refused draw(s) replaced"
                  + (f" (by rule: {rules})" if rules else "")
                  + f" in {g.rounds} round(s), {g.fallback} from the last-resort generators; "
                  "no refused row is written", highlight=False)


def print_rules(syn: HybridSynthesizer) -> None:
    """The rules: how many, how many true by construction, rows redrawn and left."""
    if syn.rules_ is None:
        return
    rules = syn.rules_.report()["rules"]
    built = sum(not r["enforced"].startswith("checked") for r in rules)
    report = syn.rules_report_
    console.print(f"rules: {len(rules)} ({built} true by construction); "
                  f"{report['redrawn']} rows redrawn for breaking one, "
                  f"{report['remaining']} left", highlight=False)
