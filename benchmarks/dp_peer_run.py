"""Run an established differential-privacy synthesizer (SmartNoise MST or AIM) as a benchmark peer.

This script runs INSIDE the peer's own virtual environment (its pins clash with clinisynth's) and
does not import clinisynth. Set it up once:

    python3.11 -m venv /work/peers/smartnoise
    /work/peers/smartnoise/bin/pip install torch==2.13.0 smartnoise-synth==1.0.8

(smartnoise-synth pins opacus 0.14, which needs torch; MST/AIM themselves never use it.)

Usage (from the repository root):

    /work/peers/smartnoise/bin/python benchmarks/dp_peer_run.py --method mst \
        --epsilon 1.0 --delta 1e-6 --seed 0 --train train.csv --out synthetic.csv --rows N \
        --categorical col1,col2 --continuous col3,col4 [--bounds bounds.json] [--bins 10]

It fits the peer on the training CSV at (epsilon, delta), samples N rows, writes them atomically
(temp file in the output's folder, then os.replace) and prints ONE JSON line on stdout:
{"method", "epsilon", "delta", "seconds", "rows"}; "seconds" is wall-clock fit + sample (not
CSV I/O, not imports). Everything the library prints goes to stderr.

Columns. Every CSV column must be named in --categorical or --continuous (an error otherwise), and
the output has the same columns in the same order.
- Categorical: read as strings and kept as strings (SmartNoise LabelTransformer). NOTE: the set of
  categories is taken from the training data without privacy (SmartNoise's behaviour), so the
  category domains must be treated as public.
- Continuous: MST and AIM need discrete data, so each is cut into --bins equal-width bins
  (SmartNoise BinTransformer, default 10 bins) and sampled values are bin MIDPOINTS, cast to float.
  Values outside the bounds are clipped to them. A continuous column with missing values gets
  SmartNoise's null indicator (that a column has missing values is read from the data).
  Bounds: with --bounds (JSON {column: [lo, hi]}) the bounds are public and cost no budget. A
  continuous column without public bounds has them estimated by SmartNoise's DP approx_bounds
  (Laplace histogram, pure epsilon), which is charged to the budget.

Budget split (epsilon, delta):
- Preprocessing: eps_pre = --preprocessor-eps if given, else 0 when every continuous column has
  public bounds and 0.1 * epsilon otherwise. SmartNoise splits eps_pre equally over the
  continuous columns that lack bounds (basic composition) and subtracts it from epsilon.
- The synthesizer gets (epsilon - eps_pre, delta), converted to zCDP rho by OpenDP's
  cdp_rho. MST: rho/3 for the noisy 1-way marginals, rho/3 for choosing the spanning tree
  (exponential mechanism), rho/3 for the noisy 2-way marginals of the tree. AIM: per round 90 %
  of that round's rho to a Gaussian marginal measurement and 10 % to choosing it (exponential
  mechanism); rounds default to 16 * number of columns, and the 1-way marginals are measured first.
- delta is never split: preprocessing is pure epsilon.

Seeding. --seed seeds Python's `random` and numpy's global generator, which SmartNoise and mbi
(private-pgm) use for every exponential-mechanism choice, AIM's workload subsampling, MST's
decompression of rare values, and mbi's synthetic-data sampling. The script also re-executes
itself once with PYTHONHASHSEED=0, because AIM's candidate order comes from a set of column
tuples. NOT seedable: the Gaussian noise of every measurement and the Laplace noise of the bound
estimates come from OpenDP's samplers (OS cryptographic randomness), so two runs with the same
seed give different synthetic data. jax runs on CPU and is deterministic.

AIM cost knobs: --max-model-size (MB of the graphical model, default 80), --rounds (default
16 * columns), --degree (workload marginal order, default 2), --max-cells (largest workload
marginal, default 10000), --num-marginals (random subset of the workload). Fewer rounds or a
smaller model make AIM faster.
"""

from __future__ import annotations

import os
import sys

# Fix hash randomization before anything else: AIM orders candidates through a set of tuples.
if os.environ.get("PYTHONHASHSEED") != "0":
    os.environ["PYTHONHASHSEED"] = "0"
    os.execv(sys.executable, [sys.executable, *sys.argv])

import argparse  # noqa: E402
import contextlib  # noqa: E402
import json  # noqa: E402
import random  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from peer_io import write_atomic  # noqa: E402

METHODS = ("mst", "aim")


def _names(text: str | None) -> list[str]:
    return [c.strip() for c in (text or "").split(",") if c.strip()]


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--method", required=True, choices=METHODS)
    p.add_argument("--epsilon", required=True, type=float)
    p.add_argument("--delta", required=True, type=float)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--train", required=True, type=Path)
    p.add_argument("--out", required=True, type=Path)
    p.add_argument("--rows", required=True, type=int)
    p.add_argument("--categorical", default="", help="comma-separated column names")
    p.add_argument("--continuous", default="", help="comma-separated column names")
    p.add_argument("--bounds", type=Path, help="JSON {column: [lo, hi]}: public bounds, no budget")
    p.add_argument("--bins", type=int, default=10, help="bins per continuous column (default 10)")
    p.add_argument("--preprocessor-eps", type=float, default=None,
                   help="epsilon for DP bounds of continuous columns without --bounds "
                        "(default: 0 if all have bounds, else 0.1 * epsilon)")
    aim = p.add_argument_group("AIM options (ignored by MST)")
    aim.add_argument("--max-model-size", type=float, default=80.0)
    aim.add_argument("--rounds", type=int, default=None)
    aim.add_argument("--degree", type=int, default=2)
    aim.add_argument("--max-cells", type=int, default=10000)
    aim.add_argument("--num-marginals", type=int, default=None)
    p.add_argument("--verbose", action="store_true")
    a = p.parse_args(argv)
    if a.epsilon <= 0 or not 0 < a.delta < 1:
        p.error("need epsilon > 0 and 0 < delta < 1")
    if a.rows < 1 or a.bins < 2:
        p.error("need --rows >= 1 and --bins >= 2")
    return a


