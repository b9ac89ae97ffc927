"""Issue 12 check: rules that hold on every training row, before and after the rules step.

Protocol, per seed: a stratified 70/30 split of the breast-cancer table (``random_state=seed``);
the default ``HybridSynthesizer(seed=seed)`` is fitted on the 70 % twice, without the rules step
(``rules=False``) and with it (the default), and samples as many rows as the 70 % holds. The
rules counted are those :class:`~clinisynth.rules.RulesStep` discovers on the 70 % (each holds on
100 % of training rows); a synthetic row "violates" when it breaks at least one. The audit
(:func:`clinisynth.audit.audit`, seed = the split's seed) scores each table against the 30 %.

Run:  PYTHONPATH=src .venv/bin/python benchmarks/rules_check.py [--seeds 0 1 2] [--out DIR]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.model_selection import train_test_split

from clinisynth import HybridSynthesizer
from clinisynth.audit import audit
from clinisynth.datasets import load_dataset
from clinisynth.rules import RulesStep
from clinisynth.rules.types import InequalityRule
from clinisynth.schema import infer_schema

KEYS = ("ks_mean", "detection_auc", "tstr_accuracy", "tstr_f1", "trtr_accuracy", "dcr_share",
        "privacy_loss")


def worst_over_mean(rules: RulesStep, frame: pd.DataFrame) -> float:
    """Share of rows breaking one of the ``mean X <= worst X`` rules."""
    family = [r for r in rules.rules_ if isinstance(r, InequalityRule)
              and r.left.startswith("mean ") and r.right == "worst " + r.left[5:]]
    bad = np.zeros(len(frame), dtype=bool)
    for rule in family:
        bad |= rule.violated(frame)
    return float(bad.mean())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results"))
    args = parser.parse_args()
    df, target = load_dataset("breast_cancer")
    rows = []
    for seed in args.seeds:
        train, holdout = train_test_split(df, test_size=0.3, stratify=df[target],
                                          random_state=seed)
        train, holdout = train.reset_index(drop=True), holdout.reset_index(drop=True)
        reference = RulesStep().fit(train, infer_schema(train, target))
        assert not reference.violations(train).any()
        for variant, use_rules in (("before (no rules step)", False), ("after (rules step)", True)):
            start = time.perf_counter()
            syn = HybridSynthesizer(seed=seed, rules=use_rules).fit(train, target)
            fake = syn.sample(len(train))
            seconds = time.perf_counter() - start
            head = audit(train, holdout, fake, target=target, seed=seed).headline()
            rows.append({
                "seed": seed, "variant": variant, "rules": len(reference.rules_),
                "violating_rows": float(reference.violations(fake).mean()),
                "worst_lt_mean_rows": worst_over_mean(reference, fake),
                "redrawn_for_rules": syn.rules_report_["redrawn"],
                "left_after_redraws": syn.rules_report_["remaining"],
                **{k: head[k] for k in KEYS}, "fit_sample_seconds": round(seconds, 1)})
            print({k: (round(v, 4) if isinstance(v, float) else v) for k, v in rows[-1].items()},
                  flush=True)
    table = pd.DataFrame(rows)
    args.out.mkdir(parents=True, exist_ok=True)
    table.to_csv(args.out / "rules_check.csv", index=False)
    numbers = [c for c in table.columns if c not in ("seed", "variant")]
    mean = table.groupby("variant", sort=False)[numbers].mean()
    std = table.groupby("variant", sort=False)[numbers].std(ddof=1)
    lines = [f"# Rules check: breast cancer, 70/30 split, seeds {args.seeds}", "",
             "Mean ± sd over seeds (`benchmarks/rules_check.py`).", "",
             "| variant | " + " | ".join(numbers) + " |", "|---" * (len(numbers) + 1) + "|"]
    for variant in mean.index:
        cells = [f"{mean.loc[variant, c]:.4g} ± {std.loc[variant, c]:.2g}"
                 if len(args.seeds) > 1 else f"{mean.loc[variant, c]:.4g}" for c in numbers]
        lines.append(f"| {variant} | " + " | ".join(cells) + " |")
    (args.out / "rules_check.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
