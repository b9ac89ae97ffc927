"""Issue 12 check: rules that hold on every training row, before and after the rules step.

Protocol, per seed: a stratified 70/30 split of the table (``random_state=seed``);
the default ``HybridSynthesizer(seed=seed)`` is fitted on the 70 % twice, without the rules step
(``rules=False``) and with it (the default), and samples as many rows as the 70 % holds. The
rules counted are those :class:`~clinisynth.rules.RulesStep` discovers on the 70 % (each holds on
100 % of training rows); a synthetic row "violates" when it breaks at least one. The audit
(:func:`clinisynth.audit.audit`, seed = the split's seed) scores each table against the 30 %.

Tables: ``breast_cancer`` (bundled) and ``flchain`` (scikit-survival's copy; ``death`` is the
target, ``futime`` an ordinary column here; ``flc.grp`` and ``sample.yr`` as integers). For
flchain the script also reports the share of synthetic numeric cells off their column's recorded
step and the share of rows whose ``flc.grp`` disagrees with the binning of ``kappa + lambda``
learned on the training rows.

Run:  PYTHONPATH=src .venv/bin/python benchmarks/rules_check.py [--table breast_cancer]
      [--seeds 0 1 2] [--out DIR]
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
from clinisynth.schema import infer_schema
from clinisynth.schema.rules import InequalityRule
from clinisynth.steps.rules import RulesStep

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


def load_flchain() -> tuple[pd.DataFrame, str]:
    """flchain from scikit-survival (no network): ``death`` as the class column."""
    from sksurv.datasets import load_flchain as load

    X, y = load()
    df = X.copy()
    for col in df.select_dtypes("category"):
        text = col in ("chapter", "sex", "mgus")
        df[col] = df[col].astype(object) if text else df[col].astype(int)
    df["futime"] = y["futime"].astype(float)
    df["death"] = y["death"].astype(int)
    return df, "death"


def off_precision(rules: RulesStep, frame: pd.DataFrame) -> float:
    """Share of numeric cells that are not multiples of their column's learned step."""
    off, total = 0, 0
    for name, step in rules.steps_.items():
        if step <= 0:
            continue
        x = frame[name].dropna().to_numpy(dtype=float)
        off += int((np.abs(x / step - np.round(x / step)) > 1e-6).sum())
        total += x.size
    return off / max(total, 1)


def family_share(rules: RulesStep, frame: pd.DataFrame, kind: str) -> float:
    """Share of rows breaking a rule of type ``kind``."""
    bad = np.zeros(len(frame), dtype=bool)
    for rule in rules.rules_:
        if rule.type == kind:
            bad |= rule.violated(frame)
    return float(bad.mean())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results"))
    parser.add_argument("--table", choices=["breast_cancer", "flchain"], default="breast_cancer")
    args = parser.parse_args()
    df, target = load_flchain() if args.table == "flchain" else load_dataset(args.table)
    rows = []
    for seed in args.seeds:
        train, holdout = train_test_split(df, test_size=0.3, stratify=df[target],
                                          random_state=seed)
        train, holdout = train.reset_index(drop=True), holdout.reset_index(drop=True)
        reference = RulesStep().fit_table(train, infer_schema(train, target))
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
                "binning_broken_rows": family_share(reference, fake, "binning"),
                "cells_off_precision": off_precision(reference, fake),
                "redrawn_for_rules": syn.rules_report_["redrawn"],
                "left_after_redraws": syn.rules_report_["remaining"],
                **{k: head[k] for k in KEYS}, "fit_sample_seconds": round(seconds, 1)})
            print({k: (round(v, 4) if isinstance(v, float) else v) for k, v in rows[-1].items()},
                  flush=True)
    table = pd.DataFrame(rows)
    args.out.mkdir(parents=True, exist_ok=True)
    stem = "rules_check" if args.table == "breast_cancer" else f"rules_check_{args.table}"
    table.to_csv(args.out / f"{stem}.csv", index=False)
    numbers = [c for c in table.columns if c not in ("seed", "variant")]
    mean = table.groupby("variant", sort=False)[numbers].mean()
    std = table.groupby("variant", sort=False)[numbers].std(ddof=1)
    lines = [f"# Rules check: {args.table}, 70/30 split, seeds {args.seeds}", "",
             "Mean ± sd over seeds (`benchmarks/rules_check.py`).", "",
             "| variant | " + " | ".join(numbers) + " |", "|---" * (len(numbers) + 1) + "|"]
    for variant in mean.index:
        cells = [f"{mean.loc[variant, c]:.4g} ± {std.loc[variant, c]:.2g}"
                 if len(args.seeds) > 1 else f"{mean.loc[variant, c]:.4g}" for c in numbers]
        lines.append(f"| {variant} | " + " | ".join(cells) + " |")
    (args.out / f"{stem}.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
