"""The survival step at hospital size: a seeded 100,000-patient cohort with a study window.

The cohort (made in code, seed 0): enrolment year 2000-2014 (whole years; the day unrecorded),
age, sex, two labs and a stage; death times exponential with a hazard rising with age, stage
and one lab; follow-up closes on day 100 of 2016, so ``365.25·year + futime ≤ close`` for
every patient and most survivors are censored at the close. Target ``death`` (the event).

Prints, for ``--rows`` patients: the :class:`~clinisynth.survival.SurvivalStep`'s own fit,
transform and inverse seconds; the default hybrid's fit seconds, sampling seconds for as many
rows, and the process's peak RSS; the window found; and the synthetic rows past the close
(0 by construction); then the survival audit (:func:`~clinisynth.audit.survival.survival_scores`:
KM distances, two Cox fits and the C-index gap's interval) against a fresh cohort of
``--rows // 3`` patients (seed + 1, never seen by the generator), and the interval alone.

Run:  PYTHONPATH=src .venv/bin/python benchmarks/survival_scale.py [--rows 100000] [--threads 2]
"""

from __future__ import annotations

import argparse
import resource
import time

import numpy as np
import pandas as pd


def cohort(n: int, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    year = rng.integers(2000, 2015, n)
    day = rng.uniform(0, 365, n)
    age = np.clip(rng.normal(62, 12, n), 18, 99).round()
    stage = rng.choice([1, 2, 3, 4], n, p=[0.4, 0.3, 0.2, 0.1])
    lab1 = rng.lognormal(0, 0.4, n).round(2)
    lab2 = rng.normal(100, 15, n).round(1)
    hazard = np.exp(-9.2 + 0.04 * (age - 62) + 0.35 * stage + 0.3 * np.log(lab1))
    death_time = rng.exponential(1 / hazard)
    close = 365.25 * 2016 + 100
    window = close - (365.25 * year + day)
    return pd.DataFrame({"year": year, "age": age.astype(int),
                         "sex": rng.choice(["F", "M"], n), "stage": stage, "lab1": lab1,
                         "lab2": lab2,
                         "futime": np.floor(np.minimum(death_time, window)).astype(int),
                         "death": (death_time <= window).astype(int)})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    from clinisynth import HybridSynthesizer
    from clinisynth.schema import infer_schema
    from clinisynth.steps.survival import SurvivalStep

    df = cohort(args.rows, args.seed)
    schema = infer_schema(df, "death")
    t0 = time.perf_counter()
    step = SurvivalStep().fit_table(df, schema)
    t1 = time.perf_counter()
    model = step.transform_table(df)
    t2 = time.perf_counter()
    step.inverse_table(model, np.random.default_rng(0))
    t3 = time.perf_counter()
    print(f"# PYTHONPATH=src .venv/bin/python benchmarks/survival_scale.py --rows {args.rows} "
          f"--threads {args.threads}   (seed {args.seed})")
    print(f"survival pair {schema.survival}; window {step.window_ and {k: step.window_[k] for k in ('entry', 'scale', 'end', 'rows_at_end', 'gap')}}; "  # noqa: E501
          f"{len(step.cells_)} cells")
    print(f"SurvivalStep on {args.rows:,} rows: fit {t1 - t0:.2f} s, transform {t2 - t1:.2f} s, "
          f"inverse {t3 - t2:.2f} s")
    start = time.perf_counter()
    syn = HybridSynthesizer(seed=args.seed, n_jobs=args.threads).fit(df, "death")
    fit_s = time.perf_counter() - start
    start = time.perf_counter()
    fake = syn.sample(args.rows, seed=args.seed)
    sample_s = time.perf_counter() - start
    close = syn.survival_.window_["end"] if syn.survival_.window_ else np.inf
    past = int((365.25 * fake["year"] + fake["futime"] > close + 1e-9).sum())
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"hybrid: fit {fit_s:.1f} s, sample {args.rows:,} rows {sample_s:.1f} s "
          f"({args.rows / sample_s:,.0f} rows/s), peak RSS {peak:,.0f} MB; synthetic rows past "
          f"the close: {past}; events {fake['death'].mean():.3f} (real {df['death'].mean():.3f})")
    from clinisynth.audit.survival import gap_interval, survival_scores

    holdout = cohort(args.rows // 3, args.seed + 1)
    start = time.perf_counter()
    res = survival_scores(df, holdout, fake, schema, schema.survival[0])
    audit_s = time.perf_counter() - start
    t, e = holdout["futime"].to_numpy(float), holdout["death"].to_numpy(float)
    risk = (0.04 * holdout["age"] + 0.35 * holdout["stage"]).to_numpy(float)
    start = time.perf_counter()
    gap_interval(t, e, risk, risk + np.random.default_rng(0).normal(0, 0.5, len(t)),
                 np.random.default_rng(args.seed))
    interval_s = time.perf_counter() - start
    print(f"survival audit against {len(holdout):,} fresh patients: {audit_s:.1f} s (C-index "
          f"TRTR {res.cindex['TRTR']:.3f}, TSTR {res.cindex['TSTR']:.3f}, gap interval "
          f"{res.gap['low']:+.3f} to {res.gap['high']:+.3f}); the interval alone "
          f"{interval_s:.1f} s")


if __name__ == "__main__":
    main()
