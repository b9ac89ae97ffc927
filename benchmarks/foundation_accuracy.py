"""Issue 2 check: train-on-synthetic accuracy on the breast-cancer table, per generator.

Protocol: 70/30 stratified split (seed 0); each synthesizer fits on the 70% and samples 1,000
rows; a random forest (seed 0) trained on those rows is scored on the 30% it never saw. Also
counts synthetic rows identical to a training row, and rows the privacy guard refused. The issue-2
foundation is measured as it was built: fixed weights, no calibration, guard on and off.

Run:  .venv/bin/python benchmarks/foundation_accuracy.py [--seed 0]
"""

from __future__ import annotations

import argparse
import time

from sklearn.ensemble import RandomForestClassifier
from sklearn.model_selection import train_test_split

from clinisynth import HybridSynthesizer
from clinisynth.datasets import load_dataset
from clinisynth.generators import list_generators


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--rows", type=int, default=1000)
    args = parser.parse_args()
    df, target = load_dataset("breast_cancer")
    train, test = train_test_split(df, test_size=0.3, stratify=df[target], random_state=args.seed)
    rf = RandomForestClassifier(random_state=args.seed)
    real_acc = rf.fit(train.drop(columns=target), train[target]).score(
        test.drop(columns=target), test[target])
    print(f"breast_cancer: train {len(train)}, test {len(test)}, seed {args.seed}")
    print(f"{'synthesizer':<16}{'guard':>6}{'TSTR acc':>10}{'copies':>8}{'refused':>9}"
          f"{'left':>6}{'sec':>7}")
    print(f"{'real (TRTR)':<16}{'':>6}{real_acc:>10.3f}")
    for weights in [*list_generators(), "uniform"]:
        for guard in (True, False):
            start = time.perf_counter()
            syn = HybridSynthesizer(weights=weights, calibration=None, privacy_guard=guard,
                                    seed=args.seed)
            fake = syn.fit(train, target).sample(args.rows)
            seconds = time.perf_counter() - start
            acc = rf.fit(fake.drop(columns=target), fake[target]).score(
                test.drop(columns=target), test[target])
            copies = len(fake.merge(train.drop_duplicates(), how="inner"))
            report = syn.guard_report_
            refused, left = (report.refused, report.remaining) if report else (0, 0)
            print(f"{weights:<16}{'on' if guard else 'off':>6}{acc:>10.3f}{copies:>8}"
                  f"{refused:>9}{left:>6}{seconds:>7.1f}")


if __name__ == "__main__":
    main()
