"""Issue 27 empirical privacy audit: a lower bound on ε from a canary, next to the stated ε.

Protocol (repeated fits with and without the canary, as in Jagielski et al. 2020 and Nasr et
al. 2021): the Pima table (``../shared/datasets/pima_diabetes.csv``; a seeded stand-in with the
same columns when it is absent) with every column's range and categories declared public, so
that no budget goes to the domain and the canary's value lands where no real patient is. The
canary is one extra patient with ``glu`` = 480 (the public range is 0-500; real values stop
near 200) and the rarer class. ``--fits`` models are fitted on the table with the canary and as
many without it, each with its own seed, at the stated (ε, δ); each draws ``--rows`` rows.

The attacker's score is the number of synthetic rows whose ``glu`` lies in the canary's bin
(450-500): a patient there raises the noisy histogram, pair and triple counts the sampler
follows. For every threshold ``t`` on the score, with ``TPR = P(score >= t | canary)`` and
``FPR = P(score >= t | no canary)`` bounded by 95 % Clopper-Pearson intervals (Bonferroni over
the thresholds tried), ``(ε, δ)``-DP requires ``TPR <= e^ε·FPR + δ`` and
``1 - FPR <= e^ε·(1 - TPR) + δ``, so ``ε >= ln((TPR_low - δ) / FPR_high)`` and
``ε >= ln((1 - FPR_high - δ) / (1 - TPR_high))``: the largest such bound is the empirical lower
bound. It
must never exceed the stated ε; with a few hundred fits it cannot reach far above
``ln(fits)``, so it is loose by design at large ε (reported as it is).

Run:  .venv/bin/python benchmarks/dp_audit.py [--epsilons 1 10] [--fits 300] [--rows 1000]
Writes benchmarks/results/dp_audit.md.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.stats import beta

sys.path.insert(0, str(Path(__file__).resolve().parent))

from report_head import report_head  # noqa: E402

from clinisynth import HybridSynthesizer  # noqa: E402
from clinisynth.schema import TableSchema, infer_schema  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "datasets"
CANARY_GLU, BIN = 480.0, (450.0, 500.0)
DELTA = 1e-6
CONFIDENCE = 0.95


def table() -> tuple[pd.DataFrame, str]:
    path = SHARED / "pima_diabetes.csv"
    if path.is_file():
        return pd.read_csv(path), "type"
    rng = np.random.default_rng(0)
    n = 532
    return pd.DataFrame({"npreg": rng.integers(0, 15, n), "glu": rng.integers(60, 200, n),
                         "bp": rng.integers(40, 110, n), "skin": rng.integers(10, 60, n),
                         "bmi": np.round(rng.normal(32, 6, n), 1),
                         "ped": np.round(rng.lognormal(-0.8, 0.6, n), 3),
                         "age": rng.integers(21, 80, n),
                         "type": rng.choice(["No", "Yes"], n, p=[0.67, 0.33])}), "type"


def public_schema(df: pd.DataFrame, target: str) -> TableSchema:
    data = infer_schema(df, target).to_dict()
    for col in data["columns"]:
        if col["kind"] in ("continuous", "integer"):
            lo, hi = float(df[col["name"]].min()), float(df[col["name"]].max())
            col["public_min"], col["public_max"] = math.floor(lo), math.ceil(hi * 1.5)
        else:
            col["public_categories"] = list(col["categories"])
        if col["name"] == "glu":
            col["public_min"], col["public_max"] = 0.0, 500.0
            col["max"] = 500.0
    return TableSchema.from_dict(data)


def scores(df: pd.DataFrame, schema: TableSchema, epsilon: float, fits: int, rows: int,
           offset: int) -> np.ndarray:
    out = np.zeros(fits)
    for i in range(fits):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            syn = HybridSynthesizer(epsilon=epsilon, delta=DELTA, seed=offset + i)
            fake = syn.fit(df, schema=schema).sample(rows, seed=offset + i)
        glu = fake["glu"].to_numpy(dtype=float)
        out[i] = np.sum((glu >= BIN[0]) & (glu <= BIN[1]))
    return out


def lower_bound(with_canary: np.ndarray, without: np.ndarray) -> tuple[float, float]:
    """The largest ε lower bound over thresholds (Clopper-Pearson, Bonferroni), and its
    threshold."""
    thresholds = np.unique(np.concatenate([with_canary, without]))
    alpha = (1 - CONFIDENCE) / max(len(thresholds), 1)
    n1, n0 = len(with_canary), len(without)
    best, where = 0.0, float("nan")
    for t in thresholds:
        k1, k0 = int(np.sum(with_canary >= t)), int(np.sum(without >= t))
        tpr_low = beta.ppf(alpha / 2, k1, n1 - k1 + 1) if k1 > 0 else 0.0
        tpr_high = beta.ppf(1 - alpha / 2, k1 + 1, n1 - k1) if k1 < n1 else 1.0
        fpr_high = beta.ppf(1 - alpha / 2, k0 + 1, n0 - k0) if k0 < n0 else 1.0
        bounds = []
        if fpr_high > 0 and tpr_low - DELTA > 0:
            bounds.append(math.log((tpr_low - DELTA) / fpr_high))
        if 1 - tpr_high > 0 and (1 - fpr_high) - DELTA > 0:
            bounds.append(math.log(((1 - fpr_high) - DELTA) / (1 - tpr_high)))
        if bounds and max(bounds) > best:
            best, where = max(bounds), float(t)
    return best, where


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epsilons", type=float, nargs="+", default=[1.0, 10.0])
    parser.add_argument("--fits", type=int, default=300)
    parser.add_argument("--rows", type=int, default=1000)
    parser.add_argument("--out", type=Path,
                        default=ROOT / "benchmarks" / "results" / "dp_audit.md")
    args = parser.parse_args()
    start = time.perf_counter()
    df, target = table()
    canary = df.iloc[[0]].copy()
    canary["glu"] = CANARY_GLU
    canary[target] = df[target].value_counts().idxmin()
    with_canary = pd.concat([df, canary], ignore_index=True)
    schema = public_schema(with_canary, target)
    lines = ["| stated ε | δ | fits per side | mean score with / without canary | "
             "empirical ε lower bound (95 %) | threshold | within stated ε |",
             "|---:|---:|---:|---|---:|---:|---|"]
    for eps in args.epsilons:
        a = scores(with_canary, schema, eps, args.fits, args.rows, 0)
        b = scores(df, schema, eps, args.fits, args.rows, 10**6)
        bound, t = lower_bound(a, b)
        lines.append(f"| {eps:g} | {DELTA:g} | {args.fits} | {a.mean():.2f} / {b.mean():.2f} | "
                     f"{bound:.3f} | {t:g} | {'yes' if bound <= eps else 'NO'} |")
        print(lines[-1], flush=True)
    command = (".venv/bin/python benchmarks/dp_audit.py --epsilons "
               + " ".join(f"{e:g}" for e in args.epsilons)
               + f" --fits {args.fits} --rows {args.rows}")
    head = report_head("Empirical DP audit (issue 27)", command,
                       f"Fit seeds 0..{args.fits - 1} (with the canary) and 10^6.. (without); "
                       f"{time.perf_counter() - start:.0f} s on 2 cores.", __doc__)
    args.out.write_text("\n".join(head) + "\n" + "\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
