"""Issue 9 (generator half) done-when check: column roles and the redesigned guard.

Part 1, the birth-weight table. There is no birth-weight file here, so a seeded table shaped
like MASS::birthwt is made in code (189 rows: low, age, lwt, race, smoke, ptl, ht, ui, ftv, bwt)
with a unique ``patient_id`` (``MRN`` + 6 digits), an ISO ``visit_date`` over two years, and an
``admission_date``/``discharge_date`` pair written day-first (``%d/%m/%Y``). It runs
``clinisynth generate`` on it (as a user would, in a subprocess; 30 % holdout, seed given) and
checks: no synthetic identifier equals a real one (required 0), identifiers keep the real
pattern, dates keep the real format and range, admission <= discharge on every row, the output
has the input's columns, order and dtypes. "No synthetic date equals a real one" is measured as
copying: the share of synthetic rows whose date tuple equals some real row's, against the same
share for the holdout rows (what chance gives); single dates coincide by chance (189 patients over
730 days), so the share of synthetic dates equal to *some* real date is printed beside the
holdout's share.

Part 2, the benchmark tables: the default hybrid on breast cancer, pima (``type``), cardiology
(``procedure``) and liver (``status``), seeds 0-2, with the benchmark's protocol (70/30 split by
seed, as many synthetic rows as training rows). Prints refused draws by rule, the rows of the
output the guard still refuses (must be 0), and KS / TSTR accuracy from ``clinisynth.audit``
beside the committed benchmark's values (``benchmarks/results/results.csv``).

Run:  PYTHONPATH=src .venv/bin/python benchmarks/roles_check.py [--seeds 0 1 2] [--skip-tables]
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
DATASETS = ROOT.parent / "shared" / "datasets"
TABLES = [("breast_cancer", None), ("pima_diabetes", "type"),
          ("cardiac_cabg_ptca", "procedure"), ("liver_pbc", "status")]
DATES = ("visit_date", "admission_date", "discharge_date")


def birthweight_table(seed: int = 0, n: int = 189) -> pd.DataFrame:
    """A seeded table shaped like MASS::birthwt, plus an identifier and three dates."""
    rng = np.random.default_rng(seed)
    age = np.clip(np.rint(rng.gamma(20.0, 1.15, n)), 14, 45).astype(int)
    lwt = np.clip(np.rint(rng.normal(130, 30, n)), 80, 250).astype(int)
    race = rng.choice([1, 2, 3], n, p=[0.51, 0.14, 0.35])
    smoke = (rng.random(n) < 0.39).astype(int)
    ptl = rng.choice([0, 1, 2, 3], n, p=[0.84, 0.13, 0.025, 0.005])
    ht = (rng.random(n) < 0.06).astype(int)
    ui = (rng.random(n) < 0.15).astype(int)
    ftv = rng.choice([0, 1, 2, 3, 4, 6], n, p=[0.53, 0.25, 0.16, 0.035, 0.02, 0.005])
    bwt = (3100 - 270 * smoke - 450 * ht - 500 * ui - 180 * ptl + 4 * (lwt - 130)
           - 250 * (race != 1) + rng.normal(0, 600, n))
    bwt = np.clip(np.rint(bwt), 709, 4990).astype(int)
    ids = rng.choice(1_000_000, n, replace=False)
    start = np.datetime64("2019-01-01")
    visit = start + rng.integers(0, 730, n).astype("timedelta64[D]")
    admission = start + rng.integers(0, 730, n).astype("timedelta64[D]")
    discharge = admission + np.rint(rng.gamma(1.5, 2.5, n)).astype("timedelta64[D]")
    return pd.DataFrame({
        "patient_id": [f"MRN{i:06d}" for i in ids],
        "low": (bwt < 2500).astype(int), "age": age, "lwt": lwt, "race": race,
        "smoke": smoke, "ptl": ptl, "ht": ht, "ui": ui, "ftv": ftv, "bwt": bwt,
        "visit_date": pd.Series(visit).dt.strftime("%Y-%m-%d"),
        "admission_date": pd.Series(admission).dt.strftime("%d/%m/%Y"),
        "discharge_date": pd.Series(discharge).dt.strftime("%d/%m/%Y"),
    })


def _shape(text: str) -> str:
    return re.sub(r"\d", "9", text)


def check_birthweight(seed: int, rows: int, workdir: Path) -> bool:
    from clinisynth.cli.generate import split_holdout
    from clinisynth.io import read_table

    df = birthweight_table(seed)
    data, out = workdir / "birthwt_ids.csv", workdir / "birthwt_synthetic.csv"
    df.to_csv(data, index=False)
    cmd = [sys.executable, "-c", "from clinisynth.cli import main; main()", "generate",
           "--data", str(data), "--target", "low", "--rows", str(rows), "--out", str(out),
           "--seed", str(seed)]
    print("$ clinisynth " + " ".join(cmd[3:]))
    start = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True,
                          env={"PYTHONPATH": str(ROOT / "src"), "COLUMNS": "250",
                               "PATH": "/usr/bin:/bin"})
    print(f"  exit {proc.returncode} in {time.perf_counter() - start:.0f} s")
    for line in proc.stdout.splitlines():
        if line.startswith(("column roles", "privacy guard", "generator weights")):
            print("  | " + line)
    if proc.returncode != 0:
        print(proc.stdout[-2000:], proc.stderr[-2000:])
        return False
    real = read_table(data)
    fake = read_table(out)
    train, holdout = split_holdout(real, "low", 0.3, seed)
    ok = True

    def verdict(label: str, good: bool, detail: str) -> None:
        nonlocal ok
        ok &= good
        print(f"  [{'ok' if good else 'FAIL'}] {label}: {detail}")

    verdict("columns, order and dtypes", list(fake.columns) == list(real.columns)
            and fake.dtypes.equals(real.dtypes), ", ".join(map(str, fake.dtypes.unique())))
    copied = int(fake["patient_id"].isin(set(real["patient_id"])).sum())
    verdict("synthetic identifiers equal to a real one (train or holdout)", copied == 0,
            f"{copied} of {len(fake)}")
    shapes = set(fake["patient_id"].map(_shape))
    verdict("identifier pattern", shapes == {"MRN999999"}, f"shapes {sorted(shapes)}; "
            f"{fake['patient_id'].nunique()} distinct of {len(fake)}")
    for col, fmt in (("visit_date", "%Y-%m-%d"), ("admission_date", "%d/%m/%Y"),
                     ("discharge_date", "%d/%m/%Y")):
        parsed = pd.to_datetime(fake[col], format=fmt, errors="coerce")
        real_dates = pd.to_datetime(train[col], format=fmt)
        same_text = fake[col].map(_shape).eq(real[col].map(_shape).iloc[0]).all()
        in_range = parsed.min() >= real_dates.min() and parsed.max() <= real_dates.max()
        verdict(f"{col} format and range", bool(parsed.notna().all() and same_text and in_range),
                f"{fmt}, {parsed.min().date()} to {parsed.max().date()} (train "
                f"{real_dates.min().date()} to {real_dates.max().date()})")
        synth_share = fake[col].isin(set(train[col])).mean()
        hold_share = holdout[col].isin(set(train[col])).mean()
        print(f"       share equal to some training date: synthetic {synth_share:.3f}, "
              f"holdout (chance) {hold_share:.3f}")
    adm = pd.to_datetime(fake["admission_date"], format="%d/%m/%Y")
    dis = pd.to_datetime(fake["discharge_date"], format="%d/%m/%Y")
    verdict("admission <= discharge", bool((adm <= dis).all()),
            f"{int((adm > dis).sum())} rows out of order")
    keys = list(DATES)
    train_tuples = set(map(tuple, train[keys].to_numpy()))
    synth_copy = np.mean([tuple(r) in train_tuples for r in fake[keys].to_numpy()])
    hold_copy = np.mean([tuple(r) in train_tuples for r in holdout[keys].to_numpy()])
    verdict("rows whose three dates equal a training patient's", synth_copy <= max(
        hold_copy, 1 / len(fake)), f"synthetic {synth_copy:.4f}, holdout (chance) {hold_copy:.4f}")
    notes = fake[["age", "lwt", "bwt"]].describe().loc[["mean", "std"]].round(1)
    print("  synthetic age/lwt/bwt mean, std:", notes.to_dict())
    return ok


def check_tables(seeds: list[int]) -> bool:
    from clinisynth.audit import audit
    from clinisynth.benchmark.grid import make_synthesizer, split_table
    from clinisynth.datasets import load_dataset

    reference = pd.read_csv(ROOT / "benchmarks" / "results" / "results.csv")
    reference = reference[reference.synthesizer == "hybrid"].set_index(["table", "seed"])
    print(f"{'table':<18}{'seed':>5}{'refused':>9}{'singling':>9}{'distance':>9}{'fallback':>9}"
          f"{'left':>6}{'KS':>8}{'KS was':>8}{'TSTR':>7}{'was':>7}{'sec':>6}  quasi-ids")
    ok = True
    for name, target in TABLES:
        if target is None:
            df, target = load_dataset(name)
        else:
            path = DATASETS / f"{name}.csv"
            if not path.is_file():
                print(f"{name}: {path} not found, skipped")
                continue
            df = pd.read_csv(path)
        for seed in seeds:
            start = time.perf_counter()
            train, holdout = split_table(df, target, seed)
            syn = make_synthesizer("hybrid", seed)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                syn.fit(train, target)
            fake = syn.sample(len(train))
            report = syn.guard_report_
            left = int(syn.guard_.refused(syn.roles_.transform(fake)).sum())
            ok &= left == 0 and len(fake) == len(train)
            head = audit(train, holdout, fake, target, seed=seed).headline()
            was = reference.loc[(name, seed)] if (name, seed) in reference.index else None
            rate = report.by_rule
            print(f"{name:<18}{seed:>5}{report.refused:>9}{rate.get('singling_out', 0):>9}"
                  f"{rate.get('distance', 0):>9}{report.fallback:>9}{left:>6}"
                  f"{head['ks_mean']:>8.4f}"
                  f"{(was['ks_mean'] if was is not None else float('nan')):>8.4f}"
                  f"{head['tstr_accuracy']:>7.3f}"
                  f"{(was['tstr_accuracy'] if was is not None else float('nan')):>7.3f}"
                  f"{time.perf_counter() - start:>6.0f}  {', '.join(syn.guard_.qi_) or '-'}",
                  flush=True)
    return ok


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--rows", type=int, default=1000)
    parser.add_argument("--skip-tables", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        print("== birth-weight table with patient_id and dates ==")
        ok = check_birthweight(args.seeds[0], args.rows, Path(tmp))
    if not args.skip_tables:
        print("== default hybrid on the benchmark tables (refused draws by rule; 'left': output "
              "rows the guard refuses) ==")
        ok &= check_tables(args.seeds)
    print("ALL CHECKS PASSED" if ok else "SOME CHECKS FAILED")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
