"""Univariate singling out measured against a known population: what value protection removes.

Run:  PYTHONPATH=src .venv/bin/python benchmarks/singling_out_population.py [--seeds 0 ... 7]
      [--tables pima breast_cancer] [--out benchmarks/results/singling_out_population.md]

The audit's univariate singling-out risk compares training patients with a 30 % holdout: a
few hundred predicates and one holdout sample, so one seed's estimate moves by about 0.06
(``singling_out_null.md``), more than the effects it should tell apart. Here the population is
known, so the control needs no holdout: a per-class Gaussian mixture fitted on the real table
(``singling_out_null.Population``, rounded as the table records its values) draws the training
rows (70 % of the table's size) and a pool 20 times larger. Per seed and table:

* ``attack``: share of the audit's univariate predicates (every one the synthetic table gives,
  each true for exactly one synthetic row) true for exactly one training row;
* ``control``: the same share on 40 seeded subsamples of the pool of the training set's size
  (its mean: the rate for patients the model never saw, without a size correction);
* ``risk`` = ``(attack − control) / (1 − control)``, unclipped (0 for a generator that learns
  nothing patient-specific), mean ± standard error over seeds; ``vs off``: its paired
  difference from ``protect=False`` on the same training rows;
* per column (protection off, times raw and the default): the column's predicates' share of
  ``attack − control`` (the columns the attack gains most on);
* ``KS pool``: mean per-column KS distance of the synthetic rows to the pool, and ``detection
  pool``: the audit's detection AUC against as many pool rows (fidelity to the population, not
  to the training sample).

Sources: ``null`` (a fresh population draw: the risk's zero), the default
:class:`~clinisynth.HybridSynthesizer` with ``protect=False``, with value protection but its
calibration reference and tables of times unsmoothed (``clinisynth.params.RARE_SMOOTHING = 0``:
the ablation), on a table with a survival pair with the calibration smoothed but the survival
step's tables of times raw (``protect, times raw``: before commit 86a5f9d), and the default
(``protect=True``: rare values smoothed in the calibration, by Silverman's bandwidth capped at
the distance to the k-th nearest value, and in the survival step's tables of times, by kernels
as wide as that distance). Each hybrid: seed ``seed``, 60 search episodes, as many rows as the
training set.
"""

from __future__ import annotations

import json
import sys
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.stats import ks_2samp

sys.path.insert(0, str(Path(__file__).resolve().parent))
from singling_out_null import Population, seeded_main  # noqa: E402

import clinisynth.params as params  # noqa: E402
from clinisynth import HybridSynthesizer  # noqa: E402
from clinisynth.audit import singling_out as so  # noqa: E402
from clinisynth.audit.fidelity import detection_auc  # noqa: E402
from clinisynth.audit.risk import _Matrices, attack_columns  # noqa: E402
from clinisynth.schema import infer_schema, primary_pair  # noqa: E402
from clinisynth.steps.survival import SurvivalStep  # noqa: E402

SOURCES = ("null", "protect off", "protect, unsmoothed", "protect, times raw", "protect (default)")
POOL_FACTOR, DRAWS = 20, 40


def risk(train: pd.DataFrame, pool: pd.DataFrame, synthetic: pd.DataFrame, schema: object,
         seed: int) -> tuple[float, float, float, int, dict[str, float]]:
    """``(risk, attack, control, predicates, by column)`` of the univariate attack, pool as
    control; ``by column``: each column's predicates' share of ``attack − control``."""
    data = _Matrices(train, pool, synthetic, attack_columns(schema))  # the audit's matrices
    tr, sy = so.dedup(data.train), so.dedup(data.synthetic)
    rng = np.random.default_rng(seed)
    preds = so.univariate_predicates(sy, data.numeric, 10**6, rng)
    hits = so.matches(preds, tr).sum(axis=1) == 1
    on_pool = so.matches(preds, data.holdout)
    control_hits = np.mean([on_pool[:, rng.choice(on_pool.shape[1], len(tr), replace=False)]
                            .sum(axis=1) == 1 for _ in range(DRAWS)], axis=0)
    attack, control = float(hits.mean()), float(control_hits.mean())
    columns = np.array([data.names[p[0][0]] for p in preds])
    by_column = {str(c): float((hits - control_hits)[columns == c].sum() / len(preds))
                 for c in np.unique(columns)}
    return (attack - control) / (1 - control), attack, control, len(preds), by_column


def fidelity(pool: pd.DataFrame, synthetic: pd.DataFrame, columns: list[str], schema: object,
             seed: int) -> tuple[float, float]:
    numeric = [c for c in columns if pd.api.types.is_numeric_dtype(pool[c])]
    ks = float(np.mean([ks_2samp(synthetic[c].dropna(), pool[c].dropna()).statistic
                        for c in numeric]))
    rows = pool.sample(len(synthetic), random_state=seed)
    return ks, detection_auc(rows, synthetic, schema, seed=seed)[0]


