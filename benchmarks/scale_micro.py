"""Micro timings behind issue 11's changes (seed 0), for the source tree given.

``gmm einsum|loop``: sampling 50,000 rows at d = 56 from 5 components, batched (n, d, d) einsum
vs one product per component. ``generators SRC smote gmm``: encode/decode 20,000 rows of the
scale table, then fit and sample 20,000 rows twice with each generator of the tree ``SRC``
(compare a checkout of main with this branch).

Run:  OPENBLAS_NUM_THREADS=1 python benchmarks/scale_micro.py gmm einsum
      python benchmarks/scale_micro.py generators /path/to/tree smote gmm
"""

from __future__ import annotations

import resource
import sys
import time
from pathlib import Path

import numpy as np


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def gmm(mode: str) -> None:
    n, d, c = 50_000, 56, 5
    rng = np.random.default_rng(0)
    a = rng.standard_normal((c, d, d))
    chol = np.linalg.cholesky(a @ a.transpose(0, 2, 1) + d * np.eye(d))
    means = rng.standard_normal((c, d))
    base, t, cpu = peak_mb(), time.perf_counter(), time.process_time()
    comp = rng.choice(c, size=n)
    z = rng.standard_normal((n, d))
    if mode == "einsum":
        out = means[comp] + np.einsum("nij,nj->ni", chol[comp], z)
    else:
        out = np.empty_like(z)
        for k in np.unique(comp):
            rows = comp == k
            out[rows] = means[k] + z[rows] @ chol[k].T
    print(mode, f"wall {time.perf_counter() - t:.3f} s, CPU {time.process_time() - cpu:.3f} s, "
          f"extra peak {peak_mb() - base:.0f} MB, rows {len(out)}")


def generators(src: str, names: list[str]) -> None:
    sys.path.insert(0, str(Path(src) / "src"))
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from scale import make_table

    from clinisynth.encoding import TableEncoder
    from clinisynth.generators import get_generator
    from clinisynth.schema import infer_schema

    df = make_table(20_000, 0)
    enc = TableEncoder(infer_schema(df, "outcome")).fit(df)
    t = time.process_time()
    X, y = enc.transform(df, np.random.default_rng(0))
    print(f"encode 20k: CPU {time.process_time() - t:.2f} s")
    t = time.process_time()
    enc.inverse_transform(X, y)
    print(f"decode 20k: CPU {time.process_time() - t:.2f} s")
    for name in names:
        gen = get_generator(name)(seed=0)
        t = time.process_time()
        gen.fit(X, y, enc.blocks_)
        fit_cpu = time.process_time() - t
        counts = dict(enumerate(np.bincount(y).tolist()))
        cpu = []
        for s in (1, 2):
            t = time.process_time()
            gen.sample(counts, np.random.default_rng(s))
            cpu.append(time.process_time() - t)
        print(f"{name}: fit CPU {fit_cpu:.2f} s, sample 20k CPU {cpu[0]:.2f} s / {cpu[1]:.2f} s, "
              f"peak {peak_mb():.0f} MB")


if __name__ == "__main__":
    if sys.argv[1] == "gmm":
        gmm(sys.argv[2])
    else:
        generators(sys.argv[2], sys.argv[3:])
