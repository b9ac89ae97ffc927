"""What value protection's smoothing does to survival utility and privacy: Cox C-index trained
on synthetic rows against trained on real rows, KM distance, detection, and the audit's
univariate singling out on the time, with the smoothing off, in the calibration only (the
survival step's times raw: ed7fb33), and in both (the default).

Run:  .venv/bin/python benchmarks/survival_smoothing.py [--seeds 0 1 2] [--tables ...]
      [--variants off survival_raw default] [--search-seconds 20]

The survival step replaces the follow-up time by a normal score within its (class, event) cell
and maps a synthetic score back through that cell's table of times itself, so smoothing the
score in the calibration protects no time (a synthetic time is still interpolated between two
real times); it only bends the score's distribution. So the calibration leaves the score raw,
and the survival step smooths the times where they are written, in its cell tables.

Protocol and scores per (table, seed) are :func:`survival_generalisation.run_cell`'s (70/30
split with ``random_state=seed``, nothing declared, the hybrid with ``seed``, weight search
capped at ``--search-seconds``); per variant and over every (table, seed, pair):

* ``gap``: mean of C-index TSTR − TRTR (Cox on synthetic rows, on real rows, both scored on the
  holdout), with its standard error over the fits (pairs of one fit averaged first);
* ``vs off``: the paired difference of ``gap`` from the smoothing off, on the same splits;
* ``c ok``: pairs within 0.02 of TRTR; ``km ok``: KM distance within the holdout's;
  ``detection``: the audit's real-vs-synthetic AUC against the holdout;
* ``SO time``: the audit's univariate singling-out predicates on the primary time column
  (synthetic values each true for one synthetic row): share true for exactly one row of a
  training subsample of the holdout's size (mean over 20 seeded subsamples) minus share true
  for exactly one holdout row (0 for a model that learns nothing patient-specific), mean over
  (table, seed).

Variants: ``off`` (``clinisynth.params.RARE_SMOOTHING = 0``: raw references and tables of
times, value protection's clipping still on), ``survival_raw`` (the calibration smoothed, the
survival step's tables raw: ``SurvivalStep()``) and ``default`` (both smoothed).
Writes benchmarks/results/survival_smoothing.md and .csv.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from report_head import report_head, seeds_line  # noqa: E402
from survival_generalisation import run_cell  # noqa: E402

import clinisynth.params as params  # noqa: E402
from clinisynth.audit import singling_out as so  # noqa: E402
from clinisynth.steps.survival import SurvivalStep  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
TABLES = ["whas500", "actg320", "veteran", "larynx", "lung", "kidney_transplant", "actg175",
          "kmsurv_bmt"]
SUBSAMPLES = 20
VARIANTS = ["off", "survival_raw", "default"]
KEEP = ["table", "seed", "pair_name", "c_trtr", "c_tstr", "km_syn", "km_hold", "detection",
        "so_time", "error"]


def time_singling_out(syn: Any, train: pd.DataFrame, holdout: pd.DataFrame,
                      fake: pd.DataFrame, pair: dict) -> dict[str, float]:
    """The audit's univariate predicates on the pair's time column (see the module doc)."""
    if pair != syn.schema_.survival[0]:
        return {}  # the primary pair's time: the one the survival step writes

    def col(frame: pd.DataFrame) -> np.ndarray:
        x = pd.to_numeric(frame[pair["time"]], errors="coerce").to_numpy(dtype=float)
        return x[:, None]

    preds = so.univariate_predicates(col(fake), [True], 10**6, np.random.default_rng(0))
    if not preds:
        return {"so_time": float("nan")}
    rng = np.random.default_rng(0)
    on_train = so.matches(preds, col(train))
    attack = np.mean([(on_train[:, rng.choice(len(train), len(holdout), replace=False)]
                       .sum(axis=1) == 1).mean() for _ in range(SUBSAMPLES)])
    control = (so.matches(preds, col(holdout)).sum(axis=1) == 1).mean()
    return {"so_time": float(attack - control)}


def run_variant(variant: str, tables: list[str], seeds: list[int],
                search_seconds: float) -> list[dict[str, Any]]:
    """Every (table, seed) cell with the smoothing set as ``variant`` says (restored after)."""
    smoothing, survival = params.RARE_SMOOTHING, params.SurvivalStep
    if variant == "off":
        params.RARE_SMOOTHING = 0.0
    if variant == "survival_raw":
        params.SurvivalStep = lambda _smoothing: SurvivalStep()  # type: ignore[misc]
    try:
        rows = []
        for table in tables:
            for seed in seeds:
                for cell in run_cell(table, seed, {"seconds": search_seconds},
                                     time_singling_out):
                    rows.append({"variant": variant, **{k: cell.get(k) for k in KEEP}})
                    print(rows[-1], flush=True)
        return rows
    finally:
        params.RARE_SMOOTHING, params.SurvivalStep = smoothing, survival  # type: ignore[misc]


def summarise(results: pd.DataFrame) -> str:
    ok = results.dropna(subset=["c_tstr", "c_trtr"]).copy()
    ok["gap"] = ok["c_tstr"] - ok["c_trtr"]
    fits = ok.groupby(["variant", "table", "seed"], sort=False)["gap"].mean()
    off = fits.loc["off"] if "off" in fits.index.get_level_values(0) else None
    lines = ["| variant | pairs | gap (mean ± se) | vs off (paired) | c ok | km ok | detection "
             "| SO time |", "|---|---:|---:|---:|---:|---:|---:|---:|"]
    for variant, part in ok.groupby("variant", sort=False):
        per_fit = fits.loc[variant]
        se = per_fit.std(ddof=1) / np.sqrt(len(per_fit))
        paired = "–"
        if off is not None and variant != "off":
            diff = (per_fit - off).dropna()
            paired = f"{diff.mean():+.4f} ± {diff.std(ddof=1) / np.sqrt(len(diff)):.4f}"
        lines.append(
            f"| {variant} | {len(part)} | {per_fit.mean():+.4f} ± {se:.4f} | {paired} | "
            f"{int((part['gap'].abs() <= 0.02).sum())} | "
            f"{int((part['km_syn'] <= part['km_hold']).sum())} | "
            f"{part.drop_duplicates(['table', 'seed'])['detection'].mean():.3f} | "
            f"{part['so_time'].mean():+.3f} |")
    lines += ["", "Per table and pair (C-index TSTR, mean over seeds; TRTR beside):", "",
              "| table | pair | TRTR | " + " | ".join(ok["variant"].unique()) + " |",
              "|---|---|---:|" + "---:|" * ok["variant"].nunique()]
    for (table, pair), part in ok.groupby(["table", "pair_name"], sort=False):
        means = part.groupby("variant", sort=False)["c_tstr"].mean()
        lines.append(f"| {table} | {pair} | {part['c_trtr'].mean():.3f} | "
                     + " | ".join(f"{means.get(v, float('nan')):.3f}"
                                  for v in ok["variant"].unique()) + " |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--tables", nargs="+", default=TABLES)
    parser.add_argument("--variants", nargs="+", choices=VARIANTS, default=VARIANTS)
    parser.add_argument("--search-seconds", type=float, default=20.0)
    parser.add_argument("--out", type=Path,
                        default=ROOT / "benchmarks" / "results" / "survival_smoothing.md")
    args = parser.parse_args()
    start = time.perf_counter()
    rows = [row for v in args.variants
            for row in run_variant(v, args.tables, args.seeds, args.search_seconds)]
    results = pd.DataFrame(rows)
    results.to_csv(args.out.with_suffix(".csv"), index=False)
    command = (".venv/bin/python benchmarks/survival_smoothing.py --seeds "
               + " ".join(map(str, args.seeds)) + " --tables " + " ".join(args.tables)
               + " --variants " + " ".join(args.variants)
               + f" --search-seconds {args.search_seconds:g}")
    header = seeds_line(args.seeds, start)
    lines = report_head("Calibration smoothing and survival utility (issues 25, 26)", command,
                        header, __doc__)
    args.out.write_text("\n".join(lines) + "\n" + summarise(results) + "\n")
    print(summarise(results))


if __name__ == "__main__":
    main()
