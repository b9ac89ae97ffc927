"""Recorded precision (issue 26): the share of values on each resolution, real vs synthetic.

Protocol per seed: 70/30 split of flchain (bundled; stratified by ``death``,
``random_state=seed``); the default hybrid fits on the 70 % with ``seed`` and samples as many
rows. For every numeric column with a recorded step ``s`` (:func:`learn_step` on the training
rows) and each level ``s·10^j`` (``j = 0..3``, up to the column's largest value), the share of
training and synthetic values that are multiples of it. Target: within 0.05 for every column
and level (flchain's ``kappa`` and ``lambda`` are recorded at 0.01 and at 0.001).

Run:  .venv/bin/python benchmarks/precision_mix.py [--seeds 0 1 2] [--dataset flchain]
Writes benchmarks/results/precision_mix.md.
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from decimal import Decimal
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.model_selection import train_test_split

sys.path.insert(0, str(Path(__file__).resolve().parent))

from report_head import report_head  # noqa: E402

from clinisynth import HybridSynthesizer  # noqa: E402
from clinisynth.datasets import load_dataset  # noqa: E402
from clinisynth.rules.precision import learn_step  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
TOLERANCE = 0.05


def share_on(x: np.ndarray, level: float) -> float:
    x = x[np.isfinite(x)]
    return float(np.mean(np.abs(x / level - np.round(x / level)) < 1e-6)) if x.size else 0.0


def run(df: pd.DataFrame, target: str, seed: int) -> list[dict]:
    train, _ = train_test_split(df, test_size=0.3, stratify=df[target], random_state=seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fake = HybridSynthesizer(seed=seed).fit(train, target).sample(len(train), seed=seed)
    rows = []
    for col in df.columns:
        if col == target or df[col].dtype.kind not in "fi" or df[col].nunique() <= 2:
            continue
        real = train[col].to_numpy(dtype=float)
        step = learn_step(real)
        if step <= 0:
            continue
        for j in range(4):
            level = float(Decimal(str(step)) * Decimal(10) ** j)
            if level > np.nanmax(np.abs(real)):
                break
            r, s = share_on(real, level), share_on(fake[col].to_numpy(dtype=float), level)
            rows.append({"seed": seed, "column": col, "level": level, "real": r,
                         "synthetic": s, "diff": s - r})
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--dataset", default="flchain")
    parser.add_argument("--out", type=Path,
                        default=ROOT / "benchmarks" / "results" / "precision_mix.md")
    args = parser.parse_args()
    start = time.perf_counter()
    df, target = load_dataset(args.dataset)[:2]
    results = pd.DataFrame([r for seed in args.seeds for r in run(df, target, seed)])
    table = results.pivot_table(index=["column", "level"], columns="seed",
                                values=["real", "synthetic"])
    lines = ["| column | level | real (per seed) | synthetic (per seed) | largest gap |",
             "|---|---:|---|---|---:|"]
    for (col, level), row in table.iterrows():
        gap = float(np.max(np.abs(row["synthetic"].to_numpy() - row["real"].to_numpy())))
        lines.append(f"| {col} | {level:g} | "
                     + " / ".join(f"{v:.3f}" for v in row["real"]) + " | "
                     + " / ".join(f"{v:.3f}" for v in row["synthetic"])
                     + f" | {gap:.3f}{'' if gap <= TOLERANCE else ' ✗'} |")
    worst = float(results["diff"].abs().max())
    verdict = (f"Largest gap over every column, level and seed: {worst:.3f} "
               f"({'within' if worst <= TOLERANCE else 'beyond'} {TOLERANCE}).")
    command = (f".venv/bin/python benchmarks/precision_mix.py --seeds "
               f"{' '.join(map(str, args.seeds))} --dataset {args.dataset}")
    head = report_head("Recorded precision (issue 26)", command,
                       f"Seeds {', '.join(map(str, args.seeds))}; dataset {args.dataset}; "
                       f"{time.perf_counter() - start:.0f} s on 2 cores.", __doc__)
    args.out.write_text("\n".join(head) + "\n" + verdict + "\n\n" + "\n".join(lines) + "\n")
    print(verdict)
    print("\n".join(lines))


if __name__ == "__main__":
    main()