def read_table(path: Path, categorical: list[str], continuous: list[str]) -> pd.DataFrame:
    df = pd.read_csv(path, dtype=str, keep_default_na=False, na_values=[])
    cols = list(df.columns)
    both = set(categorical) & set(continuous)
    missing = [c for c in categorical + continuous if c not in cols]
    unlisted = [c for c in cols if c not in categorical and c not in continuous]
    if both or missing or unlisted:
        raise SystemExit(f"column lists do not match {path}: in both {sorted(both)}, "
                         f"not in CSV {missing}, not listed {unlisted}")
    for c in continuous:
        raw = df[c].str.strip()
        num = pd.to_numeric(raw.replace({"": None, "NA": None, "NaN": None, "nan": None}),
                            errors="coerce")
        bad = num.isna() & ~raw.isin(["", "NA", "NaN", "nan"])
        if bad.any():
            raise SystemExit(f"continuous column {c!r} has non-numeric values, "
                             f"e.g. {raw[bad].iloc[0]!r}")
        df[c] = num.astype(float)
    return df


def build_transformer(df: pd.DataFrame, categorical, continuous, bounds: dict, bins: int):
    from snsynth.transform import BinTransformer, LabelTransformer, TableTransformer

    ts = []
    for c in df.columns:
        if c in categorical:
            ts.append(LabelTransformer(nullable=False))
        else:
            lo, hi = bounds.get(c, (None, None))
            if lo is not None and not float(lo) < float(hi):
                raise SystemExit(f"bounds for {c!r} need lo < hi, got {lo}, {hi}")
            ts.append(BinTransformer(bins=bins,
                                     lower=None if lo is None else float(lo),
                                     upper=None if hi is None else float(hi),
                                     nullable=bool(df[c].isna().any())))
    return TableTransformer(ts)


def make_synth(a: argparse.Namespace):
    from snsynth import Synthesizer

    if a.method == "mst":
        return Synthesizer.create("mst", epsilon=a.epsilon, delta=a.delta, verbose=a.verbose)
    return Synthesizer.create("aim", epsilon=a.epsilon, delta=a.delta, verbose=a.verbose,
                              max_model_size=a.max_model_size, rounds=a.rounds,
                              degree=a.degree, max_cells=a.max_cells,
                              num_marginals=a.num_marginals)


def main(argv: list[str] | None = None) -> int:
    a = parse_args(argv)
    categorical, continuous = _names(a.categorical), _names(a.continuous)
    bounds = json.loads(a.bounds.read_text()) if a.bounds else {}
    unknown = sorted(set(bounds) - set(continuous))
    if unknown:
        print(f"dp_peer_run: ignoring bounds of non-continuous columns {unknown}", file=sys.stderr)
    df = read_table(a.train, categorical, continuous)
    unbounded = [c for c in continuous if c not in bounds]
    pre_eps = a.preprocessor_eps
    if pre_eps is None:
        pre_eps = 0.1 * a.epsilon if unbounded else 0.0
    if unbounded and not 0 < pre_eps < a.epsilon:
        raise SystemExit(f"columns {unbounded} have no public bounds: need "
                         f"0 < --preprocessor-eps < epsilon, got {pre_eps}")
    if not unbounded:
        pre_eps = 0.0

    random.seed(a.seed)
    np.random.seed(a.seed)  # noqa: NPY002 -- SmartNoise and mbi draw from the global generator

    transformer = build_transformer(df, categorical, continuous, bounds, a.bins)
    synth = make_synth(a)
    # SmartNoise prints progress on stdout; keep stdout for the one JSON line.
    with contextlib.redirect_stdout(sys.stderr):
        t0 = time.perf_counter()
        try:
            synth.fit(df, transformer=transformer, preprocessor_eps=pre_eps)
        except ValueError as e:
            if "could not find bounds" not in str(e):
                raise
            raise SystemExit(f"dp_peer_run: SmartNoise's DP bound estimate failed ({e}) with "
                             f"{pre_eps / len(unbounded):.3g} epsilon per column; pass public "
                             "--bounds or a larger --preprocessor-eps") from e
        sample = synth.sample(a.rows)
        seconds = time.perf_counter() - t0
    print(f"dp_peer_run: {a.method} eps={a.epsilon} (preprocessing {pre_eps} on "
          f"{len(unbounded)} unbounded columns, synthesizer {synth.epsilon}) delta={a.delta}",
          file=sys.stderr)

    sample = pd.DataFrame(sample, columns=list(df.columns))
    for c in categorical:
        sample[c] = sample[c].astype(str)
    for c in continuous:
        # bin midpoints: round off float noise (13.649999999999999 -> 13.65), keep float dtype
        sample[c] = pd.to_numeric(sample[c], errors="coerce").astype(float).round(12)
    write_atomic(sample, a.out)
    print(json.dumps({"method": a.method, "epsilon": a.epsilon, "delta": a.delta,
                      "seconds": round(seconds, 3), "rows": int(len(sample))}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
