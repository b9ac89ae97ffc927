"""Two runs of ``survival_generalisation.py`` compared on some tables: per table, before and
after, and the paired change per (table, seed, pair).

Per table (means over seeds; "ok" counts (seed, pair) cells): KM distance within the
holdout's, C-index within 0.02 of train-on-real, detection AUC and, where both runs have it,
the share of synthetic rows breaking a nested duration (``nested_broken``); then the script's
own paired section (:func:`survival_generalisation.paired`) on those tables only.

Run:  .venv/bin/python benchmarks/survival_paired.py --baseline EARLIER.csv --tables NAME ...
      [--now benchmarks/results/survival_generalisation.csv] [--out PATH]
Writes --out (default benchmarks/results/survival_paired.md).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))

from report_head import command_line, report_head  # noqa: E402
from survival_generalisation import paired, read_results  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


def per_table(now: pd.DataFrame, before: pd.DataFrame, tables: list[str]) -> list[str]:
    lines = ["| table | run | KM ok | C ok | detection | nested broken (max) |",
             "|---|---|---:|---:|---:|---:|"]
    for table in tables:
        for label, frame in (("before", before), ("now", now)):
            rows = frame[frame["table"] == table]
            scored = rows.dropna(subset=["km_syn"])
            first = rows.drop_duplicates("seed")
            nested = (f"{first['nested_broken'].max():.1%}" if "nested_broken" in first
                      and first["nested_broken"].notna().any() else "–")
            lines.append(f"| {table} | {label} | {int(scored['km_ok'].astype(bool).sum())}/"
                         f"{len(scored)} | {int(scored['c_ok'].astype(bool).sum())}/"
                         f"{len(scored)} | {first['detection'].mean():.3f} | {nested} |")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--now", type=Path,
                        default=ROOT / "benchmarks" / "results" / "survival_generalisation.csv")
    parser.add_argument("--baseline", type=Path, required=True)
    parser.add_argument("--tables", nargs="+", required=True)
    parser.add_argument("--out", type=Path,
                        default=ROOT / "benchmarks" / "results" / "survival_paired.md")
    args = parser.parse_args()
    now, before = read_results(args.now), read_results(args.baseline)
    now, before = (f[f["table"].isin(args.tables)] for f in (now, before))
    head = report_head("Survival generalisation, two runs compared (issue 26)", command_line(),
                       f"Now: {args.now.name}; before: {args.baseline.name}.", __doc__)
    body = per_table(now, before, args.tables) + [paired(now, before, args.baseline.name)]
    args.out.write_text("\n".join(head + body) + "\n")
    print("\n".join(body))


if __name__ == "__main__":
    main()
