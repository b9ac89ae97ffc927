"""Attack-based risk of every stored benchmark cell: ``results/risk.csv`` and ``results/risk.md``.

    PYTHONPATH=src python benchmarks/risk_table.py [--results benchmarks/results]
        [--shared ../shared/datasets] [--n-attacks 500] [--synthesizers hybrid,smote,...]

For each cell ``results/cells/TABLE/SYNTHESIZER/seedN.csv`` (the synthetic table the benchmark
stored) the train/holdout split is re-derived exactly as the runner made it
(:func:`clinisynth.benchmark.grid.split_table`: stratified 70/30 by ``seed``), and the audit's
risk scores are computed (:func:`clinisynth.audit.risk.risk_scores` with the schema inferred
from train, seed = the cell's seed; :func:`clinisynth.audit.privacy.privacy_scores` for the
calibrated DCR). ``risk.md``: per table, synthesizer × score, mean ± sd over the seeds.
Re-runnable: after the hybrid's cells are regenerated, run it again.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import pandas as pd

from clinisynth.audit.inputs import check_inputs
from clinisynth.audit.privacy import privacy_scores
from clinisynth.audit.result import DIRECTIONS
from clinisynth.audit.risk import N_ATTACKS, risk_scores
from clinisynth.benchmark.grid import SYNTHESIZERS, TableSpec, split_table
from clinisynth.benchmark.summary import metric_table
from clinisynth.io import read_table, write_table, write_text_atomic

ROOT = Path(__file__).resolve().parents[1]
#: the tables of benchmarks/run_benchmark.sh: (name, target, file under --shared or None)
TABLES = (("breast_cancer", "target", None), ("pima_diabetes", "type", "pima_diabetes.csv"),
          ("cardiac_cabg_ptca", "procedure", "cardiac_cabg_ptca.csv"),
          ("liver_pbc", "status", "liver_pbc.csv"))
KEYS = ("singling_out_risk", "singling_out_univariate_risk", "linkability_risk",
        "inference_risk", "calibrated_dcr", "calibrated_dcr_baseline")
LEGEND = {
    "singling_out_risk": "multivariate singling out (3 columns), anonymeter's definition",
    "singling_out_univariate_risk": "univariate singling out (one column)",
    "linkability_risk": "linkability, the quasi-identifiers split alternately in two (every "
                        "column when fewer than two)",
    "inference_risk": "inference of the target from the quasi-identifiers (the schema's; "
                      "every other column when it has none)",
    "calibrated_dcr": "share of synthetic rows closer to train than the 2nd percentile of "
                      "holdout-to-train distances (≈ 0.02 for fresh patients)",
    "calibrated_dcr_baseline": "the holdout's own share at that distance (the ideal)",
}


def cell_scores(spec: TableSpec, data: pd.DataFrame, synthesizer: str, seed: int,
                path: Path, n_attacks: int) -> dict[str, float]:
    """The risk columns of one stored cell."""
    train, holdout = split_table(data, spec.target, seed, 0.7)
    train, holdout, syn, schema = check_inputs(train, holdout, read_table(path), spec.target)
    risk = risk_scores(train, holdout, syn, schema, n_attacks=n_attacks, seed=seed)
    pri = privacy_scores(train, holdout, syn, schema, seed=seed)
    uni = risk.attacks["singling_out_univariate"]
    multi = risk.attacks["singling_out_multivariate"]
    return {**risk.headline(), "singling_out_univariate_risk": uni.risk,
            "calibrated_dcr": pri.calibrated_dcr,
            "calibrated_dcr_baseline": pri.calibrated_dcr_baseline,
            "singling_out_attacks": multi.attacks, "targets": risk.attacks["linkability"].attacks,
            "n_train": len(train), "n_holdout": len(holdout)}


def render(frame: pd.DataFrame, command: str, n_attacks: int) -> str:
    directions = {**{k: DIRECTIONS[k] for k in DIRECTIONS},
                  "singling_out_univariate_risk": DIRECTIONS["singling_out_risk"],
                  "calibrated_dcr_baseline": ("0 to 1", "baseline")}
    lines = ["# Attack-based privacy risk of the benchmark cells", "", "Produced by:", "",
             "```bash", command, "```", "",
             "Every stored cell's synthetic table (`cells/TABLE/SYNTHESIZER/seedN.csv`) against "
             "the train/holdout split the benchmark made for it (stratified 70/30 by seed). "
             "Risk = (attack success on training patients − success on holdout patients) / "
             "(1 − holdout success), clipped to [0, 1]: 0 = the synthetic data exposes "
             "training patients no more than unseen ones (Giomi et al. 2023, reimplemented in "
             f"`clinisynth.audit.risk`). Up to {n_attacks} attacks per score: singling-out "
             "predicates, and target patients per side for linkability and inference (capped "
             "by the holdout size). Values: mean ± sd over seeds; best mean in bold.", ""]
    order = [s for s in SYNTHESIZERS if s in set(frame["synthesizer"])]
    for table, tab in frame.groupby("table", sort=False):
        names = [n for n in order if n in set(tab["synthesizer"])]
        n_tr, n_ho = int(tab["n_train"].iloc[0]), int(tab["n_holdout"].iloc[0])
        lines += [f"## {table} (train {n_tr}, holdout {n_ho})", "",
                  *metric_table(tab, KEYS, names, directions), ""]
    lines += ["## Columns", "", "| column | meaning |", "|---|---|"]
    lines += [f"| {k} | {v} |" for k, v in LEGEND.items()]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--results", type=Path, default=ROOT / "benchmarks" / "results")
    parser.add_argument("--shared", type=Path, default=ROOT.parent / "shared" / "datasets")
    parser.add_argument("--n-attacks", type=int, default=N_ATTACKS)
    parser.add_argument("--synthesizers", default=",".join(SYNTHESIZERS))
    args = parser.parse_args(argv)
    wanted = [s for s in args.synthesizers.split(",") if s]
    rows = []
    for name, target, file in TABLES:
        spec = (TableSpec.from_dataset(name) if file is None
                else TableSpec(name=name, target=target, path=str(args.shared / file)))
        if file is not None and not (args.shared / file).is_file():
            print(f"skip {name}: {args.shared / file} not found", file=sys.stderr)
            continue
        data = spec.load()
        for synthesizer in wanted:
            for path in sorted((args.results / "cells" / name / synthesizer).glob("seed*.csv")):
                seed = int(path.stem.removeprefix("seed"))
                start = time.perf_counter()
                scores = cell_scores(spec, data, synthesizer, seed, path, args.n_attacks)
                rows.append({"table": name, "synthesizer": synthesizer, "seed": seed,
                             **scores, "seconds": round(time.perf_counter() - start, 2)})
                print(f"{name}/{synthesizer}/seed{seed}: " + ", ".join(
                    f"{k} {scores[k]:.3f}" for k in KEYS[:5]) + f" ({rows[-1]['seconds']} s)",
                    flush=True)
    frame = pd.DataFrame(rows)
    command = "PYTHONPATH=src python benchmarks/risk_table.py " + " ".join(argv or sys.argv[1:])
    write_table(frame, args.results / "risk.csv")
    write_text_atomic(args.results / "risk.md", render(frame, command.strip(), args.n_attacks))


if __name__ == "__main__":
    main()
