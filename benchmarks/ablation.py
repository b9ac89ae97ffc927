"""Issue 4 ablation: each generator alone, uniform and learned hybrids, and calibration chains.

Protocol per (table, seed): stratified 70/30 split with ``random_state=seed``; each configuration
fits on the 70% with ``seed`` and samples as many rows as the 70% holds; the audit
(:func:`clinisynth.audit.audit`, random forest for utility, ``seed``) scores the sample against
the 70% (fidelity), the 30% it never saw (utility) and both (privacy). The table shows mean ± sd
over seeds. Tables: the bundled breast-cancer table and each table in ../shared/datasets (skipped
with a note where absent).

Run:  .venv/bin/python benchmarks/ablation.py [--seeds 0 1 2] [--tables breast_cancer pima ...]
Writes benchmarks/results/ablation.csv and ablation.md.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import pandas as pd
from sklearn.model_selection import train_test_split

from clinisynth import HybridSynthesizer
from clinisynth.audit import audit
from clinisynth.datasets import load_dataset
from clinisynth.generators import list_generators

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "datasets"
TABLES = {
    "breast_cancer": None,
    "pima_diabetes": ("pima_diabetes.csv", "type"),
    "cardiac": ("cardiac_cabg_ptca.csv", "procedure"),
    "liver": ("liver_pbc.csv", "status"),
}
CHAINS = [["moment"], ["histogram"], ["soft"], ["adaptive_soft"], ["iterative_soft"],
          ["moment", "adaptive_soft"]]
COLUMNS = {"ks_mean": "KS", "wasserstein_mean": "Wass.", "pair_trend": "pair trend",
           "detection_auc": "detect AUC", "tstr_f1": "TSTR F1", "tstr_accuracy": "TSTR acc",
           "trtr_accuracy": "TRTR acc", "dcr_share": "DCR share", "exact_copies": "copies",
           "holdout_exact_copies": "holdout copies", "privacy_loss": "priv. loss",
           "seconds": "sec"}


def configurations() -> dict[str, dict]:
    """Single generators; then the hybrids over the default generators (GMM and the CVAE) and,
    suffixed ``[all]``, over all five (``generators="all"``, the default until 2026-12-03)."""
    configs: dict[str, dict] = {}
    for name in list_generators():
        configs[name] = {"weights": name, "calibration": None, "privacy_guard": False}
    for suffix, generators in (("", None), ("[all]", "all")):
        configs["uniform" + suffix] = {"weights": "uniform", "calibration": None,
                                       "generators": generators}
        configs["learned" + suffix] = {"weights": "learned", "calibration": None,
                                       "generators": generators}
        for chain in CHAINS:
            configs[f"learned{suffix}+" + "+".join(chain)] = {
                "weights": "learned", "calibration": chain, "generators": generators}
    return configs


def load(table: str) -> tuple[pd.DataFrame, str] | None:
    if TABLES[table] is None:
        return load_dataset(table)
    file, target = TABLES[table]
    path = SHARED / file
    if not path.is_file():
        print(f"skipping {table}: {path} not found")
        return None
    return pd.read_csv(path), target


def run_cell(df: pd.DataFrame, target: str, config: dict, seed: int) -> dict:
    train, holdout = train_test_split(df, test_size=0.3, stratify=df[target], random_state=seed)
    start = time.perf_counter()
    syn = HybridSynthesizer(seed=seed, **config).fit(train, target)
    fake = syn.sample(len(train))
    seconds = time.perf_counter() - start
    scores = audit(train, holdout, fake, target, seed=seed, models=("random_forest",)).headline()
    scores["seconds"] = seconds
    return scores


def summarise(results: pd.DataFrame) -> str:
    lines = []
    for table, rows in results.groupby("table", sort=False):
        seeds = ", ".join(str(int(x)) for x in sorted(rows["seed"].unique()))
        lines.append(f"\n### {table} (mean ± sd over seeds {seeds})\n")
        lines.append("| configuration | " + " | ".join(COLUMNS.values()) + " |")
        lines.append("|---" * (len(COLUMNS) + 1) + "|")
        for config, cell in rows.groupby("config", sort=False):
            parts = []
            for key in COLUMNS:
                mean, sd = cell[key].mean(), cell[key].std(ddof=0)
                parts.append(f"{mean:.3f} ± {sd:.3f}" if key != "seconds" else f"{mean:.1f}")
            lines.append(f"| {config} | " + " | ".join(parts) + " |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--tables", nargs="+", default=list(TABLES), choices=list(TABLES))
    parser.add_argument("--configs", nargs="+", default=None)
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results")
    parser.add_argument("--summarise-only", action="store_true",
                        help="rewrite ablation.md from an existing ablation.csv")
    args = parser.parse_args()
    if args.summarise_only:
        results = pd.read_csv(args.out / "ablation.csv")
        write_markdown(results, args.out, sorted(results["seed"].unique()))
        return
    configs = configurations()
    if args.configs:
        configs = {k: v for k, v in configs.items() if k in args.configs}
    records = []
    for table in args.tables:
        loaded = load(table)
        if loaded is None:
            continue
        df, target = loaded
        for name, config in configs.items():
            for seed in args.seeds:
                scores = run_cell(df, target, config, seed)
                records.append({"table": table, "config": name, "seed": seed, **scores})
                print(f"{table:<14}{name:<30}{seed:>3}  KS {scores['ks_mean']:.3f}  "
                      f"detect {scores['detection_auc']:.3f}  TSTR {scores['tstr_accuracy']:.3f}"
                      f"  DCR {scores['dcr_share']:.3f}  copies {scores['exact_copies']:.0f}  "
                      f"{scores['seconds']:.1f}s", flush=True)
    results = pd.DataFrame(records)
    previous = args.out / "ablation.csv"
    if args.configs and previous.is_file():  # re-run of some configurations: keep the others
        old = pd.read_csv(previous)
        rerun = set(zip(results["table"], results["config"], strict=True))
        keep = [(t, c) not in rerun for t, c in zip(old["table"], old["config"], strict=True)]
        order = {name: i for i, name in enumerate(configurations())}
        tables = {name: i for i, name in enumerate(TABLES)}
        results = pd.concat([old[keep], results], ignore_index=True)
        results = results.assign(_t=results["table"].map(tables),
                                 _c=results["config"].map(order))
        results = results.sort_values(["_t", "_c", "seed"]).drop(columns=["_t", "_c"])
    args.out.mkdir(parents=True, exist_ok=True)
    results.to_csv(args.out / "ablation.csv", index=False)
    print(write_markdown(results, args.out, args.seeds))


def write_markdown(results: pd.DataFrame, out: Path, seeds: list[int]) -> str:
    text = summarise(results)
    header = ("# Ablation (issue 4)\n\nProduced by `.venv/bin/python benchmarks/ablation.py "
              f"--seeds {' '.join(map(str, seeds))}`; 70/30 stratified split per seed, "
              "audited against the 30% holdout (fidelity vs the 70%).\n"
              "KS, Wasserstein: 0 to 1, lower is better; pair trend: 0 to 1, higher is better; "
              "detection AUC: 0.5 is best; TSTR: higher is better; DCR share: 0.5 is best "
              "(above means closer to training rows than to unseen ones); copies: lower is "
              "better, compare with holdout copies (an equal-sized real sample's count); "
              "privacy loss: 0 is best. Single generators run without calibration and without "
              "the privacy guard; the hybrids run with the guard. `uniform`, `learned`: "
              "weights over the default generators (GMM and the CVAE); `[all]`: over all five "
              "(`generators=\"all\"`). The default hybrid is `learned+moment+adaptive_soft`."
              "\n")
    (out / "ablation.md").write_text(header + text + "\n")
    return text


if __name__ == "__main__":
    main()
