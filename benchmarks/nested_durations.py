"""Inner durations bounded by the follow-up: do they scale with it, or end at about the same day?

Issue 26's KM misses sit mostly on inner durations (``inner <= outer``, the outer being a
table's primary survival time), which the rules step models as the share ``inner / outer``.
For every such rule that discovery finds on the survival tables (nothing declared), on the rows
where the inner time ends early (``inner < outer``), this prints the Spearman correlation of
the outer time with the inner time and with the share. A share suits an inner time that scales
with the follow-up (``|ρ(share, outer)|`` low); an early event at about the same days whatever
the follow-up makes the share fall with the outer time (``|ρ(share, outer)|`` high,
``|ρ(inner, outer)|`` low).

Run:  PYTHONPATH=src .venv/bin/python benchmarks/nested_durations.py [--tables ...]
      [--out benchmarks/results/nested_durations.txt]
"""

from __future__ import annotations

import argparse
import sys
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.stats import spearmanr

sys.path.insert(0, str(Path(__file__).resolve().parent))
from survival_tables import TABLES  # noqa: E402

from clinisynth.rules.discovery import discover_rules  # noqa: E402
from clinisynth.schema import infer_schema  # noqa: E402
from clinisynth.schema.rules import InequalityRule  # noqa: E402


def rows_for(name: str) -> list[dict]:
    df, target, _ = TABLES[name]()
    schema = infer_schema(df, target)
    if not schema.survival:
        return []
    outer = schema.survival[0]["time"]
    out = []
    for rule in discover_rules(df[schema.names], schema).rules:
        if not isinstance(rule, InequalityRule) or rule.right != outer:
            continue
        a = pd.to_numeric(df[rule.left], errors="coerce").to_numpy(float)
        b = pd.to_numeric(df[outer], errors="coerce").to_numpy(float)
        early = np.isfinite(a) & np.isfinite(b) & (a < b) & (b > 0)
        if early.sum() < 20:
            continue
        out.append({"table": name, "inner": rule.left, "outer": outer,
                    "early rows": float(early.mean()),
                    "rho(inner, outer)": spearmanr(a[early], b[early]).statistic,
                    "rho(share, outer)": spearmanr(a[early] / b[early], b[early]).statistic})
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tables", nargs="+", default=list(TABLES))
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent / "results"
                        / "nested_durations.txt")
    args = parser.parse_args()
    rows = []
    for name in args.tables:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                rows += rows_for(name)
        except Exception as exc:  # a table that cannot load is named, not fatal
            print(f"skipping {name}: {type(exc).__name__}: {exc}", file=sys.stderr)
    table = pd.DataFrame(rows)
    text = table.round(2).to_string(index=False) if len(table) else "no inner durations"
    args.out.write_text("PYTHONPATH=src .venv/bin/python benchmarks/nested_durations.py --tables "
                        + " ".join(args.tables) + "\n(rules discovered, nothing declared; rows "
                        "where the inner time ends before the outer one)\n\n" + text + "\n")
    print(text)


if __name__ == "__main__":
    main()
