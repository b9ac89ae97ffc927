"""Tally of the input-path fuzzing: hostile tables through `clinisynth generate`.

Runs the strategy of ``tests/fuzz_tables.py`` (the one ``tests/test_fuzz_inputs.py`` uses) for
``--examples`` cases drawn with hypothesis from ``--seed``, and prints how many gave a valid
table, a clear one-line error, or anything else (a crash, a traceback, a second stderr line, a
file left behind, an output that breaks the schema), with the first lines of each "other".

    PYTHONPATH=src python benchmarks/fuzz_inputs.py --examples 500 --seed 0
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

from hypothesis import HealthCheck, given, seed, settings

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from fuzz_tables import Case, CaseFailure, hostile_cases, run_case  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", type=int, default=500)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--show-errors", action="store_true",
                        help="also print how often each error message (its start) occurred")
    parser.add_argument("--verbose", action="store_true", help="one line per case, with its time")
    args = parser.parse_args()
    tally: Counter[str] = Counter()
    others: list[str] = []
    errors: Counter[str] = Counter()
    start = time.perf_counter()

    @seed(args.seed)
    @settings(max_examples=args.examples, deadline=None, database=None,
              suppress_health_check=list(HealthCheck), phases=["generate"])
    @given(case=hostile_cases())
    def one(case: Case) -> None:
        t0 = time.perf_counter()
        with tempfile.TemporaryDirectory(prefix="clinisynth-fuzz-") as tmp:
            try:
                outcome = run_case(case, Path(tmp), errors)
            except CaseFailure as exc:
                outcome = "other"
                others.append(str(exc))
        tally[outcome] += 1
        if args.verbose:
            print(f"{time.perf_counter() - t0:6.1f} s  {outcome:5s}  {case!r}", flush=True)

    one()
    total = sum(tally.values())
    print(f"fuzz_inputs: {total} cases (hypothesis seed {args.seed}) in "
          f"{time.perf_counter() - start:.0f} s: {tally['valid']} valid, "
          f"{tally['error']} clear errors, {tally['other']} other")
    if args.show_errors:
        for message, count in errors.most_common():
            print(f"{count:5d}  {message}")
    for text in others:
        print("--- other:", text[:600])
    return 1 if tally["other"] else 0


if __name__ == "__main__":
    sys.exit(main())
