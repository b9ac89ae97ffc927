"""Seconds of the default audit on breast cancer (70/30 split, seed 0, gmm-only hybrid sample).

    PYTHONPATH=src python benchmarks/audit_timing.py

Prints the audit's own per-section timings (``meta["seconds"]``) and the wall-clock total.
"""

from __future__ import annotations

import json
import time

from sklearn.model_selection import train_test_split

from clinisynth import HybridSynthesizer
from clinisynth.audit import audit
from clinisynth.datasets import load_dataset


def main() -> None:
    df, target = load_dataset("breast_cancer")
    train, holdout = train_test_split(df, test_size=0.3, random_state=0, stratify=df[target])
    train, holdout = train.reset_index(drop=True), holdout.reset_index(drop=True)
    synthetic = HybridSynthesizer(weights="gmm", seed=0).fit(train, target).sample(len(train))
    for _ in range(2):  # the first run pays imports and caches
        start = time.perf_counter()
        result = audit(train, holdout, synthetic, target=target, seed=0)
        wall = time.perf_counter() - start
    print(json.dumps({"wall_seconds": round(wall, 2), **result.meta["seconds"]}))


if __name__ == "__main__":
    main()
