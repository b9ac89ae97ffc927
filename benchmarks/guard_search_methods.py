"""Why the guard's distance rule is an exact brute-force range search: the alternatives, timed.

On the seeded 30-column table of ``benchmarks/scale.py`` (``--rows`` training rows, encoded as
the guard encodes them: 46 dimensions), fresh rows of the same population are queried for
training rows within ``tau`` (the guard's default 5th-percentile threshold). Printed per method:
queries per second and, for approximate ones, the share of the true within-``tau`` pairs found.

- ``pairs_within``: the guard's search (float32 matrix-product blocks, float64 decision);
- scikit-learn brute-force ``kneighbors`` (what the guard used before);
- scikit-learn ``BallTree`` and ``KDTree`` radius queries (exact);
- faiss ``IndexFlatL2`` (exact) and ``IndexHNSWFlat`` at several ``efSearch`` (approximate), when
  faiss is installed (``pip install faiss-cpu``; not a dependency of clinisynth).

Run:  PYTHONPATH=src .venv/bin/python benchmarks/guard_search_methods.py [--rows 100000]
      [--queries 4000] [--tree-queries 300] [--threads 1] [--seed 0]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
from sklearn.neighbors import BallTree, KDTree, NearestNeighbors
from threadpoolctl import threadpool_limits

sys.path.insert(0, str(Path(__file__).resolve().parent))
from scale import make_table  # noqa: E402

from clinisynth.distances import RecordEncoder  # noqa: E402
from clinisynth.guard import PrivacyGuard, positive_loo_percentile  # noqa: E402
from clinisynth.range_search import pairs_within  # noqa: E402
from clinisynth.schema import infer_schema  # noqa: E402
from clinisynth.threads import thread_limits  # noqa: E402


def timed(fn, n: int) -> tuple[float, object]:
    start = time.perf_counter()
    out = fn()
    return n / (time.perf_counter() - start), out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--queries", type=int, default=4_000)
    parser.add_argument("--tree-queries", type=int, default=300)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    train, fresh = make_table(args.rows, args.seed), make_table(args.queries, args.seed + 1)
    schema = infer_schema(train, "outcome")
    encoder = RecordEncoder(schema).fit(train)
    R, Q = encoder.transform(train), encoder.transform(fresh)
    tau = positive_loo_percentile(R, PrivacyGuard().percentile)
    print(f"{len(R):,} training rows x {R.shape[1]} dims, {len(Q):,} queries, tau {tau:.3f} "
          f"(5th percentile), threads {args.threads}")
    with thread_limits(args.threads):
        rate, (rows, train_rows, _) = timed(lambda: pairs_within(Q, R, tau), len(Q))
    truth = {(int(i), int(j)) for i, j in zip(rows, train_rows, strict=True)}
    print(f"pairs_within (exact): {rate:,.0f} queries/s; {len(truth)} pairs within tau, "
          f"{len(set(rows.tolist()))} queries with one")
    with threadpool_limits(args.threads):
        nn = NearestNeighbors(n_neighbors=5, algorithm="brute").fit(R)
        rate, _ = timed(lambda: nn.kneighbors(Q), len(Q))
    print(f"scikit-learn brute kneighbors (exact, k=5): {rate:,.0f} queries/s")
    few = Q[:args.tree_queries]
    for name, cls in (("BallTree", BallTree), ("KDTree", KDTree)):
        tree = cls(R)
        rate, _ = timed(lambda t=tree: t.query_radius(few, r=tau, count_only=True), len(few))
        print(f"scikit-learn {name} radius query (exact): {rate:,.1f} queries/s")
    try:
        import faiss
    except ImportError:
        print("faiss not installed: its flat and HNSW indexes skipped (pip install faiss-cpu)")
        return
    faiss.omp_set_num_threads(args.threads)
    R32, Q32 = np.ascontiguousarray(R, dtype=np.float32), np.ascontiguousarray(Q, dtype=np.float32)
    flat = faiss.IndexFlatL2(R.shape[1])
    flat.add(R32)
    rate, _ = timed(lambda: flat.search(Q32, 10), len(Q))
    print(f"faiss IndexFlatL2 (exact, k=10): {rate:,.0f} queries/s")
    hnsw = faiss.IndexHNSWFlat(R.shape[1], 32)
    hnsw.hnsw.efConstruction = 64
    start = time.perf_counter()
    hnsw.add(R32)
    print(f"faiss HNSW build: {time.perf_counter() - start:.1f} s")
    for ef in (32, 64, 128, 256):
        hnsw.hnsw.efSearch = ef
        rate, (dist, idx) = timed(lambda: hnsw.search(Q32, 10), len(Q))
        found = {(i, int(j)) for i in range(len(Q)) for d, j in zip(dist[i], idx[i], strict=True)
                 if j >= 0 and np.sqrt(d) < tau}
        recall = len(found & truth) / max(1, len(truth))
        print(f"faiss HNSW efSearch {ef} (approximate, k=10): {rate:,.0f} queries/s, "
              f"recall of the within-tau pairs {recall:.4f}")


if __name__ == "__main__":
    main()
