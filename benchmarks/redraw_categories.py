"""Categories through the redraw loop: a chunk's category shares kept whichever rows are refused.

Rows the rules or the guard refuse are redrawn. Before 2026-12-08 a redraw's categories were
shared anew in the class's real proportions, and by arg-max when the redraw held fewer than
:data:`clinisynth.encoding.QUOTA_MIN_ROWS` rows of a class. Rows holding a rare flag are refused
more often, because they break more forbidden combinations and sit nearer a distinguishable
patient, so they lost their share (Framingham: ``cat_gap`` 0.032 in ``before``). Two changes,
measured here one at a time on the same fitted model:

* ``inherit``: for ``--rounds`` redraw rounds (default
  :data:`clinisynth.steps.encode.INHERITED_ROUNDS`) a redrawn batch keeps the category counts,
  per class, of the rows it replaces;
* ``forbid``: the encoder decodes the one-hot columns in order, and a category that would
  complete a forbidden combination with the columns decoded before it loses
  :data:`clinisynth.encoding.FORBIDDEN_PENALTY` from its score on those rows, so quotas hand it
  to other rows (``ANGINA = 1`` goes to rows whose ``ANYCHD`` is 1);
* ``before`` has neither (the code before the change: colon's seed-0 synthetic table hashes the
  same as at 82e773b), and ``both`` is the default.

Protocol per table and seed: a stratified 70/30 split (``random_state=seed``); the default
:class:`~clinisynth.HybridSynthesizer` (``seed``, weight search bounded by its 60 episodes, so
the run is deterministic) fitted on the 70 % and sampled as many rows once per variant, with
the same seed. Figures as in ``category_quotas.py`` (``tv``, ``tv_floor``, ``cat_gap``: the
largest gap in one category's share against the training rows; ``detection_holdout``,
``ks_holdout``, ``contingency``, ``tstr`` against the holdout; ``broken``: synthetic rows breaking
a rule that holds on every training row), plus ``redrawn`` (rows the rules step refused, over
every round, per synthetic row), ``guard`` (rows the guard refused, per synthetic row) and
``sample_s`` (seconds to sample).

Run:  .venv/bin/python benchmarks/redraw_categories.py [--seeds 0 1 2] [--tables ...]
      [--rounds N] [--out benchmarks/results/redraw_categories.md] [--summarise-only]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.model_selection import train_test_split

import clinisynth.steps.encode as encode_step
from clinisynth import HybridSynthesizer

sys.path.insert(0, str(Path(__file__).resolve().parent))
from category_quotas import scores  # noqa: E402
from category_quotas import tables as quota_tables  # noqa: E402
from report_head import measured_commit, report_head, seeds_line  # noqa: E402
from survival_tables import TABLES  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
#: survival tables with implications among their flags, on top of category_quotas.py's
EXTRA = ("framingham", "kmsurv_bmt", "ebmt4")
VARIANTS = ("before", "inherit", "forbid", "both")
FIGURES = ("cat_gap", "tv", "tv_floor", "detection_holdout", "ks_holdout", "contingency",
           "tstr", "broken", "redrawn", "guard", "sample_s")


def tables(wanted: list[str] | None) -> dict[str, tuple[pd.DataFrame, str]]:
    out = quota_tables(wanted)  # category_quotas.py's tables that are wanted
    for name in EXTRA:
        if wanted and name not in wanted:
            continue
        try:
            df, target, _ = TABLES[name]()
            out[name] = (df, target)
        except ImportError as exc:  # pragma: no cover - depends on environment
            print(f"skipping {name}: {exc}", file=sys.stderr)
    return out


def sample_variant(syn: HybridSynthesizer, n: int, seed: int, variant: str, rounds: int
                   ) -> tuple[pd.DataFrame, float]:
    """``syn.sample(n, seed)`` with the variant's parts of the change switched off, and
    ``rounds`` inherited rounds where inheritance is on."""
    encoder = syn.pipeline_.step("encode").encoder_
    forbidden, default = encoder.forbidden_, encode_step.INHERITED_ROUNDS
    if variant in ("before", "inherit"):
        encoder.forbidden_ = []
    encode_step.INHERITED_ROUNDS = 0 if variant in ("before", "forbid") else rounds
    try:
        start = time.perf_counter()
        fake = syn.sample(n, seed=seed)
        return fake, time.perf_counter() - start
    finally:
        encoder.forbidden_, encode_step.INHERITED_ROUNDS = forbidden, default


def run_cell(name: str, df: pd.DataFrame, target: str, seed: int, rounds: int
             ) -> list[dict]:
    train, holdout = train_test_split(df, test_size=0.3, stratify=df[target], random_state=seed)
    train, holdout = train.reset_index(drop=True), holdout.reset_index(drop=True)
    rows = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        syn = HybridSynthesizer(seed=seed, search={"episodes": 60}).fit(train, target)
        for variant in VARIANTS:
            fake, seconds = sample_variant(syn, len(train), seed, variant, rounds)
            rows.append({"table": name, "seed": seed, "variant": variant,
                         "forbidden": len(syn.pipeline_.step("encode").encoder_.forbidden_),
                         "redrawn": syn.rules_report_.get("redrawn", 0) / len(fake),
                         "guard": syn.guard_report_.refused / len(fake), "sample_s": seconds,
                         **scores(train, holdout, fake, syn, seed)})
    return rows


def summarise(results: pd.DataFrame) -> str:
    lines = ["| table | forbidden | variant | " + " | ".join(FIGURES) + " |",
             "|---|---:|---|" + "---:|" * len(FIGURES)]
    for (table, variant), group in results.groupby(["table", "variant"], sort=False):
        cells = [f"{group[f].mean():.3f} ± {group[f].std(ddof=1):.3f}"
                 if group[f].notna().any() else "–" for f in FIGURES]
        lines.append(f"| {table} | {group['forbidden'].mean():.0f} | {variant} | "
                     + " | ".join(cells) + " |")
    paired = results.pivot_table(index=["table", "seed"], columns="variant",
                                 values=list(FIGURES))
    lines += ["", f"Paired change against ``before`` over every (table, seed) (mean ± se; n = "
              f"{len(paired)}):", "", "| figure | " + " | ".join(VARIANTS[1:]) + " |",
              "|---|" + "---:|" * (len(VARIANTS) - 1)]
    for f in FIGURES:
        cells = []
        for variant in VARIANTS[1:]:
            d = (paired[(f, variant)] - paired[(f, "before")]).dropna()
            cells.append(f"{d.mean():+.4f} ± {d.std(ddof=1) / np.sqrt(len(d)):.4f}"
                         if len(d) > 1 else "–")
        lines.append(f"| {f} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--tables", nargs="+", default=None)
    parser.add_argument("--rounds", type=int, default=encode_step.INHERITED_ROUNDS,
                        help="redraw rounds that inherit categories (inherit, both)")
    parser.add_argument("--out", type=Path,
                        default=ROOT / "benchmarks" / "results" / "redraw_categories.md")
    parser.add_argument("--summarise-only", action="store_true",
                        help="write the .md from the .csv beside --out (a run already made)")
    args = parser.parse_args()
    args.out = args.out.resolve()
    start = time.perf_counter()
    if args.summarise_only:
        results = pd.read_csv(args.out.with_suffix(".csv"))
    else:
        rows: list[dict] = []
        for name, (df, target) in tables(args.tables).items():
            for seed in args.seeds:
                rows += run_cell(name, df, target, seed, args.rounds)
                print(json.dumps(rows[-len(VARIANTS):], default=str), flush=True)
        results = pd.DataFrame(rows)
        results.to_csv(args.out.with_suffix(".csv"), index=False)
    command = (".venv/bin/python benchmarks/redraw_categories.py --seeds "
               + " ".join(map(str, args.seeds))
               + (f" --tables {' '.join(args.tables)}" if args.tables else "")
               + f" --rounds {args.rounds} --out {args.out.relative_to(ROOT)}")
    header = (f"Seeds {', '.join(map(str, args.seeds))}; written from the .csv of a run made "
              "before (``--summarise-only``)." if args.summarise_only
              else f"{seeds_line(args.seeds, start)} clinisynth at {measured_commit()}.")
    lines = report_head("Categories through the redraw loop", command, header, __doc__)
    args.out.write_text("\n".join(lines) + "\n" + summarise(results) + "\n")
    print(summarise(results))


if __name__ == "__main__":
    main()
