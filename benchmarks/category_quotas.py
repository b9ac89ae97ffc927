"""Category quotas: each class's categories decoded in the real class's shares, against arg-max.

The encoder decodes a one-hot block either by its arg-max (``off``: the generators' own shares,
which drift) or, per class, by handing
each category its real share of the class's rows, each row taking its highest-scoring category
with room left (``on``, the default; :func:`clinisynth.encoding.quota_codes`). ``off`` is the
same fitted pipeline decoded with :data:`clinisynth.encoding.QUOTA_MIN_ROWS` set beyond any
batch (every class falls back to arg-max); everything else, seed included, is the same.

Protocol per table and seed: a stratified 70/30 split (``random_state=seed``); the default
:class:`~clinisynth.HybridSynthesizer` (``seed``, weight search bounded by its episodes, so the
run is deterministic) fitted on the 70 % and sampled as many rows, once per variant. Figures:

* ``tv``: mean total-variation distance of the categorical columns (target excluded) to the
  training rows (what quotas aim at), ``tv_holdout`` to the holdout, and ``tv_floor`` the
  holdout's own distance to the training rows (the sampling noise a table of that size has);
* ``cat_gap``: the largest absolute gap in one category's share between synthetic and training
  rows, over columns and categories;
* ``detection_holdout``, ``ks_holdout``, ``contingency``: the audit's real-vs-synthetic AUC, mean
  KS and contingency similarity against the holdout; ``tstr``: random-forest accuracy trained on
  synthetic rows, tested on the holdout; ``broken``: share of synthetic rows breaking a rule that
  holds on every training row.

Tables: the bundled breast-cancer table, the shared single tables (skipped with a note where
absent) and, where their packages are installed, survival tables with categorical columns from
``survival_tables.py`` (support2, colon, rotterdam, actg175).

Run:  PYTHONPATH=src .venv/bin/python benchmarks/category_quotas.py [--seeds 0 1 2]
      [--tables ...] [--out benchmarks/results/category_quotas.md]
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

import clinisynth.encoding as encoding
from clinisynth import HybridSynthesizer
from clinisynth.audit.fidelity import fidelity_scores, tv_distance
from clinisynth.audit.utility import utility_scores

sys.path.insert(0, str(Path(__file__).resolve().parent))
from report_head import report_head, seeds_line  # noqa: E402
from survival_tables import TABLES  # noqa: E402
from value_protection import tables as single_tables  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
#: value_protection.py's tables with a categorical column besides the target (cardiac's
#: ``died`` table and the built ``exposed`` add none)
SINGLE = ("breast_cancer", "pima", "cardiac", "liver", "pbcseq_patients")
SURVIVAL = ("support2", "colon", "rotterdam", "actg175")
FIGURES = ("tv", "tv_holdout", "tv_floor", "cat_gap", "detection_holdout", "ks_holdout",
           "contingency", "tstr", "broken")


def tables(wanted: list[str] | None) -> dict[str, tuple[pd.DataFrame, str]]:
    out = single_tables(list(SINGLE))
    for name in SURVIVAL:
        try:
            df, target, _ = TABLES[name]()
            out[name] = (df, target)
        except ImportError as exc:  # pragma: no cover - depends on environment
            print(f"skipping {name}: {exc}", file=sys.stderr)
    return {k: v for k, v in out.items() if not wanted or k in wanted}


def categorical(schema, frame: pd.DataFrame) -> list[str]:
    return [c.name for c in schema.columns if not c.is_numeric and c.name != schema.target
            and c.name in frame.columns and c.role is None]


def largest_gap(real: pd.Series, synthetic: pd.Series) -> float:
    p = real.dropna().astype(str).value_counts(normalize=True)
    q = synthetic.dropna().astype(str).value_counts(normalize=True)
    both = p.index.union(q.index)
    return float((p.reindex(both, fill_value=0) - q.reindex(both, fill_value=0)).abs().max())


def scores(train: pd.DataFrame, holdout: pd.DataFrame, fake: pd.DataFrame,
           syn: HybridSynthesizer, seed: int) -> dict[str, float]:
    view = syn.record_view
    schema = syn.model_schema_
    tr, ho, fk = view(train, protected=False), view(holdout, protected=False), view(fake,
                                                                                   protected=False)
    cats = categorical(schema, fk)
    fid = fidelity_scores(ho, fk, schema, seed=seed)
    uti = utility_scores(tr, ho, fk, schema, models=("random_forest",), seed=seed)
    rules = syn.pipeline_.step("rules")
    broken = float("nan")
    if rules is not None:
        held = [r for r, h in zip(rules.rules_, rules.held_, strict=True) if h == 1.0]
        broken = float(np.mean(np.any([r.violated(fake) for r in held], axis=0))) if held else 0.0
    return {
        "tv": float(np.mean([tv_distance(tr[c], fk[c]) for c in cats])) if cats else np.nan,
        "tv_holdout": float(np.mean([tv_distance(ho[c], fk[c]) for c in cats])) if cats
        else np.nan,
        "tv_floor": float(np.mean([tv_distance(tr[c], ho[c]) for c in cats])) if cats
        else np.nan,
        "cat_gap": max((largest_gap(tr[c], fk[c]) for c in cats), default=np.nan),
        "detection_holdout": fid.detection_auc, "ks_holdout": fid.ks_mean,
        "contingency": fid.contingency_similarity,
        "tstr": uti.get("TSTR", "random_forest", "accuracy"), "broken": broken,
    }


def run_cell(name: str, df: pd.DataFrame, target: str, seed: int) -> list[dict]:
    train, holdout = train_test_split(df, test_size=0.3, stratify=df[target], random_state=seed)
    rows = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        start = time.perf_counter()
        syn = HybridSynthesizer(seed=seed, search={"seconds": 3600.0})
        syn.fit(train, target)
        fit_seconds = time.perf_counter() - start
        default = encoding.QUOTA_MIN_ROWS
        for variant, least in (("off", 2**62), ("on", default)):
            encoding.QUOTA_MIN_ROWS = least
            try:
                fake = syn.sample(len(train), seed=seed)
            finally:
                encoding.QUOTA_MIN_ROWS = default
            rows.append({"table": name, "seed": seed, "quotas": variant,
                         "fit_seconds": fit_seconds, **scores(train, holdout, fake, syn, seed)})
    return rows


def summarise(results: pd.DataFrame) -> str:
    lines = ["| table | quotas | " + " | ".join(FIGURES) + " |",
             "|---|---|" + "---:|" * len(FIGURES)]
    for (table, variant), group in results.groupby(["table", "quotas"], sort=False):
        cells = [f"{group[f].mean():.3f} ± {group[f].std(ddof=1):.3f}"
                 if group[f].notna().any() else "–" for f in FIGURES]
        lines.append(f"| {table} | {variant} | " + " | ".join(cells) + " |")
    paired = results.pivot_table(index=["table", "seed"], columns="quotas", values=list(FIGURES))
    lines += ["", "Paired change on - off over every (table, seed) (mean ± se; n = "
              f"{len(paired)}):", "", "| figure | change |", "|---|---:|"]
    for f in FIGURES:
        d = (paired[(f, "on")] - paired[(f, "off")]).dropna()
        if len(d):
            lines.append(f"| {f} | {d.mean():+.4f} ± {d.std(ddof=1) / np.sqrt(len(d)):.4f} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--tables", nargs="+", default=None)
    parser.add_argument("--out", type=Path,
                        default=ROOT / "benchmarks" / "results" / "category_quotas.md")
    args = parser.parse_args()
    start = time.perf_counter()
    rows: list[dict] = []
    for name, (df, target) in tables(args.tables).items():
        for seed in args.seeds:
            rows += run_cell(name, df, target, seed)
            print(json.dumps(rows[-2:], default=str), flush=True)
    results = pd.DataFrame(rows)
    results.to_csv(args.out.with_suffix(".csv"), index=False)
    command = ("PYTHONPATH=src .venv/bin/python benchmarks/category_quotas.py --seeds "
               + " ".join(map(str, args.seeds))
               + (f" --tables {' '.join(args.tables)}" if args.tables else ""))
    header = seeds_line(args.seeds, start)
    lines = report_head("Category quotas: categories decoded in the real shares", command,
                        header, __doc__)
    args.out.write_text("\n".join(lines) + "\n" + summarise(results) + "\n")
    print(summarise(results))


if __name__ == "__main__":
    main()
