"""Where the time and peak memory of fit, sample and audit go at 100,000 rows.

On the seeded scale table (:func:`scale.make_table`, seed 0) it times schema inference (with
the survival-pair search), then fits the default :class:`~clinisynth.HybridSynthesizer`,
samples ``n`` rows and audits them against a fresh holdout as ``benchmarks/scale.py`` does
(logistic regression for utility). Around each phase of the audit it resets the process's RSS
high-water mark (``/proc/self/clear_refs``, Linux) and prints the phase's peak, so the phase
that sets the process peak is named.

Run:  PYTHONPATH=src .venv/bin/python benchmarks/audit_memory.py [--rows 100000] [--seed 0]
"""

from __future__ import annotations

import argparse
import functools
import resource
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from scale import HOLDOUT_SHARE, make_table  # noqa: E402

import clinisynth.audit as audit_module  # noqa: E402
from clinisynth import HybridSynthesizer  # noqa: E402
from clinisynth.schema import infer_schema  # noqa: E402

PHASES = ("check_inputs", "fidelity_scores", "utility_scores", "privacy_scores", "risk_scores",
          "value_exposure", "rule_violations")


def _status(key: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(key):
            return int(line.split()[1]) // 1024
    return -1


def _reset_peak() -> None:
    Path("/proc/self/clear_refs").write_text("5")


def traced(name: str, func: Callable[..., Any]) -> Callable[..., Any]:
    """``func`` printing its seconds, RSS before/after and RSS high-water mark."""
    @functools.wraps(func)
    def run(*args: Any, **kwargs: Any) -> Any:
        _reset_peak()
        before, start = _status("VmRSS"), time.perf_counter()
        out = func(*args, **kwargs)
        print(f"| {name} | {time.perf_counter() - start:.1f} | {before:,} | "
              f"{_status('VmRSS'):,} | {_status('VmHWM'):,} |", flush=True)
        return out
    return run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    n, seed = args.rows, args.seed
    data = make_table(n, seed)
    start = time.perf_counter()
    infer_schema(data, "outcome")
    print(f"schema inference on {n:,} rows: {time.perf_counter() - start:.1f} s")
    model = HybridSynthesizer(seed=seed).fit(data, "outcome")
    fake = model.sample(n, seed=seed)
    print(f"fit and sample: peak {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024:,}"
          " MB", flush=True)
    for name in PHASES:
        setattr(audit_module, name, traced(name, getattr(audit_module, name)))
    holdout = make_table(int(round(n * HOLDOUT_SHARE / (1 - HOLDOUT_SHARE))), seed + 10_000)
    print("\n| audit phase | seconds | RSS before MB | RSS after MB | phase peak MB |")
    print("|---|---:|---:|---:|---:|")
    audit_module.audit(data, holdout, fake, "outcome", seed=seed,
                       models=("logistic_regression",))


if __name__ == "__main__":
    main()
