"""What the privacy guard's redraws cost in fidelity: the default hybrid with and without it.

Breast cancer, 70/30 stratified split (random_state 0), model seed 0, as many synthetic rows as
training rows (sample seed 0). Prints mean KS of the synthetic rows against the training rows
and against the held-out rows, beside the held-out rows' own KS to the training rows (the level
a fresh sample of real patients reaches), and how many first draws the guard refused.

    PYTHONPATH=src .venv/bin/python benchmarks/guard_fidelity.py
"""

from __future__ import annotations

import time

from sklearn.model_selection import train_test_split

from clinisynth import HybridSynthesizer
from clinisynth.audit.fidelity import ks_mean
from clinisynth.datasets import load_dataset
from clinisynth.schema import infer_schema


def main() -> None:
    df, target = load_dataset("breast_cancer")
    train, holdout = train_test_split(df, test_size=0.3, stratify=df[target], random_state=0)
    schema = infer_schema(train, target)
    baseline = ks_mean(train, holdout, schema)
    for guard in (True, False):
        start = time.perf_counter()
        syn = HybridSynthesizer(seed=0, privacy_guard=guard).fit(train, target)
        fake = syn.sample(len(train), seed=0)
        refused = syn.guard_report_.refused if syn.guard_report_ is not None else 0
        print(f"guard {'on ' if guard else 'off'}: KS vs train {ks_mean(train, fake, schema):.4f}"
              f", vs holdout {ks_mean(holdout, fake, schema):.4f} (holdout vs train "
              f"{baseline:.4f}); first draws refused {refused}; "
              f"{time.perf_counter() - start:.0f} s", flush=True)


if __name__ == "__main__":
    main()
