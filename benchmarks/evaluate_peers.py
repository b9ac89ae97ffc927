"""Issue 3 check: `clinisynth evaluate` on our hybrid and on an SDV GaussianCopula sample.

Protocol: breast-cancer table, stratified 70/30 split (seed 0); each synthesizer fits on the 70%
(seed 0) and samples 398 rows; `clinisynth evaluate` audits each sample against the 70% and the
held-out 30% (audit seed 0), timed as a user would run it (a subprocess, imports included).
Then the scores that SDMetrics also defines (KSComplement, TVComplement, CorrelationSimilarity)
are recomputed with SDMetrics and the largest difference to ours is printed.

Run:  .venv/bin/python benchmarks/evaluate_peers.py       (needs the `peers` extra for SDV)
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from sklearn.model_selection import train_test_split

from clinisynth import HybridSynthesizer
from clinisynth.audit import fidelity as fid
from clinisynth.benchmark.peers import SDVSynthesizer
from clinisynth.datasets import load_dataset
from clinisynth.schema import infer_schema

CLI = Path(sys.executable).with_name("clinisynth")


def sdmetrics_gap(train, synthetic, schema) -> dict[str, float]:
    from sdmetrics.column_pairs import CorrelationSimilarity
    from sdmetrics.single_column import KSComplement, TVComplement

    ks = tv = corr = 0.0
    for col in fid.column_scores(train, synthetic, schema):
        if col.kind in ("continuous", "integer"):
            ks = max(ks, abs((1 - col.ks) - KSComplement.compute(train[col.name],
                                                                 synthetic[col.name])))
        else:
            tv = max(tv, abs((1 - col.tv) - TVComplement.compute(train[col.name],
                                                                 synthetic[col.name])))
    for pair in fid.correlation_pairs(train, synthetic, schema):
        cols = [pair["a"], pair["b"]]
        corr = max(corr, abs(pair["correlation_similarity"]
                             - CorrelationSimilarity.compute(train[cols], synthetic[cols])))
    return {"KSComplement": ks, "TVComplement": tv, "CorrelationSimilarity": corr}


def main() -> None:
    df, target = load_dataset("breast_cancer")
    train, holdout = train_test_split(df, test_size=0.3, stratify=df[target], random_state=0)
    schema = infer_schema(train, target)
    makers = {"hybrid": lambda: HybridSynthesizer(seed=0),
              "gaussian_copula": lambda: SDVSynthesizer("gaussian_copula", seed=0)}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        train.to_csv(tmp / "train.csv", index=False)
        holdout.to_csv(tmp / "holdout.csv", index=False)
        for name, make in makers.items():
            fake = make().fit(train, target).sample(len(train))
            fake.to_csv(tmp / f"{name}.csv", index=False)
            start = time.perf_counter()
            subprocess.run([str(CLI), "evaluate", "--train", tmp / "train.csv", "--holdout",
                            tmp / "holdout.csv", "--synthetic", tmp / f"{name}.csv",
                            "--target", target, "--json", tmp / f"{name}.json", "--html",
                            tmp / f"{name}.html"], check=True, capture_output=True)
            seconds = time.perf_counter() - start
            head = json.loads((tmp / f"{name}.json").read_text())["headline"]
            scores = {k: (v["value"] if isinstance(v, dict) else v) for k, v in head.items()}
            print(f"\n{name}: `clinisynth evaluate` took {seconds:.1f} s (wall, imports included)")
            for key in ("ks_mean", "wasserstein_mean", "pair_trend", "detection_auc",
                        "trtr_accuracy", "tstr_accuracy", "tstr_f1", "dcr_share",
                        "exact_copies", "nnaa_train", "privacy_loss", "mia_auc"):
                print(f"  {key:<18}{scores[key]:.3f}")
            gaps = sdmetrics_gap(train, fake, schema)
            print("  largest |ours - SDMetrics|: "
                  + ", ".join(f"{k} {v:.1e}" for k, v in gaps.items()))


if __name__ == "__main__":
    main()
