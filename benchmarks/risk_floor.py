"""The attack-risk floor: what fresh real patients score, beside the hybrid, on the same split.

    PYTHONPATH=src python benchmarks/risk_floor.py [--seeds 0 1 ... 9] [--tables NAME ...]
        [--shared ../shared/datasets] [--results benchmarks/results]

Issue 9 asks for point estimates of anonymeter's risks below fixed targets (singling out
≤ 0.10, linkability ≤ 0.05, inference of the target ≤ 0.10, calibrated DCR ≤ 3 %). Each risk is
``max(0, (attack − control) / (1 − control))`` on a few hundred patients, so even a generator
that leaks nothing scores above 0 by chance. This script measures that floor with the ideal
generator: real patients the attacker's targets never met.

Per (table, seed): the benchmark's stratified 70/30 split by seed
(:func:`clinisynth.benchmark.grid.split_table`), then the 70 % split again in halves,
stratified by the same seed: **train** (35 %) and **fresh** (35 %). The 30 % holdout is the
attack's control, as in the benchmark. Two synthetic tables are attacked with
:func:`clinisynth.audit.risk.risk_scores` and :func:`clinisynth.audit.privacy.privacy_scores`
(schema inferred from train, the audit's defaults, ``seed`` = the seed):

* ``fresh``: the fresh real patients themselves (independent of train: the true risk is 0);
* ``hybrid``: the default ``HybridSynthesizer(seed=seed)`` fitted on train, ``len(fresh)`` rows.

Writes ``results/risk_floor.csv`` and ``results/risk_floor.md``: per table and source, mean ± sd
over the seeds, the share of seeds meeting each target, and the paired difference hybrid −
fresh with a 95 % t-interval (the hybrid's excess over what fresh patients score).
"""

from __future__ import annotations

import argparse
import platform
import sys
import time
import warnings
from pathlib import Path

import pandas as pd
from sklearn.model_selection import train_test_split

from clinisynth import HybridSynthesizer
from clinisynth.audit.inputs import check_inputs
from clinisynth.audit.privacy import privacy_scores
from clinisynth.audit.risk import risk_scores
from clinisynth.benchmark.grid import split_table
from clinisynth.io import write_table, write_text_atomic

sys.path.insert(0, str(Path(__file__).resolve().parent))
from guard_tradeoff import load_tables  # noqa: E402  (benchmarks/ is on the path as a script)
from report_head import report_head  # noqa: E402
from seed_paired import t_interval  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
#: (column, header, issue 9's target)
SCORES = (("singling_out_risk", "singling out", 0.10), ("linkability_risk", "linkability", 0.05),
          ("inference_risk", "inference", 0.10), ("calibrated_dcr", "cal. DCR", 0.03))
SOURCES = ("fresh", "hybrid")


def three_way(data: pd.DataFrame, target: str, seed: int
              ) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """(train 35 %, fresh 35 %, holdout 30 %), stratified by ``target``, seeded."""
    rest, holdout = split_table(data, target, seed, 0.7)
    train, fresh = train_test_split(rest, train_size=0.5, stratify=rest[target],
                                    random_state=seed, shuffle=True)
    return train.reset_index(drop=True), fresh.reset_index(drop=True), holdout


def scores(train: pd.DataFrame, holdout: pd.DataFrame, synthetic: pd.DataFrame, target: str,
           seed: int) -> dict[str, float]:
    """The four risk scores and the inference attack's control rate."""
    train, holdout, synthetic, schema = check_inputs(train, holdout, synthetic, target)
    risk = risk_scores(train, holdout, synthetic, schema, seed=seed)
    pri = privacy_scores(train, holdout, synthetic, schema, seed=seed)
    worst = risk.worst_inference()
    return {**risk.headline(), "calibrated_dcr": pri.calibrated_dcr,
            "calibrated_dcr_baseline": pri.calibrated_dcr_baseline,
            "inference_control": worst.control.value if worst is not None else float("nan"),
            "targets": risk.attacks["linkability"].attacks}


