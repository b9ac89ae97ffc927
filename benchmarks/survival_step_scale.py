"""The survival step at 100,000 rows: fit and inverse time and peak memory, smoothing off and on.

Run:  PYTHONPATH=src .venv/bin/python benchmarks/survival_step_scale.py [--rows 100000]
      [--seed 0] [--out benchmarks/results/survival_step_scale.md]

Value protection smooths each (class, event) cell's table of times
(``SurvivalStep(smoothing=1.0)``, the pipeline's default with ``protect``): a kNN kernel per
rare time, on a binned grid. This times the step alone on a seeded cohort (two arms, event times
exponential with arm-dependent means, uniform censoring after day 100, times in whole days, so
the cells hold both repeated and rare times): ``fit_table`` on every row, then
``inverse_table`` of the fitted scores, each the best of 3 runs, and the peak traced memory
(``tracemalloc``) of one fit and inverse.

Writes the report to ``--out``.
"""

from __future__ import annotations

import argparse
import sys
import time
import tracemalloc
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from report_head import report_head  # noqa: E402

from clinisynth.schema import infer_schema  # noqa: E402
from clinisynth.steps.survival import SurvivalStep  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


def cohort(n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    arm = rng.choice(["A", "B"], n)
    event_time = rng.exponential(np.where(arm == "B", 150, 400))
    censor = rng.uniform(100, 3000, n)
    return pd.DataFrame({"marker": rng.normal(0, 1, n), "arm": arm,
                         "time": np.minimum(event_time, censor).round().astype(int),
                         "status": (event_time <= censor).astype(int)})


def measure(df: pd.DataFrame, smoothing: float) -> dict[str, float]:
    schema = infer_schema(df, "arm")
    fits, inverses = [], []
    for _ in range(3):
        t0 = time.perf_counter()
        step = SurvivalStep(smoothing).fit_table(df, schema)
        fits.append(time.perf_counter() - t0)
        model = step.transform_table(df)
        t0 = time.perf_counter()
        step.inverse_table(model, np.random.default_rng(0))
        inverses.append(time.perf_counter() - t0)
    tracemalloc.start()
    step = SurvivalStep(smoothing).fit_table(df, schema)
    step.inverse_table(step.transform_table(df), np.random.default_rng(0))
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return {"fit_s": min(fits), "inverse_s": min(inverses), "peak_mb": peak / 2**20,
            "cells": len(step.cells_), "table_values": sum(len(v) for v in step.values_)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path,
                        default=ROOT / "benchmarks" / "results" / "survival_step_scale.md")
    args = parser.parse_args()
    df = cohort(args.rows, args.seed)
    lines = ["| smoothing | fit (s) | inverse (s) | peak traced memory (MB) | cells | values "
             "in the tables |", "|---|---:|---:|---:|---:|---:|"]
    for smoothing in (0.0, 1.0):
        r = measure(df, smoothing)
        lines.append(f"| {smoothing:g} | {r['fit_s']:.3f} | {r['inverse_s']:.3f} | "
                     f"{r['peak_mb']:.1f} | {r['cells']} | {r['table_values']} |")
    command = (f"PYTHONPATH=src .venv/bin/python benchmarks/survival_step_scale.py --rows "
               f"{args.rows} --seed {args.seed}")
    head = report_head("The survival step at scale (issue 25)", command,
                       f"{args.rows:,} rows, seed {args.seed}; 2 cores.", __doc__)
    args.out.write_text("\n".join(head + lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
