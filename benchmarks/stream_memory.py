"""Streaming writes (issue 11): peak memory of `clinisynth sample` stays bounded as --rows grows.

Fits a model on the seeded clinical-shaped table of :func:`benchmarks.scale.make_table`
(``--fit-rows`` rows, target ``outcome``), saves it, then for each output format and each
``--rows`` size runs ``clinisynth sample --model M --rows N --out X.<format>`` in a child
process and prints its wall time, rows/s and peak RSS. The peak is the child's
``ru_maxrss`` (the ``getrusage`` accounting of a child process), read with ``os.wait4`` for that
one child: ``getrusage(RUSAGE_CHILDREN)`` is the maximum over *every* child waited for so far,
which would hide a smaller run behind a larger one. ``sample`` writes .csv and .parquet chunk by
chunk (``CHUNK_ROWS`` rows at a time), so the peak should grow far less than the rows do
(1,000,000 rows vs 200,000: well under 5x); the last column is each run's peak over the
smallest size's peak for that format.

The fit uses ``--weights gmm`` by default (a fast fit; sampling memory is what is measured
here); give ``--weights learned`` for the default model.

Run:  PYTHONPATH=src .venv/bin/python benchmarks/stream_memory.py
      [--fit-rows 20000] [--rows 200000 1000000] [--formats csv parquet] [--seed 0]
      [--weights gmm] [--threads 1] [--workdir DIR] [--out results.md]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))
sys.path.insert(0, str(ROOT / "src"))

from scale import make_table  # noqa: E402

CLI = [sys.executable, "-c", "from clinisynth.cli import main; main()"]


def fit_model(fit_rows: int, seed: int, weights: str, model_dir: Path) -> float:
    """Fit on ``make_table(fit_rows, seed)`` and save to ``model_dir``; the fit's seconds."""
    from clinisynth import HybridSynthesizer
    from clinisynth.weights import parse_weights

    start = time.perf_counter()
    syn = HybridSynthesizer(weights=parse_weights(weights), seed=seed)
    syn.fit(make_table(fit_rows, seed), "outcome").save(model_dir)
    return time.perf_counter() - start


def run_sample(model_dir: Path, rows: int, out: Path, seed: int, threads: int | None
               ) -> tuple[float, float]:
    """``clinisynth sample`` in a child process: ``(seconds, peak RSS in MiB)``."""
    args = CLI + ["sample", "--model", str(model_dir), "--rows", str(rows), "--seed", str(seed),
                  "--out", str(out)]
    if threads is not None:
        args += ["--threads", str(threads)]
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    start = time.perf_counter()
    proc = subprocess.Popen(args, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    assert proc.stderr is not None
    err = proc.stderr.read()
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    seconds = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"sample --rows {rows} --out {out} failed ({proc.returncode}): "
                         f"{err.decode(errors='replace').strip()}")
    scale = 1024 if sys.platform != "darwin" else 1024 * 1024  # KiB on Linux, bytes on macOS
    return seconds, usage.ru_maxrss / scale


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fit-rows", type=int, default=20_000)
    parser.add_argument("--rows", type=int, nargs="+", default=[200_000, 1_000_000])
    parser.add_argument("--formats", nargs="+", default=["csv", "parquet"],
                        choices=["csv", "parquet"])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--weights", default="gmm")
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--workdir", type=Path, default=None,
                        help="where the model and outputs go (default: a temporary directory)")
    parser.add_argument("--out", type=Path, default=None, help="also write the table here")
    args = parser.parse_args(argv)
    sizes = sorted(set(args.rows))

    with tempfile.TemporaryDirectory(prefix="stream_memory.") as tmp:
        work = args.workdir or Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        model_dir = work / "model"
        fit_seconds = fit_model(args.fit_rows, args.seed, args.weights, model_dir)
        lines = [f"model: --weights {args.weights}, fitted on {args.fit_rows} rows × 30 columns "
                 f"in {fit_seconds:.1f} s; sample --threads {args.threads or 'default'}", "",
                 "| format | rows | seconds | rows/s | peak RSS (MiB) | peak / smallest |",
                 "|---|---:|---:|---:|---:|---:|"]
        print("\n".join(lines), flush=True)
        for fmt in args.formats:
            first = None
            for rows in sizes:
                out = work / f"sample_{rows}.{fmt}"
                seconds, peak = run_sample(model_dir, rows, out, args.seed, args.threads)
                first = first or peak
                out.unlink()
                line = (f"| {fmt} | {rows:,} | {seconds:.1f} | {rows / seconds:,.0f} | "
                        f"{peak:,.0f} | {peak / first:.2f} |")
                lines.append(line)
                print(line, flush=True)
    if args.out is not None:
        args.out.write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