def fit_sample(train: pd.DataFrame, target: str, seed: int, protect: bool, smoothing: float,
               times_raw: bool = False) -> tuple[pd.DataFrame, HybridSynthesizer]:
    """The hybrid on ``train`` and as many rows; ``times_raw``: the survival step's tables of
    times unsmoothed (before commit 86a5f9d), the calibration as ``smoothing`` says."""
    default, survival = params.RARE_SMOOTHING, params.SurvivalStep
    params.RARE_SMOOTHING = smoothing
    if times_raw:
        params.SurvivalStep = lambda _smoothing: SurvivalStep()  # type: ignore[misc]
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            syn = HybridSynthesizer(seed=seed, protect=protect, search={"episodes": 60})
            syn.fit(train, target)
            return syn.sample(len(train), seed=seed), syn
    finally:
        params.RARE_SMOOTHING, params.SurvivalStep = default, survival  # type: ignore[misc]


def run(name: str, df: pd.DataFrame, target: str, seeds: list[int]) -> pd.DataFrame:
    population = Population(df, target)
    n = int(round(0.7 * len(df)))
    rows = []
    for seed in seeds:
        rng = np.random.default_rng(seed)
        train, pool = population.draw(n, rng), population.draw(POOL_FACTOR * n, rng)
        schema = infer_schema(train, target)
        tables = {"null": (population.draw(n, rng), schema, lambda f: f)}
        survival = primary_pair(schema) is not None  # else "times raw" is the default
        for source, protect, smoothing, raw in (
                ("protect off", False, 0.0, False), ("protect, unsmoothed", True, 0.0, False),
                ("protect, times raw", True, params.RARE_SMOOTHING, True),
                ("protect (default)", True, params.RARE_SMOOTHING, False)):
            if raw and not survival:
                continue
            fake, syn = fit_sample(train, target, seed, protect, smoothing, raw)

            def view(frame: pd.DataFrame, syn: HybridSynthesizer = syn) -> pd.DataFrame:
                return syn.record_view(frame, protected=False)
            tables[source] = (fake, syn.model_schema_, view)
        for source, (fake, sch, view) in tables.items():
            r, attack, control, n_preds, by_column = risk(view(train), view(pool), view(fake),
                                                          sch, seed)
            ks, det = fidelity(view(pool), view(fake), population.columns, sch, seed)
            rows.append({"table": name, "seed": seed, "source": source, "risk": r,
                         "attack": attack, "control": control, "predicates": n_preds,
                         "ks_pool": ks, "detection_pool": det,
                         "by_column": json.dumps(by_column)})
        print(f"{name} seed {seed}: " + ", ".join(
            f"{r['source']} {r['risk']:+.3f}" for r in rows[-len(tables):]), flush=True)
    return pd.DataFrame(rows)


def summarise(results: pd.DataFrame) -> str:
    lines = ["| table | source | risk (mean ± se) | vs off (paired, mean ± se) | attack | "
             "control | predicates | KS pool | detection pool |",
             "|---|---|---:|---:|---:|---:|---:|---:|---:|"]
    for table, part in results.groupby("table", sort=False):
        off = part[part["source"] == "protect off"].set_index("seed")["risk"]
        for source in SOURCES:
            r = part[part["source"] == source]
            if r.empty:
                continue
            se = r["risk"].std(ddof=1) / np.sqrt(len(r))
            diff = r.set_index("seed")["risk"] - off
            paired = ("–" if source in ("null", "protect off") else
                      f"{diff.mean():+.3f} ± {diff.std(ddof=1) / np.sqrt(len(diff)):.3f}")
            lines.append(
                f"| {table} | {source} | {r['risk'].mean():+.3f} ± {se:.3f} | {paired} | "
                f"{r['attack'].mean():.3f} | {r['control'].mean():.3f} | "
                f"{r['predicates'].mean():.0f} | {r['ks_pool'].mean():.4f} | "
                f"{r['detection_pool'].mean():.3f} |")
    lines += ["", "Columns the attack gains most on (each column's predicates' share of attack "
              "− control, mean over seeds):", "", "| table | source | columns |", "|---|---|---|"]
    for (table, source), part in results.groupby(["table", "source"], sort=False):
        if source in ("protect off", "protect, times raw", "protect (default)"):
            shares = pd.DataFrame([json.loads(b) for b in part["by_column"]]).fillna(0.0).mean()
            top = shares.sort_values(ascending=False).head(3)
            lines.append(f"| {table} | {source} | "
                         + ", ".join(f"{c} {v:+.3f}" for c, v in top.items()) + " |")
    return "\n".join(lines)


def main() -> None:
    seeded_main("singling_out_population", "Univariate singling out against a known "
                "population (issue 25)", list(range(8)), __doc__, run, summarise)


if __name__ == "__main__":
    main()
