"""Speed and scale (issue 11): fit seconds, sampling rows/s and peak memory on a seeded table.

The table is clinical-shaped, made in code (:func:`make_table`): 30 columns = 24 labs (a latent
factor shared by all, eight of them log-normal, three with 5 % gaps), an integer age, four
categoricals (sex, smoker, stage, site) and a binary outcome that depends on them. For every size
``n`` and synthesizer (the default :class:`~clinisynth.HybridSynthesizer`, SDV's GaussianCopula)
one child process fits on the ``n`` rows and samples ``n`` rows; it reports fit seconds, sampling
rows/s and its own RSS high-water mark (``getrusage(RUSAGE_SELF).ru_maxrss``, which counts numpy
and torch buffers, unlike tracemalloc). At the sizes in ``--audit-sizes`` the child also audits
the sample (:func:`clinisynth.audit.audit`, logistic regression for utility) against a holdout
of ``0.3 / 0.7 * n`` fresh rows of the same population (the 70/30 proportions of a 30 % holdout;
the model never sees them). A separate small-table run times both on breast cancer (70 % split).

Run:  PYTHONPATH=src .venv/bin/python benchmarks/scale.py [--sizes 10000 100000 1000000]
      [--threads 2] [--seed 0] [--out benchmarks/results/scale.md]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
SYNTHESIZERS = ("hybrid", "gaussian_copula")
HOLDOUT_SHARE = 0.3


def make_table(n: int, seed: int = 0) -> pd.DataFrame:
    """A seeded clinical-shaped table of ``n`` rows and 30 columns (target ``outcome``)."""
    rng = np.random.default_rng(seed)
    latent = rng.standard_normal(n)
    age = np.clip(np.rint(58 + 14 * rng.standard_normal(n) + 4 * latent), 18, 99).astype(int)
    sex = rng.choice(["F", "M"], size=n)
    smoker = rng.choice(["never", "former", "current"], size=n, p=[0.5, 0.3, 0.2])
    stage = rng.choice(["I", "II", "III", "IV"], size=n, p=[0.35, 0.3, 0.2, 0.15])
    site = rng.choice(["north", "south", "east", "west", "central"], size=n)
    stage_num = pd.Series(stage).map({"I": 0, "II": 1, "III": 2, "IV": 3}).to_numpy()
    labs = {}
    for j in range(24):
        load = 0.3 + 0.5 * ((j * 7) % 10) / 10
        x = load * latent + 0.2 * stage_num * (j % 3 == 0) + rng.standard_normal(n)
        skewed = j % 3 == 0  # log-normal labs
        x = np.exp(0.5 * x) * (5 + j) if skewed else 50 + 10 * j + (3 + j % 5) * x
        labs[f"lab{j:02d}"] = np.round(x, 2)
    for j in (2, 9, 17):  # three labs with 5 % gaps
        gaps = rng.random(n) < 0.05
        labs[f"lab{j:02d}"][gaps] = np.nan
    risk = (0.8 * latent + 0.03 * (age - 58) + 0.5 * stage_num + 0.4 * (smoker == "current")
            - 1.2 + 0.3 * (sex == "M"))
    outcome = (risk + rng.logistic(size=n) * 0.8 > 0).astype(int)
    frame = pd.DataFrame({"age": age, **labs, "sex": sex, "smoker": smoker, "stage": stage,
                          "site": site, "outcome": outcome})
    assert frame.shape[1] == 30
    return frame


# -- one configuration, in its own process ------------------------------------------------------
def run_one(synth: str, n: int, seed: int, threads: int | None, do_audit: bool) -> dict:
    """Fit on ``n`` rows, sample ``n`` rows, optionally audit; timings and RSS high-water mark."""
    data = make_table(n, seed)
    target = "outcome"
    start, cpu0 = time.perf_counter(), time.process_time()  # imports included, as a user waits
    if synth == "hybrid":
        import inspect

        from clinisynth import HybridSynthesizer

        kwargs = {"seed": seed}
        if "n_jobs" in inspect.signature(HybridSynthesizer).parameters:
            kwargs["n_jobs"] = threads
        model = HybridSynthesizer(**kwargs).fit(data, target)
        fit_s, fit_cpu = time.perf_counter() - start, time.process_time() - cpu0
        t0, cpu0 = time.perf_counter(), time.process_time()
        fake = model.sample(n, seed=seed)
    else:
        from clinisynth.benchmark.peers import SDVSynthesizer

        model = SDVSynthesizer(synth, seed=seed).fit(data, target)
        fit_s, fit_cpu = time.perf_counter() - start, time.process_time() - cpu0
        t0, cpu0 = time.perf_counter(), time.process_time()
        fake = model.sample(n)
    sample_s, sample_cpu = time.perf_counter() - t0, time.process_time() - cpu0
    out = {"synthesizer": synth, "rows": n, "fit_s": fit_s, "sample_s": sample_s,
           "fit_cpu_s": fit_cpu, "sample_cpu_s": sample_cpu,
           "rows_per_s": n / sample_s if sample_s > 0 else float("nan")}
    if synth == "hybrid" and getattr(model, "weights_", None):
        out["weights"] = {k: round(v, 3) for k, v in model.weights_.items()}
    if synth == "hybrid" and hasattr(model, "fit_rows_"):
        out["fit_rows"] = list(model.fit_rows_)
    if do_audit:
        from clinisynth.audit import audit

        holdout = make_table(int(round(n * HOLDOUT_SHARE / (1 - HOLDOUT_SHARE))), seed + 10_000)
        t0 = time.perf_counter()
        result = audit(data, holdout, fake, target, seed=seed, models=("logistic_regression",))
        scores = result.headline()
        out["audit_s"] = time.perf_counter() - t0
        out["audit"] = {k: scores[k] for k in ("ks_mean", "pair_trend", "detection_auc")}
        for scenario in ("TSTR", "TRTR"):
            out["audit"][f"{scenario.lower()}_f1"] = result.utility.get(
                scenario, "logistic_regression", "f1")
        out["audit"].update({k: scores[k] for k in ("dcr_share", "privacy_loss")})
    out["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return out


def run_small(synth: str, seed: int, threads: int | None) -> dict:
    """Breast cancer, 70 % split: fit + sample as many rows as the split holds."""
    from sklearn.model_selection import train_test_split

    from clinisynth.datasets import load_dataset

    df, target = load_dataset("breast_cancer")
    train, _ = train_test_split(df, test_size=0.3, stratify=df[target], random_state=seed)
    start, cpu0 = time.perf_counter(), time.process_time()  # imports included, as a user waits
    if synth == "hybrid":
        import inspect

        from clinisynth import HybridSynthesizer

        kwargs = {"seed": seed}
        if "n_jobs" in inspect.signature(HybridSynthesizer).parameters:
            kwargs["n_jobs"] = threads
        HybridSynthesizer(**kwargs).fit(train, target).sample(len(train), seed=seed)
    else:
        from clinisynth.benchmark.peers import SDVSynthesizer

        SDVSynthesizer(synth, seed=seed).fit(train, target).sample(len(train))
    return {"synthesizer": synth, "rows": len(train), "total_s": time.perf_counter() - start,
            "cpu_s": time.process_time() - cpu0,
            "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def child(args: list[str], timeout: float) -> dict:
    """Run this script in a child process; its JSON answer, or an error/timeout record."""
    # the sources this run was given (another checkout's, for a before/after), else this one's
    env = {**os.environ, "PYTHONPATH": os.environ.get("PYTHONPATH") or str(ROOT / "src")}
    cmd = [sys.executable, str(Path(__file__).resolve()), "--child", *args]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env)
    except subprocess.TimeoutExpired:
        return {"error": f"timeout after {timeout:.0f} s"}
    if proc.returncode != 0:
        return {"error": (proc.stderr.strip().splitlines() or ["failed"])[-1][:200]}
    return json.loads(proc.stdout.strip().splitlines()[-1])


# -- report ---------------------------------------------------------------------------------------
def fmt(value: float | None, digits: int = 1) -> str:
    if value is None or (isinstance(value, float) and not np.isfinite(value)):
        return "–"
    return f"{value:,.{digits}f}"


def render(results: list[dict], small: list[dict], command: str, seed: int,
           threads: int | None, load: tuple[float, float]) -> str:
    lines = ["# Scale benchmark (issue 11)", "", "Produced by:", "", "```bash", command, "```", "",
             f"Seed {seed}; threads {threads or 'library default'}; machine: "
             f"{platform.machine()}, {os.cpu_count()} cores shared with other work "
             f"(1-min load average {load[0]:.1f} before, {load[1]:.1f} after the run), "
             f"Python {platform.python_version()}. Each cell is one child process: fit on n "
             "rows, sample n rows; peak memory is that process's RSS high-water mark.", "",
             "Wall seconds depend on the load; CPU seconds (all threads of the process) much "
             "less so.", "",
             "| rows | synthesizer | fit s | sample s | total s | total CPU s | sampling rows/s | "
             "peak memory MB | total vs GaussianCopula (wall / CPU) |",
             "|---:|---|---:|---:|---:|---:|---:|---:|---:|"]
    by_key = {(r["rows"], r["synthesizer"]): r for r in results}
    for r in results:
        if "error" in r:
            lines.append(f"| {r['rows']:,} | {r['synthesizer']} | {r['error']} | | | | | | |")
            continue
        total = r["fit_s"] + r["sample_s"]
        cpu = r.get("fit_cpu_s", np.nan) + r.get("sample_cpu_s", np.nan)
        peer = by_key.get((r["rows"], "gaussian_copula"), {})
        ratio = "–"
        if "fit_s" in peer and r["synthesizer"] != "gaussian_copula":
            peer_cpu = peer.get("fit_cpu_s", np.nan) + peer.get("sample_cpu_s", np.nan)
            ratio = (f"{total / (peer['fit_s'] + peer['sample_s']):.2f}× / "
                     f"{fmt(cpu / peer_cpu, 2)}×")
        lines.append(f"| {r['rows']:,} | {r['synthesizer']} | {fmt(r['fit_s'])} | "
                     f"{fmt(r['sample_s'])} | {fmt(total)} | {fmt(cpu)} | "
                     f"{fmt(r['rows_per_s'], 0)} | {fmt(r['peak_rss_mb'], 0)} | {ratio} |")
    capped = [r for r in results if "fit_rows" in r and r["fit_rows"][1] < r["fit_rows"][0]]
    if capped:
        lines += ["", "The hybrid fits a stratified subsample of `max_rows` rows (default "
                  "100,000) when the table has more, and never reads the other rows, so they "
                  "cannot be copied and the guard checks every synthetic row against the rows "
                  "the model saw: " + "; ".join(f"{r['rows']:,} rows: fitted on "
                                               f"{r['fit_rows'][1]:,}" for r in capped) + "."]
    audited = [r for r in results if "audit" in r]
    if audited:
        keys = list(audited[0]["audit"])
        lines += ["", "Audit against a fresh holdout (30 % share; utility by logistic "
                  "regression):", "", "| rows | synthesizer | " + " | ".join(keys) + " |",
                  "|---:|---|" + "---:|" * len(keys)]
        for r in audited:
            lines.append(f"| {r['rows']:,} | {r['synthesizer']} | "
                         + " | ".join(fmt(r["audit"][k], 3) for k in keys) + " |")
    if small:
        lines += ["", "Small table: breast cancer, 70 % split (398 rows), fit + sample 398 "
                  "rows:", "", "| synthesizer | seconds | CPU s | peak memory MB |",
                  "|---|---:|---:|---:|"]
        for r in small:
            if "error" in r:
                lines.append(f"| {r.get('synthesizer', '?')} | {r['error']} | | |")
            else:
                lines.append(f"| {r['synthesizer']} | {fmt(r['total_s'], 2)} | "
                             f"{fmt(r.get('cpu_s'), 2)} | {fmt(r['peak_rss_mb'], 0)} |")
    weights = [r for r in results if r.get("weights")]
    if weights:
        lines += ["", "Learned weights: " + "; ".join(
            f"{r['rows']:,} rows: {r['weights']}" for r in weights)]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    parser.add_argument("--audit-sizes", type=int, nargs="*", default=[10_000, 100_000])
    parser.add_argument("--synthesizers", nargs="+", default=list(SYNTHESIZERS))
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--timeout", type=float, default=3600.0, help="seconds per cell")
    parser.add_argument("--no-small", action="store_true", help="skip the breast-cancer run")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks/results/scale.md")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--small", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--audit", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        synth, n = args.synthesizers[0], args.sizes[0]
        result = (run_small(synth, args.seed, args.threads) if args.small
                  else run_one(synth, n, args.seed, args.threads, args.audit))
        print(json.dumps(result))
        return
    load_before = os.getloadavg()[0]
    common = ["--seed", str(args.seed)] + (["--threads", str(args.threads)]
                                           if args.threads else [])
    small = []
    if not args.no_small:
        for synth in args.synthesizers:
            r = child(["--small", "--synthesizers", synth, *common], args.timeout)
            small.append({"synthesizer": synth, **r})
            print(json.dumps(small[-1]), flush=True)
    results = []
    for n in args.sizes:
        for synth in args.synthesizers:
            extra = ["--audit"] if n in args.audit_sizes else []
            r = child(["--synthesizers", synth, "--sizes", str(n), *common, *extra],
                      args.timeout)
            results.append({"synthesizer": synth, "rows": n, **r})
            print(json.dumps(results[-1]), flush=True)
    command = f"PYTHONPATH={os.environ.get('PYTHONPATH') or 'src'} .venv/bin/python " \
        "benchmarks/scale.py " + " ".join(sys.argv[1:])
    text = render(results, small, command.strip(), args.seed, args.threads,
                  (load_before, os.getloadavg()[0]))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    tmp = args.out.with_suffix(".tmp")
    tmp.write_text(text)
    tmp.replace(args.out)
    print(text)


if __name__ == "__main__":
    main()
