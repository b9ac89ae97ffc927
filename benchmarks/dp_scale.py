"""Issue 27 scale check: DP mode fit and sample time and peak memory on a seeded table.

The table: ``--rows`` patients (default 10,000 and 100,000), 12 numeric columns (ages, labs on
log scales, counts, one with 10 % gaps), 6 categorical (2 to 12 levels) and a 3-class outcome
that depends on several of them; generated here from ``seed 0``. Each size is fitted in DP mode
(ε 1, δ 1/(10n)) in a fresh process, one size at a time; peak memory is the process's maximum
resident set size.

Run:  .venv/bin/python benchmarks/dp_scale.py [--rows 10000 100000] [--epsilon 1]
Writes benchmarks/results/dp_scale.md.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
TARGET_SECONDS = 120.0


def table(n: int, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    cols: dict[str, np.ndarray] = {"age": rng.integers(18, 95, n)}
    for i in range(8):
        cols[f"lab{i}"] = np.round(rng.lognormal(1 + i / 4, 0.5, n), 2)
    cols["visits"] = rng.poisson(3, n)
    cols["score"] = np.round(rng.normal(50, 10, n), 1)
    gappy = np.round(rng.normal(120, 15, n), 0)
    gappy[rng.random(n) < 0.1] = np.nan
    cols["sbp"] = gappy
    for i, levels in enumerate((2, 3, 4, 6, 8, 12)):
        cols[f"cat{i}"] = rng.choice([f"c{j}" for j in range(levels)], n)
    risk = (cols["age"] - 55) / 15 + np.log(cols["lab0"]) - 1 + (cols["cat1"] == "c0")
    cols["outcome"] = np.where(risk > 0.8, "severe", np.where(risk > -0.3, "mild", "none"))
    return pd.DataFrame(cols)


def one(n: int, epsilon: float) -> dict:
    from clinisynth import HybridSynthesizer

    df = table(n)
    start = time.perf_counter()
    syn = HybridSynthesizer(epsilon=epsilon, delta=min(1e-6, 1 / (10 * n)), seed=0)
    syn.fit(df, "outcome")
    fit = time.perf_counter() - start
    start = time.perf_counter()
    fake = syn.sample(n, seed=0)
    sample = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"rows": n, "columns": df.shape[1], "fit_seconds": fit, "sample_seconds": sample,
            "peak_mb": peak, "mechanisms": len(syn.ledger_["entries"]),
            "epsilon_spent": syn.ledger_["epsilon_spent"], "rows_out": len(fake)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--epsilon", type=float, default=1.0)
    parser.add_argument("--one", type=int, default=None, help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path,
                        default=ROOT / "benchmarks" / "results" / "dp_scale.md")
    args = parser.parse_args()
    if args.one is not None:
        print(json.dumps(one(args.one, args.epsilon)))
        return
    results = []
    for n in args.rows:
        done = subprocess.run([sys.executable, __file__, "--one", str(n), "--epsilon",
                               str(args.epsilon)], capture_output=True, text=True, check=True)
        results.append(json.loads(done.stdout.strip().splitlines()[-1]))
        print(results[-1], flush=True)
    lines = ["# DP mode at scale (issue 27)", "", "Produced by:", "", "```bash",
             ".venv/bin/python benchmarks/dp_scale.py --rows "
             + " ".join(map(str, args.rows)) + f" --epsilon {args.epsilon:g}", "```", "",
             "Seed 0 for the table and the fit; 2 cores. Target: a 10,000-row table fits in "
             f"under {TARGET_SECONDS:.0f} s.", "",
             "| rows | columns | fit s | sample s | peak MB | mechanisms | ε spent "
             "| within target |",
             "|---:|---:|---:|---:|---:|---:|---:|---|"]
    for r in results:
        ok = "yes" if r["fit_seconds"] < TARGET_SECONDS else "NO"
        lines.append(f"| {r['rows']:,} | {r['columns']} | {r['fit_seconds']:.1f} | "
                     f"{r['sample_seconds']:.1f} | {r['peak_mb']:.0f} | {r['mechanisms']} | "
                     f"{r['epsilon_spent']:.3g} | {ok} |")
    args.out.write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
