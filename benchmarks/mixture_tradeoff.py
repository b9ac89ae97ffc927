"""The mixture's, the calibration's and the quasi-identifiers' knobs against risk and fidelity.

    PYTHONPATH=src python benchmarks/mixture_tradeoff.py [--seeds 0 1 2] [--tables NAME ...]
        [--settings default cal_none cal_moment qi_los all all_priv2_m0 ...] [--render-only]
        [--shared ../shared/datasets] [--results benchmarks/results]

The weight search's reward (:mod:`clinisynth.reward`) subtracts
``privacy · max(0, dcr_share − 0.5 − margin) / (0.5 − margin)``; the default is privacy 1,
margin 0.05. A larger weight and no margin move weight away from the generators that place
rows near their source patients (noise, interpolation, SMOTE), whose rows link the two halves
of a patient's record (linkability) and make the patient's label easier to infer. The
calibration (default ``moment`` then ``adaptive_soft``) moves marginals toward the training
rows' own, tails included. Marking more columns as quasi-identifiers widens the guard's
singling-out rule (a row matching a rare patient's quasi-identifier combination is refused).
Since 2026-12-03 the default mixture ranges over GMM and the CVAE only (the generators that do
not build rows from real patients); settings prefixed ``all`` mix all five
(``generators="all"``, the default before), where the reward's privacy term matters.

Per (table, seed): the benchmark's stratified 70/30 split by seed, one ``HybridSynthesizer``
per setting (``seed=seed``, ``n_jobs=1``, the setting's option) fitted on the 70 %,
``len(train)`` rows sampled with ``seed=seed``, audited against the 30 %
(:func:`clinisynth.audit.audit`, random forest only, the attacks' defaults). Settings:
``default``; ``privP_mM``: ``reward={"privacy": P, "privacy_margin": M}``; ``cal_none``:
``calibration=None``; ``cal_NAME``: ``calibration=[NAME]`` (one calibrator); ``qi_A+B``: the
schema inferred from the 70 % with columns A, B also given the ``quasi_identifier`` role (only on
tables that have them; the audit's attacks still infer their own schema, so they are unchanged);
``gen_A+B``: ``generators=[A, B]`` (the weight search mixes only these); ``all``: the default
with ``generators="all"``, and ``all_X`` setting ``X`` with it.
Rows of an existing ``mixture_tradeoff.csv`` for other (table, seed, setting) cells are kept.

Writes ``results/mixture_tradeoff.csv`` and ``results/mixture_tradeoff.md``: per table and
setting, mean ± sd over the seeds, and the learned share of the resampling generators.
"""

from __future__ import annotations

import argparse
import platform
import re
import sys
import time
import warnings
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd

from clinisynth import HybridSynthesizer
from clinisynth.audit import audit
from clinisynth.audit.fidelity import ks_mean
from clinisynth.benchmark.grid import split_table
from clinisynth.calibration import list_calibrators
from clinisynth.io import write_table, write_text_atomic
from clinisynth.schema import TableSchema, infer_schema

sys.path.insert(0, str(Path(__file__).resolve().parent))
from guard_tradeoff import load_tables  # noqa: E402  (benchmarks/ is on the path as a script)
from report_head import report_head  # noqa: E402
from risk_table import TABLES  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
RESAMPLERS = ("noise", "interpolation", "smote")
SETTINGS = ("default", "cal_none", "cal_moment", "qi_los", "all", "all_priv2_m0",
            "all_priv5_m0", "all_cal_none", "all_cal_moment", "all_qi_los")
#: (column, header, decimals)
COLUMNS = (("resampler_share", "resampler weight", 2), ("ks_holdout", "KS vs holdout", 4),
           ("detection_auc", "detection AUC", 3), ("tstr_accuracy", "TSTR acc", 3),
           ("dcr_share", "DCR share", 3), ("calibrated_dcr", "cal. DCR", 3),
           ("singling_out_risk", "singling out", 3), ("linkability_risk", "linkability", 3),
           ("inference_risk", "inference", 3))


