"""What the commands print after fitting or sampling: rows per class, the model, the guard."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd
from rich.table import Table

from clinisynth.cli.app import console
from clinisynth.guard import GuardReport
from clinisynth.schema import TableSchema, pair_candidates
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
    """The weights (learned or given, and what stopped the search), calibration and guard;
    in DP mode the privacy ledger instead."""
    if syn.ledger_ is not None:
        print_ledger(syn.ledger_)
        return
    mix = ", ".join(f"{n} {w:.2f}" for n, w in syn.weights_.items())
    how = "given"
    if syn.search_:
        how = f"learned in {len(syn.search_.episodes)} episodes"
        if syn.search_.stopped_by == "time":
            how += ", stopped by --max-search-seconds"
    console.print(f"generator weights ({how}): {mix}", highlight=False)
    steps = " → ".join(syn.calibration_.steps) if syn.calibration_ else "none"
    if syn.smoothed_ and syn.protect_:
        steps += (f" (toward each class's values, those fewer than {syn.protect_.k_} patients "
                  "hold kernel-smoothed)")
    console.print(f"calibration: {steps}", highlight=False)
    survival = getattr(syn, "survival_", None)
    if survival is not None:
        pair, window = survival.pair_, survival.window_
        names = ([] if pair["event"] == syn.schema_.target else [syn.schema_.target]) \
            + [pair["event"], *survival.secondary_]
        cell = names[0] if len(names) == 1 else f"({', '.join(names)})"
        text = f"survival: {pair['time']} modelled per {cell} cell"
        if survival.smoothing > 0 and syn.protect_:
            text += (f" (times fewer than {syn.protect_.k_} patients hold kernel-smoothed over "
                     "their nearest times)")
        if window:
            text += (f"; study window {window['entry']} × {window['scale']:g} + {pair['time']} "
                     f"≤ {window['end']:g} ({window['rows_at_end']:.0%} of rows reach it), kept "
                     "for every synthetic row")
        console.print(text, highlight=False)
    print_rule_plan(syn)


def print_ledger(ledger: dict[str, Any]) -> None:
    """DP mode: the guarantee, what was spent, and each mechanism (one line each)."""
    console.print(f"differential privacy: (ε {ledger['epsilon']:g}, δ {ledger['delta']:g}) per "
                  f"patient; spent ε {ledger['epsilon_spent']:.3g} at δ "
                  f"{ledger['delta_spent']:.2g} ({len(ledger['entries'])} mechanisms, "
                  f"accountant: zCDP, ρ {ledger['rho_spent']:.4g} of "
                  f"{ledger['rho_budget']:.4g}); no privacy guard: the guarantee replaces it",
                  highlight=False)
    groups: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for e in ledger["entries"]:
        groups.setdefault((e["step"], e["mechanism"]), []).append(e)
    for (step, mechanism), entries in groups.items():
        scales = [e["scale"] for e in entries]
        what = "σ" if mechanism.startswith("gaussian") else "ε"
        spread = (f"{min(scales):.3g}" if min(scales) == max(scales)
                  else f"{min(scales):.3g}-{max(scales):.3g}")
        console.print(f"  {step}: {len(entries)} × {mechanism} ({what} {spread}), ρ "
                      f"{sum(e['rho'] for e in entries):.4g}", highlight=False)
    console.print("  every mechanism is listed in the model's manifest and the report",
                  highlight=False)


def print_rule_plan(syn: HybridSynthesizer) -> None:
    """How each rule is kept: by construction, or only checked (rows breaking it redrawn, any
    left counted by the audit), named; and the columns recorded at several resolutions."""
    if syn.rules_ is None:
        return
    rules = syn.rules_.report()["rules"]
    checked = [r["rule"] for r in rules if r["enforced"].startswith("checked")]
    console.print(f"rules: {len(rules)} found, {len(rules) - len(checked)} true by construction"
                  + (f"; not by construction, only checked (rows breaking them redrawn, any "
                     f"left counted by the audit): {'; '.join(checked)}" if checked else ""),
                  highlight=False)
    for name, mix in syn.rules_.mixes_.items():
        levels = ", ".join(f"{level:g} ({share:.0%})"
                           for level, share in zip(mix["levels"], mix["all"], strict=True))
        console.print(f"recorded precision: {name} at {levels}, per class", highlight=False)
    for name, how in syn.rules_.report()["storage"].items():
        console.print(f"stored as in the file: {name} {how}", highlight=False)


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


def print_model_contents(syn: HybridSynthesizer, model: Path | str) -> None:
    """What a saved model directory holds, and so whom it may be shared with."""
    if syn.ledger_ is not None:
        console.print(f"model saved to {model}; it holds the schema (DP-released ranges and "
                      "categories) and the noisy marginals, no patient row: it is covered by "
                      f"the (ε {syn.ledger_['epsilon']:g}, δ {syn.ledger_['delta']:g}) "
                      "guarantee, as the synthetic tables are.", highlight=False)
        return
    held = ["the schema (kinds, protected ranges and kept categories; no identifier value)",
            "the generators' parameters"]
    if syn.guard_ is not None:
        held.append(f"the privacy guard's reference: {len(syn.guard_.records_):,} training rows "
                    "(patient data)")
    resampling = [n for n, g in syn.generators_.items() if g.resamples_rows]
    if resampling:
        held.append(f"the training rows of {', '.join(resampling)} (patient data)")
    console.print(f"model saved to {model}; it holds " + "; ".join(held) + ". Share the "
                  "synthetic tables, not the model directory.", highlight=False)


def print_pairs(schema: TableSchema, frame: pd.DataFrame) -> None:
    """The survival pairs chosen from the data's structure, and the best pair not chosen."""
    chosen = [(p["time"], p["event"]) for p in schema.survival or []]
    ranked = pair_candidates(schema, frame)
    described = {(c.time, c.event): c for c in ranked}
    for i, (time, event) in enumerate(chosen):
        what = described.get((time, event))
        console.print(f"survival pair {i + 1}: {what.describe() if what else f'{time} / {event}'}"
                      + (" (primary: modelled per cell)" if i == 0 else ""), highlight=False)
    runner = next((c for c in ranked if (c.time, c.event) not in chosen), None)
    if runner is not None:
        console.print(f"runner-up: {runner.describe()}", highlight=False)
    elif chosen:
        console.print("runner-up: none (no other duration and event qualify)", highlight=False)
    if chosen or runner is not None:
        console.print("edit the pairs in the schema's \"survival\" list (null for none)",
                      highlight=False)
