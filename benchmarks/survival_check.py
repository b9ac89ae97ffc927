"""Issue 12 survival check: Kaplan-Meier distance and Cox concordance of the hybrid's rows.

Protocol per (table, seed): stratified 70/30 split (``random_state=seed``); the hybrid fits on
the 70% with ``seed`` and samples as many rows; :func:`clinisynth.audit.survival.survival_scores`
compares the Kaplan-Meier curves of synthetic vs train against holdout vs train (the baseline)
and the holdout C-index of a Cox model trained on synthetic vs on real rows.

Configurations: ``hybrid`` (the default ``HybridSynthesizer``, whose wired
:class:`~clinisynth.survival.SurvivalStep` models the follow-up time per (class, event) cell)
and ``hybrid-no-survival`` (``HybridSynthesizer(survival=False)``: the survival pair as two
plain columns), for comparison.

Tables: liver (``../shared/datasets/liver_pbc.csv``, target ``status``, time ``time``, event
``status == 2`` = died, transplant censored) and flchain (bundled from scikit-survival, target
``death``, time ``futime``; its ``chapter`` column, the cause of death, is recorded only for
patients who died, so it is left out of the Cox model's covariates: it would hand the model
the outcome).

Run:  .venv/bin/python benchmarks/survival_check.py [--seeds 0 1 2] [--tables liver flchain]
      [--episodes flchain=24]   (weight-search episodes per table; default: the
      synthesizer's own default, 60 episodes or 60 s)
      [--seeds-for flchain=0]   (seeds of one table, overriding --seeds: flchain's fits are slow)
      [--append]   (add to the results already written, e.g. one table at a time)
Writes benchmarks/results/survival_check.csv and survival_check.md (the exact command(s) and
seeds at the top).

Targets (issue 12): KM integrated distance of synthetic vs train within that of holdout vs
train; Cox C-index trained on synthetic within 0.02 of trained on real (both on the holdout).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import pandas as pd
from sklearn.model_selection import train_test_split

from clinisynth import HybridSynthesizer
from clinisynth.audit.survival import survival_scores
from clinisynth.datasets import load_dataset
from clinisynth.schema import infer_schema

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "datasets"
TABLES = {"liver": ("liver_pbc.csv", "status", None), "flchain": (None, "death", ["chapter"])}
CONFIGS = ("hybrid", "hybrid-no-survival")


def load(table: str) -> tuple[pd.DataFrame, str] | None:
    file, target, _ = TABLES[table]
    if file is None:
        return load_dataset(table)
    path = SHARED / file
    if not path.is_file():
        print(f"skipping {table}: {path} not found")
        return None
    return pd.read_csv(path), target


def run_cell(df: pd.DataFrame, table: str, target: str, config: str, seed: int,
             episodes: int | None) -> dict:
    train, holdout = train_test_split(df, test_size=0.3, stratify=df[target], random_state=seed)
    schema = infer_schema(train, target)
    search = {"episodes": episodes} if episodes else None
    start = time.perf_counter()
    syn = HybridSynthesizer(seed=seed, search=search, survival=config == "hybrid")
    syn.fit(train, schema=schema)
    assert (syn.survival_ is not None) == (config == "hybrid")
    fake = syn.sample(len(train), seed=seed)
    seconds = time.perf_counter() - start
    drop = TABLES[table][2] or []
    covariates = [c for c in schema.names if c not in drop]
    res = survival_scores(train.reset_index(drop=True), holdout.reset_index(drop=True),
                          fake.reset_index(drop=True), schema, schema.survival[0],
                          covariates=covariates)
    t_name = schema.survival[0]["time"]
    return {**res.headline(), "seconds": seconds,
            "time_min": float(fake[t_name].min()), "time_max": float(fake[t_name].max()),
            "real_time_max": float(train[t_name].max()), "weights": syn.weights_}


def summarise(results: pd.DataFrame) -> str:
    cols = {"km_sup_synthetic": "KM sup syn", "km_sup_holdout": "KM sup holdout",
            "km_iad_synthetic": "KM IAD syn", "km_iad_holdout": "KM IAD holdout",
            "cindex_tstr": "C TSTR", "cindex_trtr": "C TRTR", "seconds": "sec"}
    lines = []
    for table, rows in results.groupby("table", sort=False):
        seeds = ", ".join(str(int(x)) for x in sorted(rows["seed"].unique()))
        lines.append(f"\n### {table} (mean ± sd over seeds {seeds})\n")
        lines.append("| configuration | " + " | ".join(cols.values())
                     + " | IAD syn <= holdout | abs(C TSTR - C TRTR) <= 0.02 |")
        lines.append("|---" * (len(cols) + 3) + "|")
        for config, cell in rows.groupby("config", sort=False):
            parts = [f"{cell[k].mean():.3f} ± {cell[k].std(ddof=0):.3f}" if k != "seconds"
                     else f"{cell[k].mean():.0f}" for k in cols]
            km = int((cell["km_iad_synthetic"] <= cell["km_iad_holdout"]).sum())
            cox = int(((cell["cindex_tstr"] - cell["cindex_trtr"]).abs() <= 0.02).sum())
            parts += [f"{km} of {len(cell)} seeds", f"{cox} of {len(cell)} seeds"]
            lines.append(f"| {config} | " + " | ".join(parts) + " |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--seeds-for", nargs="+", default=[], metavar="TABLE=S,S",
                        help="seeds of one table, overriding --seeds, e.g. flchain=0")
    parser.add_argument("--tables", nargs="+", default=list(TABLES), choices=list(TABLES))
    parser.add_argument("--configs", nargs="+", default=list(CONFIGS), choices=CONFIGS)
    parser.add_argument("--episodes", nargs="+", default=[], metavar="TABLE=N",
                        help="weight-search episodes for a table, e.g. flchain=24")
    parser.add_argument("--append", action="store_true",
                        help="add to the results already in --out (their commands are kept)")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results")
    args = parser.parse_args()
    episodes = {k: int(v) for k, v in (e.split("=") for e in args.episodes)}
    seeds_for = {k: [int(x) for x in v.split(",")]
                 for k, v in (e.split("=") for e in args.seeds_for)}
    records = []
    for table in args.tables:
        loaded = load(table)
        if loaded is None:
            continue
        df, target = loaded
        for config in args.configs:
            for seed in seeds_for.get(table, args.seeds):
                r = run_cell(df, table, target, config, seed, episodes.get(table))
                records.append({"table": table, "config": config, "seed": seed,
                                "episodes": episodes.get(table, "default"), **r})
                print(f"{table:<8}{config:<19}{seed:>2}  KM sup {r['km_sup_synthetic']:.3f} "
                      f"(holdout {r['km_sup_holdout']:.3f})  IAD {r['km_iad_synthetic']:.3f} "
                      f"(holdout {r['km_iad_holdout']:.3f})  C TSTR {r['cindex_tstr']:.3f} "
                      f"TRTR {r['cindex_trtr']:.3f}  time [{r['time_min']:.0f}, "
                      f"{r['time_max']:.0f}] of real max {r['real_time_max']:.0f}  "
                      f"{r['seconds']:.0f}s", flush=True)
    results = pd.DataFrame(records)
    args.out.mkdir(parents=True, exist_ok=True)
    csv, md = args.out / "survival_check.csv", args.out / "survival_check.md"
    command = f"PYTHONPATH=src {sys.executable} benchmarks/survival_check.py " + " ".join(
        sys.argv[1:])
    commands = [command]
    if args.append and csv.is_file():
        results = pd.concat([pd.read_csv(csv), results], ignore_index=True)
        if md.is_file():
            commands = [line.strip("`") for line in md.read_text().splitlines()
                        if line.startswith("`")] + commands
    results.to_csv(csv, index=False)
    seeds = {t: sorted(int(x) for x in rows["seed"].unique())
             for t, rows in results.groupby("table", sort=False)}
    text = ("# Survival check (seeds " + "; ".join(f"{t}: {s}" for t, s in seeds.items())
            + ")\n\n" + "\n".join(f"`{c}`" for c in commands) + "\n\n"
            "Targets (issue 12): KM integrated absolute distance (IAD) of synthetic vs train "
            "within that of holdout vs train; Cox C-index on the holdout trained on synthetic "
            "(TSTR) within 0.02 of trained on real (TRTR). Holdout 30 %, synthetic rows = "
            "training rows, `hybrid` = the default HybridSynthesizer (survival step wired), "
            "`hybrid-no-survival` = `HybridSynthesizer(survival=False)`.\n"
            + summarise(results) + "\n")
    md.write_text(text)
    print(text)


if __name__ == "__main__":
    main()
