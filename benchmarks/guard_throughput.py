"""Throughput of the privacy guard: fit on 100,000 training rows, check 100,000 synthetic rows.

The table is seeded and made in code: an integer age and a sex (quasi-identifiers, so the
singling-out rule is on), 14 more continuous columns and 5 categorical columns of 4 values,
40 dimensions in the guard's record encoding; the "synthetic" rows are a fresh draw of the same
distribution. Prints fit and ``check`` seconds (wall and CPU: the machine may be shared), rows/s,
and refusals per rule; then the machine's float32 matrix-product rate (numpy's BLAS, square
2048 products and the guard's own block shape) and the ceiling it puts on any exact check that
compares each synthetic row with every training row: ``2 (d + 1) N`` flops per row, so at most
``rate / (2 (d + 1) N)`` rows/s.

Run:  PYTHONPATH=src .venv/bin/python benchmarks/guard_throughput.py [--rows 100000]
      [--check-rows N] [--threads 2] [--share-radius S] [--isolation R]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import pandas as pd

from clinisynth.guard import PrivacyGuard
from clinisynth.range_search import QUERY_BLOCK, REFERENCE_BLOCK
from clinisynth.schema import infer_schema
from clinisynth.threads import thread_limits


def gemm_rate(m: int, k: int, n: int, seconds: float = 3.0) -> float:
    """Float32 GFLOP/s of ``(m, k) @ (k, n)`` products, repeated for about ``seconds``."""
    rng = np.random.default_rng(0)
    a = rng.standard_normal((m, k), dtype=np.float32)
    b = rng.standard_normal((k, n), dtype=np.float32)
    a @ b  # warm up
    done, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        a @ b
        done += 1
    return 2.0 * m * k * n * done / (time.perf_counter() - start) / 1e9


def table(n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    cols: dict[str, np.ndarray] = {"age": rng.integers(18, 95, n),
                                   "sex": rng.choice(["F", "M"], n)}
    latent = rng.normal(size=(n, 3))
    for j in range(14):
        cols[f"lab{j}"] = latent @ rng.normal(size=3) + rng.normal(0, 0.5, n)
    for j in range(5):
        cols[f"code{j}"] = rng.choice(["a", "b", "c", "d"], n, p=[0.4, 0.3, 0.2, 0.1])
    cols["outcome"] = np.where(latent[:, 0] + rng.normal(size=n) > 0, "yes", "no")
    return pd.DataFrame(cols)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--check-rows", type=int, default=None,
                        help="synthetic rows to check (default: --rows)")
    parser.add_argument("--threads", type=int, default=-1, help="BLAS threads (-1: all cores)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--share-radius", type=float, default=None,
                        help="PrivacyGuard(share_radius=...) (default: the guard's default)")
    parser.add_argument("--isolation", type=float, default=None,
                        help="PrivacyGuard(isolation=...) (default: the guard's default)")
    args = parser.parse_args()
    train = table(args.rows, args.seed)
    synthetic = table(args.check_rows or args.rows, args.seed + 1)
    schema = infer_schema(train, "outcome")
    with thread_limits(args.threads):
        start, cpu = time.perf_counter(), time.process_time()
        options = {k: v for k, v in (("share_radius", args.share_radius),
                                     ("isolation", args.isolation)) if v is not None}
        guard = PrivacyGuard(**options).fit(train, schema)
        fit, fit_cpu = time.perf_counter() - start, time.process_time() - cpu
        start, cpu = time.perf_counter(), time.process_time()
        refused, rules = guard.check(synthetic)
        check, check_cpu = time.perf_counter() - start, time.process_time() - cpu
    names, counts = np.unique(rules, return_counts=True)
    print(f"train {len(train)} rows x {guard.records_.shape[1]} encoded dims, quasi-identifiers "
          f"{guard.qi_}, {len(guard.rare_rows_)} rare patients, tau {guard.threshold_:.3f}; "
          f"share_radius {guard.share_radius:g}, isolation {guard.isolation:g}")
    print(f"fit {fit:.1f} s wall ({fit_cpu:.1f} s CPU); check {len(synthetic)} rows in "
          f"{check:.1f} s wall ({check_cpu:.1f} s CPU, all threads) = "
          f"{len(synthetic) / check:,.0f} rows/s wall, {len(synthetic) / check_cpu:,.0f} rows per "
          f"CPU-second (threads {args.threads}); refused "
          f"{int(refused.sum())}: {dict(zip(names.tolist(), counts.tolist(), strict=True))}")
    dims = guard.records_.shape[1] + 1
    with thread_limits(args.threads):
        square = gemm_rate(2048, 2048, 2048)
        block = gemm_rate(QUERY_BLOCK, dims, min(REFERENCE_BLOCK, len(train)))
    flops_per_row = 2.0 * dims * len(train)
    print(f"float32 matrix products (threads {args.threads}): {square:,.0f} GFLOP/s square 2048, "
          f"{block:,.0f} GFLOP/s at the guard's block shape ({QUERY_BLOCK} x {dims} @ {dims} x "
          f"{min(REFERENCE_BLOCK, len(train)):,}); an exact check of one row against "
          f"{len(train):,} training rows needs {flops_per_row / 1e6:,.1f} MFLOP, so at most "
          f"{square * 1e9 / flops_per_row:,.0f} rows/s at the square rate and "
          f"{block * 1e9 / flops_per_row:,.0f} at the block rate (the products alone)")


if __name__ == "__main__":
    main()