def options_of(label: str) -> dict:
    """The ``HybridSynthesizer`` options of a setting label (see the module docstring)."""
    if label == "all" or label.startswith("all_"):
        rest = label.removeprefix("all").removeprefix("_") or "default"
        return {**options_of(rest), "generators": "all"}
    if label == "default":
        return {}
    if label == "cal_none":
        return {"calibration": None}
    if label.startswith("gen_"):
        return {"generators": label.removeprefix("gen_").split("+")}
    if label.startswith("qi_"):
        return {"quasi_identifiers": label.removeprefix("qi_").split("+")}
    if label.startswith("cal_"):
        name = label.removeprefix("cal_")
        if name not in list_calibrators():
            raise SystemExit(f"--settings: '{label}': unknown calibrator '{name}'")
        return {"calibration": [name]}
    match = re.fullmatch(r"priv([0-9.]+)_m([0-9.]+)", label)
    if not match:
        raise SystemExit(f"--settings: '{label}' is not default, privP_mM, cal_none, cal_NAME, "
                         "qi_A+B or gen_A+B")
    return {"reward": {"privacy": float(match[1]), "privacy_margin": float(match[2])}}


def with_quasi_identifiers(schema: TableSchema, names: list[str]) -> TableSchema:
    """``schema`` with the columns ``names`` given the ``quasi_identifier`` role."""
    columns = [replace(c, role="quasi_identifier") if c.name in names else c
               for c in schema.columns]
    return TableSchema(columns=columns, target=schema.target)


def run_cell(name: str, target: str, data: pd.DataFrame, seed: int, label: str) -> dict | None:
    """One audited cell, or None when the setting names a column the table lacks."""
    options = options_of(label)
    extra = options.pop("quasi_identifiers", None)
    if extra and not set(extra) <= set(data.columns):
        return None
    train, holdout = split_table(data, target, seed)
    inferred = infer_schema(train, target)
    schema = with_quasi_identifiers(inferred, extra) if extra else None
    start = time.perf_counter()
    model = HybridSynthesizer(seed=seed, n_jobs=1, **options)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model.fit(train, target, schema=schema)
        fake = model.sample(len(train), seed=seed)
    seconds = time.perf_counter() - start
    head = audit(train, holdout, fake, target, seed=seed, models=("random_forest",)).headline()
    weights, guarded = model.weights_, model.guard_ is not None
    return {"table": name, "seed": seed, "setting": label, "n_train": len(train),
            "guard_qis": ",".join(model.guard_.qi_) if guarded else "",
            "refused_rate": model.guard_report_.refused / len(fake) if guarded else 0.0,
            "n_holdout": len(holdout), "seconds": round(seconds, 1),
            "resampler_share": sum(weights.get(g, 0.0) for g in RESAMPLERS),
            **{f"w_{g}": v for g, v in weights.items()},
            "ks_holdout": ks_mean(holdout, fake, inferred),
            **{k: head[k] for k in ("detection_auc", "tstr_accuracy", "trtr_accuracy",
                                    "dcr_share", "calibrated_dcr", "singling_out_risk",
                                    "linkability_risk", "inference_risk")}}


def render(frame: pd.DataFrame, command: str, header: str) -> str:
    lines = report_head("The mixture's, calibration's and quasi-identifiers' knobs against risk "
                        "and fidelity", command, header, __doc__)
    lines += ["Values: mean ± sd over the seeds (a setting run on fewer of them says how many: "
              "n=3). Resampler weight = learned weight of noise + "
              "interpolation + SMOTE. Issue 9's targets: singling out ≤ 0.10, linkability ≤ "
              "0.05, inference ≤ 0.10, cal. DCR ≤ 0.03.", ""]
    for table, tab in frame.groupby("table", sort=False):
        first = tab.iloc[0]
        lines += [f"## {table} (train {first.n_train}, holdout {first.n_holdout}; seeds "
                  f"{', '.join(map(str, sorted(tab['seed'].unique())))}; TRTR acc "
                  f"{tab['trtr_accuracy'].mean():.3f})", "",
                  "| setting | " + " | ".join(h for _, h, _ in COLUMNS) + " |",
                  "|---|" + "---:|" * len(COLUMNS)]
        n_seeds = tab["seed"].nunique()
        rank = {name: i for i, name in enumerate(SETTINGS)}
        tab = tab.sort_values("setting", key=lambda col: col.map(rank).fillna(len(rank)),
                              kind="stable")
        for label, part in tab.groupby("setting", sort=False):
            n = part["seed"].nunique()
            label = label if n == n_seeds else f"{label} (n={n})"
            lines.append(f"| {label} | " + " | ".join(
                f"{part[k].mean():.{d}f} ± {part[k].std(ddof=1):.{d}f}" for k, _, d in COLUMNS)
                + " |")
        lines += ["", paired_line(tab, "all", "default"), ""]
    return "\n".join(lines) + "\n"


