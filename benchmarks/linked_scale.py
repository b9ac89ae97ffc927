"""Issue 28 scale check: a seeded longitudinal cohort of 20,000 patients and about 500,000
child rows (visits and infection intervals) fitted and sampled by ``LinkedSynthesizer``.

The cohort is :func:`clinisynth.linked.cohort.simulate_cohort` (``--mean-visits``,
``--gap-days``). Fit on every patient (the parent's weight search capped at
``--search-seconds``), then sample as many patients. Time is wall-clock; peak memory is this
process's resident high-water mark (``ru_maxrss``), the cohort itself included. Target: under
10 minutes and 4 GB on 2 cores. Then the linked audit (``linked_audit``, what ``clinisynth
generate`` runs before it writes) against a fresh cohort of
``--patients // 3`` patients (seed + 1, never seen by the generator), timed apart (not in the
target's total; the peak memory column is taken before it, the audit's own peak beside it).
The last column counts the synthetic patients the patient guard refused and drew again.

Run:  .venv/bin/python benchmarks/linked_scale.py [--patients 20000] [--seed 0]
Writes benchmarks/results/linked_scale.md.
"""

from __future__ import annotations

import argparse
import resource
import sys
import time
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from report_head import command_line, measured_commit, report_head  # noqa: E402

from clinisynth.audit.linked import linked_audit, structure  # noqa: E402
from clinisynth.linked import LinkedSynthesizer  # noqa: E402
from clinisynth.linked.cohort import simulate_cohort  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--patients", type=int, default=20_000)
    parser.add_argument("--mean-visits", type=float, default=36.0)
    parser.add_argument("--gap-days", type=int, default=60)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--search-seconds", type=float, default=60.0)
    parser.add_argument("--out", type=Path,
                        default=ROOT / "benchmarks" / "results" / "linked_scale.md")
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    start = time.perf_counter()
    tables = simulate_cohort(args.patients, args.seed, args.mean_visits, args.gap_days)
    made = time.perf_counter() - start
    child_rows = sum(len(t) for n, t in tables.items() if n != "patients")
    start = time.perf_counter()
    syn = LinkedSynthesizer(seed=args.seed, parent_options={
        "search": {"seconds": args.search_seconds}}).fit(tables, "status")
    fit_s = time.perf_counter() - start
    start = time.perf_counter()
    fake = syn.sample(args.patients, seed=args.seed)
    sample_s = time.perf_counter() - start
    fake_rows = sum(len(t) for n, t in fake.items() if n != "patients")
    broken = {t: sum(v for k, v in row.items() if k != "rows")
              for t, row in structure(fake, syn.links_).items()}
    total = fit_s + sample_s
    peak = peak_mb()
    holdout = simulate_cohort(args.patients // 3, args.seed + 1, args.mean_visits, args.gap_days)
    start = time.perf_counter()
    linked_audit(tables, holdout, fake, syn.links_, target="status", seed=args.seed)
    audit_s = time.perf_counter() - start
    row = (f"| {args.patients:,} | {child_rows:,} | {fit_s:.0f} | {sample_s:.0f} | "
           f"{total:.0f} | {peak:,.0f} | {fake_rows:,} | {broken} | "
           f"{'yes' if total < 600 and peak < 4096 else 'no'} | {audit_s:.0f} | "
           f"{peak_mb():,.0f} | {syn.guard_report_['refused']:,} |")
    command = command_line()
    header = (f"Seed {args.seed}; 2 cores; the cohort took {made:.0f} s to simulate (not "
              f"counted); clinisynth at {measured_commit()}.")
    lines = report_head("Linked tables at scale (issue 28)", command, header, __doc__)
    lines += ["| patients | child rows | fit s | sample s | total s | peak MB | synthetic child "
              "rows | structure broken | within target | audit s | peak MB with the audit | "
              "patients the guard refused |",
              "|---:|---:|---:|---:|---:|---:|---:|---|---|---:|---:|---:|", row]
    args.out.write_text("\n".join(lines) + "\n")
    print("\n".join(lines[-3:]))


if __name__ == "__main__":
    main()