def run_cell(name: str, target: str, data: pd.DataFrame, seed: int) -> list[dict]:
    train, fresh, holdout = three_way(data, target, seed)
    start = time.perf_counter()
    model = HybridSynthesizer(seed=seed, n_jobs=1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model.fit(train, target)
    hybrid = model.sample(len(fresh))
    fit_s = time.perf_counter() - start
    head = {"table": name, "seed": seed, "n_train": len(train), "n_fresh": len(fresh),
            "n_holdout": len(holdout)}
    return [{**head, "source": "fresh", **scores(train, holdout, fresh, target, seed)},
            {**head, "source": "hybrid", "seconds": round(fit_s, 1),
             **scores(train, holdout, hybrid, target, seed)}]


def paired(tab: pd.DataFrame, key: str) -> str:
    """Mean hybrid − fresh over the seeds with a 95 % t-interval."""
    wide = tab.pivot(index="seed", columns="source", values=key).dropna()
    diff = (wide["hybrid"] - wide["fresh"]).to_numpy()
    if len(diff) < 2:
        return "–"
    mean, low, high = t_interval(diff)
    return f"{mean:+.3f} [{low:+.3f}, {high:+.3f}]"


def render(frame: pd.DataFrame, command: str, header: str) -> str:
    lines = report_head("The attack-risk floor: fresh real patients beside the hybrid", command,
                        header, __doc__)
    lines += ["Each cell: mean ± sd over the seeds, then the share of seeds at or below issue 9's "
              "target. Last row: the paired difference hybrid − fresh, mean over seeds with its "
              "95 % t-interval (an interval containing 0: the hybrid's risk is not "
              "distinguishable from what unseen real patients score).", ""]
    for table, tab in frame.groupby("table", sort=False):
        first = tab.iloc[0]
        seeds = sorted(tab["seed"].unique())
        lines += [f"## {table} (train {first.n_train}, fresh {first.n_fresh}, holdout "
                  f"{first.n_holdout}; seeds {seeds[0]}–{seeds[-1]}; {int(first.targets)} "
                  "targets per side)", "",
                  "| source | " + " | ".join(f"{h} (target ≤ {t:g})" for _, h, t in SCORES)
                  + " |", "|---|" + "---:|" * len(SCORES)]
        for source in SOURCES:
            part = tab[tab["source"] == source]
            cells = [f"{part[k].mean():.3f} ± {part[k].std(ddof=1):.3f} "
                     f"({(part[k] <= t).mean():.0%} ≤)" for k, _, t in SCORES]
            lines.append(f"| {source} | " + " | ".join(cells) + " |")
        lines.append("| hybrid − fresh | " + " | ".join(paired(tab, k) for k, _, _ in SCORES)
                     + " |")
        ctrl = tab.groupby("source")["inference_control"].mean()
        base = tab["calibrated_dcr_baseline"].mean()
        lines += ["", f"Inference control success (holdout patients): fresh {ctrl['fresh']:.3f},"
                  f" hybrid {ctrl['hybrid']:.3f}. Calibrated DCR of the holdout itself: "
                  f"{base:.3f}.", ""]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=list(range(10)))
    parser.add_argument("--tables", nargs="*")
    parser.add_argument("--shared", type=Path, default=ROOT.parent / "shared" / "datasets")
    parser.add_argument("--results", type=Path, default=ROOT / "benchmarks" / "results")
    args = parser.parse_args(argv)
    started, wall = time.strftime("%Y-%m-%d %H:%M"), time.perf_counter()
    rows = []
    for name, target, data in load_tables(args.tables, args.shared):
        for seed in args.seeds:
            cell = run_cell(name, target, data, seed)
            rows += cell
            print(f"{name}/seed{seed}: " + "; ".join(
                f"{r['source']} " + ", ".join(f"{k} {r[k]:.3f}" for k, _, _ in SCORES)
                for r in cell), flush=True)
    frame = pd.DataFrame(rows)
    path = args.results / "risk_floor.csv"
    if path.is_file() and args.tables:  # a run on some tables keeps the others' rows
        old = pd.read_csv(path)
        frame = pd.concat([old[~old["table"].isin(frame["table"].unique())], frame])
    command = "PYTHONPATH=src python benchmarks/risk_floor.py " + " ".join(
        argv if argv is not None else sys.argv[1:])
    header = (f"Run {started}, {time.perf_counter() - wall:.0f} s wall, on "
              f"{platform.machine()} Python {platform.python_version()}.")
    write_table(frame, path)
    write_text_atomic(args.results / "risk_floor.md", render(frame, command.strip(), header))


if __name__ == "__main__":
    main()
