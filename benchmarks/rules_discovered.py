"""Rules and recorded precision discovered on each real table, and the discovery's speed.

Tables: breast cancer (bundled), every CSV in ``../shared/datasets`` (target: the first of
``died``, ``status``, ``type`` that the table has), flchain (scikit-survival, ``death`` as
target) and a seeded 100,000-row table with planted rules (timing at scale). For each: the
rules :class:`~clinisynth.rules.RulesStep` finds on all rows, the candidates skipped by reason,
each numeric column's learned step, and the seconds the discovery and the step's fit took.

Run:  PYTHONPATH=src .venv/bin/python benchmarks/rules_discovered.py [--out DIR]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import pandas as pd
from rules_check import load_flchain  # benchmarks/ is on the path when run as a script

from clinisynth.datasets import load_dataset
from clinisynth.schema import infer_schema
from clinisynth.steps.rules import RulesStep

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "datasets"
TARGETS = ("died", "status", "type")


def planted(n: int = 100_000, seed: int = 0) -> pd.DataFrame:
    """20 numeric and 7 discrete columns with 5 planted rules, for timing at scale."""
    rng = np.random.default_rng(seed)
    d: dict[str, np.ndarray] = {f"x{i}": rng.normal(50, 10, n).round(1) for i in range(10)}
    d["x1"] = (d["x0"] + rng.gamma(2, 2, n)).round(1)
    d["height"] = rng.normal(170, 10, n).round(0)
    d["weight"] = rng.normal(75, 12, n).round(1)
    d["bmi"] = (d["weight"] / (d["height"] / 100) ** 2).round(1)
    d["total"] = d["x2"] + d["x3"]
    for i in range(5):
        d[f"c{i}"] = rng.choice(list("abcd"), n)
    d["grp"] = np.digitize(d["x4"], [40, 50, 60])
    d["y"] = rng.choice(["yes", "no"], n)
    d["cause"] = np.where(d["y"] == "yes", rng.choice(["heart", "cancer"], n), None)
    return pd.DataFrame(d)


def tables() -> dict[str, tuple[pd.DataFrame, str | None]]:
    """Name → (table, target); the target is None where the table has none of ``TARGETS``
    (a linked child table such as pbcseq's visits): a row with the reason, not a crash."""
    out: dict[str, tuple[pd.DataFrame, str | None]] = {
        "breast_cancer": load_dataset("breast_cancer")}
    for path in sorted(SHARED.glob("*.csv")):
        df = pd.read_csv(path)
        out[path.stem] = (df, next((t for t in TARGETS if t in df.columns), None))
    out["flchain"] = load_flchain()
    out["planted_100k"] = (planted(), "y")
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results"))
    args = parser.parse_args()
    lines = ["# Rules discovered on each table", "",
             "From `benchmarks/rules_discovered.py` (all rows of each table; no randomness).", ""]
    for name, (df, target) in tables().items():
        if target is None:
            lines += [f"## {name} ({df.shape[0]} rows × {df.shape[1]} columns)", "",
                      f"Not run: no column named {', '.join(TARGETS)} to use as the target.",
                      ""]
            continue
        schema = infer_schema(df, target)
        start = time.perf_counter()
        step = RulesStep().fit_table(df, schema)
        seconds = time.perf_counter() - start
        report = step.report()
        found = report["discovery"]
        lines.append(f"## {name} ({df.shape[0]} rows × {df.shape[1]} columns, target "
                     f"`{target}`)")
        lines.append("")
        lines.append(f"Discovery {sum(found['seconds'].values()):.2f} s, step fit "
                     f"{seconds:.2f} s; {len(report['rules'])} rules.")
        lines.append("")
        for rule in report["rules"]:
            lines.append(f"- {rule['rule']} — {rule['enforced']}")
        skipped = ", ".join(f"{k}: {v}" for k, v in found["skipped"].items()) or "none"
        lines.append(f"- skipped candidates: {skipped}")
        steps = ", ".join(f"{k} {v:g}" for k, v in report["precision"].items())
        lines.append(f"- recorded precision: {steps}")
        lines.append("")
        print(f"{name}: {len(report['rules'])} rules, {seconds:.2f} s", flush=True)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "rules_discovered.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