def paired_line(tab: pd.DataFrame, a: str, b: str) -> str:
    """``a − b`` per column, mean over the seeds both settings ran, with its standard error."""
    wide = tab[tab["setting"].isin([a, b])].pivot(index="seed", columns="setting")
    cells = []
    for key, header, decimals in COLUMNS[1:]:
        if key not in wide or a not in wide[key] or b not in wide[key]:
            return ""
        diff = (wide[key][a] - wide[key][b]).dropna()
        if len(diff) < 2:
            return ""
        se = diff.std(ddof=1) / np.sqrt(len(diff))
        cells.append(f"{header} {diff.mean():+.{decimals}f} (se {se:.{decimals}f})")
    return (f"Paired over the {len(diff)} seeds both ran, `{a}` − `{b}`: " + "; ".join(cells)
            + ".")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--tables", nargs="*")
    parser.add_argument("--settings", nargs="+", default=list(SETTINGS))
    parser.add_argument("--render-only", action="store_true",
                        help="rewrite the .md from the existing CSV, computing nothing")
    parser.add_argument("--shared", type=Path, default=ROOT.parent / "shared" / "datasets")
    parser.add_argument("--results", type=Path, default=ROOT / "benchmarks" / "results")
    args = parser.parse_args(argv)
    for label in args.settings:
        options_of(label)
    path = args.results / "mixture_tradeoff.csv"
    command = ("PYTHONPATH=src python benchmarks/mixture_tradeoff.py\n"  # with the next line,
               "PYTHONPATH=src python benchmarks/mixture_tradeoff.py --seeds 3 4 5 "  # every cell
               "--settings default all")
    if args.render_only:
        write_text_atomic(args.results / "mixture_tradeoff.md", render(
            pd.read_csv(path), command, "Re-rendered from the CSV (`--render-only`)."))
        return
    started, wall = time.strftime("%Y-%m-%d %H:%M"), time.perf_counter()
    rows = []
    for name, target, data in load_tables(args.tables, args.shared):
        for seed in args.seeds:
            for label in args.settings:
                row = run_cell(name, target, data, seed, label)
                if row is None:
                    print(f"{name}/seed{seed}/{label}: skipped (no such column)", flush=True)
                    continue
                rows.append(row)
                print(f"{name}/seed{seed}/{label}: " + ", ".join(
                    f"{k} {row[k]:.3f}" for k, _, _ in COLUMNS) + f" ({row['seconds']} s)",
                    flush=True)
    frame = pd.DataFrame(rows)
    if path.is_file():  # keep the cells this run did not compute
        old = pd.read_csv(path)
        key = ["table", "seed", "setting"]
        done = frame.set_index(key).index
        frame = pd.concat([old[~old.set_index(key).index.isin(done)], frame])
    tables = [name for name, _, _ in TABLES]
    settings = list(dict.fromkeys(frame["setting"]))
    frame = frame.assign(_t=frame["table"].map(tables.index),
                         _s=frame["setting"].map(settings.index))
    frame = frame.sort_values(["_t", "_s", "seed"]).drop(columns=["_t", "_s"])
    header = (f"Last run ({' '.join(argv if argv is not None else sys.argv[1:]) or 'defaults'})"
              f" {started}, {time.perf_counter() - wall:.0f} s wall, on "
              f"{platform.machine()} Python {platform.python_version()}.")
    write_table(frame, path)
    write_text_atomic(args.results / "mixture_tradeoff.md", render(frame, command, header))


if __name__ == "__main__":
    main()
