"""Issue 9's trade-off curve: the privacy guard's knobs against attack risk, fidelity and utility.

    PYTHONPATH=src python benchmarks/guard_tradeoff.py [--seeds 0 1 2] [--tables NAME ...]
        [--percentiles 1 2 5 10 25] [--qi-percentile P] [--qi-tolerances 0.25 0.5 1.0]
        [--isolations 0.25 0.5] [--iso-percentile 5] [--share-radii 1 1.5]
        [--mixture all|default] [--shared ../shared/datasets] [--cache DIR]
        [--results benchmarks/results]

For each table (``risk_table.TABLES``: breast cancer bundled; pima ``type``, cardiology
``procedure``, liver ``status`` from ``--shared``, skipped with a printed reason when absent) and
seed: the benchmark's split (``clinisynth.benchmark.grid.split_table``: stratified 70/30 by
seed), ``HybridSynthesizer(seed=seed)`` fitted ONCE on the 70 % (``n_jobs=1``, which changes no
result; ``--mixture all``, the default here, adds ``generators="all"``: the five-generator
mixture, the hybrid's default until 2026-12-03, on which the guard's knobs were chosen;
``--mixture default`` keeps the hybrid's default generators, GMM and the CVAE), then for each
guard setting only the guard is refitted on the same model
(``PrivacyGuard(**options).fit(roles_.transform(train), model_schema_)``, as ``_fit`` does),
``len(train)`` rows are sampled with ``seed=seed`` and audited against the 30 % holdout
(``clinisynth.audit.audit``, random forest only, the risk attacks' defaults).

Settings: ``off`` (no guard); ``pP``: distance percentile P, every other guard parameter at its
default (``share_radius`` 1, ``qi_tolerance`` 0.5, isolation off); ``pP_qiT``: percentile
``--qi-percentile`` with ``qi_tolerance`` T (only on tables whose schema has quasi-identifiers:
elsewhere the singling-out rule is off and T changes nothing); ``pP_isoR``: percentile
``--iso-percentile`` with the isolation rule at ``ρ = R`` (``PrivacyGuard(isolation=R)``);
``pP_shareS``: percentile ``--iso-percentile`` with ``PrivacyGuard(share_radius=S)`` (a
record counts as shared by the training rows within ``S · tau`` of it; ``S`` = 0: its exact
copies only, the default before 2026-12-03, whose cells carry ``_share0``), and
``pP_shareS_isoR`` the same with each isolation ``R`` as well. A label names only the knobs
moved from the guard's defaults (``label_of``).

Refusal columns (rates per synthetic row asked for):
  * ``refused_rate``/``so_rate``/``dist_rate``: ``guard_report_.refused`` and ``by_rule`` over
    the rows. The report counts a row again each time a redraw is refused again, so this is
    first-draw refusals plus repeat refusals (slightly above the first-draw rate).
  * ``first_rate`` (``first_so_rate``, ``first_dist_rate``): the share of the unguarded sample
    (the same seed's first draws; only rows breaking a rule were redrawn) that the setting's
    guard refuses: the first-draw rate proper.
  * ``holdout_rate``: the share of the *holdout* patients the guard would refuse: what it refuses
    of an ideal generator that draws fresh patients of the same population.
  * ``left``: output rows the setting's guard still refuses (must be 0).

Fitted models are cached in ``--cache`` (``HybridSynthesizer.save``; a saved model holds training
rows, so the default cache is under /tmp), so a second run with other settings skips the fits.
Rows already in ``guard_tradeoff.csv`` are kept, missing (table, seed, setting) cells computed.
Writes ``results/guard_tradeoff.csv`` and ``results/guard_tradeoff.md`` (``--mixture default``:
``guard_tradeoff_default.csv`` / ``.md``; a hand-written ``## Reading`` section at the end of an
existing ``.md`` is kept).
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

from clinisynth import HybridSynthesizer
from clinisynth.audit import audit
from clinisynth.audit.fidelity import ks_mean
from clinisynth.benchmark.grid import TableSpec, split_table
from clinisynth.guard import PrivacyGuard
from clinisynth.io import write_table, write_text_atomic
from clinisynth.schema import infer_schema

sys.path.insert(0, str(Path(__file__).resolve().parent))
from risk_table import TABLES  # noqa: E402  (benchmarks/ is on the path when run as a script)

ROOT = Path(__file__).resolve().parents[1]
MODEL = "random_forest"
KEY = ("table", "seed", "setting")
#: the summary table's columns: (csv column, header, decimals)
SUMMARY = (("refused_rate", "refused/row", 3), ("first_rate", "first draw", 3),
           ("holdout_rate", "holdout refused", 3), ("ks_holdout", "KS vs holdout", 4),
           ("ks_train", "KS vs train", 4), ("detection_auc", "detection AUC", 3),
           ("tstr_accuracy", "TSTR acc", 3), ("tstr_f1", "TSTR F1", 3),
           ("dcr_share", "DCR share", 3), ("calibrated_dcr", "cal. DCR", 3),
           ("singling_out_risk", "singling out", 3), ("linkability_risk", "linkability", 3),
           ("inference_risk", "inference", 3))
#: per table, beside the summary: baselines that do not depend on the setting
BASELINES = (("ks_holdout_baseline", "holdout's KS vs train"), ("trtr_accuracy", "TRTR acc"),
             ("trtr_f1", "TRTR F1"), ("calibrated_dcr_baseline", "cal. DCR holdout baseline"),
             ("tau_p25", "guard tau at p25"),
             ("holdout_copy_rate",
              "holdout rows equal to a training record held by fewer than 3 rows"),
             ("first_copy_rate", "first draws equal to one"))


#: the guard's defaults; a setting's label names only the knobs it moves away from them
DEFAULTS = {"qi_tolerance": 0.5, "share_radius": 1.0, "isolation": 0.0}
TAGS = {"qi_tolerance": "qi", "share_radius": "share", "isolation": "iso"}


def label_of(options: dict) -> str:
    """``pP`` plus ``_qiT``, ``_shareS``, ``_isoR`` for each knob away from its default."""
    return f"p{options['percentile']:g}" + "".join(
        f"_{TAGS[k]}{options[k]:g}" for k in TAGS if options.get(k, DEFAULTS[k]) != DEFAULTS[k])


def settings(percentiles: list[float], qi_percentile: float | None, qi_tolerances: list[float],
             has_qi: bool, isolations: list[float] = (), iso_percentile: float = 5.0,
             share_radii: list[float] = ()) -> list[tuple[str, dict | None]]:
    """``(label, guard options or None for off)`` in table order."""
    grid: list[dict] = [{"percentile": float(p)} for p in percentiles]
    if qi_percentile is not None and has_qi:
        grid += [{"percentile": float(qi_percentile), "qi_tolerance": float(t)}
                 for t in qi_tolerances]
    shares = [DEFAULTS["share_radius"], *share_radii]
    grid += [{"percentile": float(iso_percentile), "share_radius": float(s), "isolation": float(r)}
             for s in shares for r in [DEFAULTS["isolation"], *isolations]]
    out: list[tuple[str, dict | None]] = [("off", None)]
    for options in grid:
        if label_of(options) not in {label for label, _ in out}:
            out.append((label_of(options), options))
    return out


def load_tables(names: list[str] | None, shared: Path) -> list[tuple[str, str, pd.DataFrame]]:
    """The tables of ``risk_table.TABLES`` (loaded the way it does), missing files skipped."""
    out = []
    for name, target, file in TABLES:
        if names and name not in names:
            continue
        if file is not None and not (shared / file).is_file():
            print(f"skip {name}: {shared / file} not found", flush=True)
            continue
        spec = (TableSpec.from_dataset(name) if file is None
                else TableSpec(name=name, target=target, path=str(shared / file)))
        out.append((name, spec.target, spec.load()))
    return out


#: ``--mixture`` -> the hybrid's ``generators`` and the results' file stem
MIXTURES = {"all": ("all", "guard_tradeoff"), "default": (None, "guard_tradeoff_default")}


def fitted_model(name: str, seed: int, train: pd.DataFrame, target: str, cache: Path,
                 mixture: str = "all"
                 ) -> tuple[HybridSynthesizer, float, float]:
    """The ``mixture``'s hybrid on ``train`` (from the cache when saved there): model, wall,
    CPU s."""
    path = cache / mixture / f"{name}_seed{seed}"
    wall, cpu = time.perf_counter(), time.process_time()
    if (path / "manifest.json").is_file():
        syn = HybridSynthesizer.load(path)
        syn.n_jobs = 1
        return syn, 0.0, 0.0
    syn = HybridSynthesizer(seed=seed, n_jobs=1, generators=MIXTURES[mixture][0])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        syn.fit(train, target)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    cache.mkdir(parents=True, exist_ok=True)
    syn.save(path)
    return syn, wall, cpu


def set_guard(syn: HybridSynthesizer, data: pd.DataFrame, options: dict | None) -> None:
    """Replace the fitted model's guard (None: off), keeping ``privacy_guard`` consistent."""
    if options is None:
        syn.privacy_guard, syn.guard_ = False, None
        return
    syn.privacy_guard = dict(options)
    syn.guard_ = PrivacyGuard(**{**options, "n_jobs": 1}).fit(data, syn.model_schema_)


def rates(guard: PrivacyGuard, frame: pd.DataFrame) -> tuple[float, float, float]:
    """Share of ``frame``'s rows (a model table) the guard refuses: all, singling out, distance."""
    refused, rules = guard.check(frame)
    n = len(frame)
    return (float(refused.sum()) / n, float(np.sum(rules == "singling_out")) / n,
            float(np.sum(rules == "distance")) / n)


def copy_rate(guard: PrivacyGuard, frame: pd.DataFrame) -> float:
    """Share of ``frame``'s rows equal to a training record held by fewer than ``min_shared``
    training rows (exact copies counted, whatever the guard's ``share_radius``): what the
    distance rule with ``share_radius`` 0 refuses at any percentile."""
    _, inverse, counts = np.unique(guard.records_, axis=0, return_inverse=True,
                                   return_counts=True)
    multiplicity = dict(zip(map(bytes, guard.records_), counts[inverse.ravel()].tolist(),
                            strict=True))
    rows = guard.encoder_.transform(frame)
    return float(np.mean([0 < multiplicity.get(bytes(r), 0) < guard.min_shared for r in rows]))


def attack_fields(result) -> dict[str, float]:
    """Each headline attack's risk interval, rates and attack count."""
    risk = result.risk
    target = result.meta["target"]
    out: dict[str, float] = {}
    for key, name in (("singling_out", "singling_out_multivariate"),
                      ("linkability", "linkability"), ("inference", f"inference:{target}")):
        a = risk.attacks.get(name)
        if a is None:
            continue
        out |= {f"{key}_low": a.risk_ci[0], f"{key}_high": a.risk_ci[1],
                f"{key}_attacks": a.attacks, f"{key}_attack_rate": a.attack.value,
                f"{key}_control_rate": a.control.value, f"{key}_naive_rate": a.baseline.value}
    out["attack_qis"] = ",".join(risk.quasi_identifiers) or "none"
    return out


def run_cell(name: str, target: str, df: pd.DataFrame, seed: int, args: argparse.Namespace,
             done: set[tuple]) -> list[dict]:
    train, holdout = split_table(df, target, seed)
    schema = infer_schema(train, target)
    syn, fit_wall, fit_cpu = fitted_model(name, seed, train, target, args.cache, args.mixture)
    data = syn.roles_.transform(train)
    hold_model = syn.roles_.transform(holdout)
    default_guard = syn.guard_
    has_qi = bool(default_guard.qi_)
    grid = settings(args.percentiles, args.qi_percentile, args.qi_tolerances, has_qi,
                    args.isolations, args.iso_percentile, args.share_radii)
    todo = [(label, opt) for label, opt in grid if (name, seed, label) not in done]
    if not todo:
        return []
    set_guard(syn, data, None)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        unguarded = syn.roles_.transform(syn.sample(len(train), seed=seed))
    base = {"table": name, "seed": seed, "n_train": len(train), "n_holdout": len(holdout),
            "ks_holdout_baseline": ks_mean(train, holdout, schema),
            "guard_qis": ",".join(default_guard.qi_) or "none",
            "tau_p25": default_guard.threshold_,
            "holdout_copy_rate": copy_rate(default_guard, hold_model),
            "first_copy_rate": copy_rate(default_guard, unguarded),
            "fit_seconds": round(fit_wall, 1), "fit_cpu_seconds": round(fit_cpu, 1)}
    rows = []
    for label, options in todo:
        wall, cpu = time.perf_counter(), time.process_time()
        set_guard(syn, data, options)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            fake = syn.sample(len(train), seed=seed)
        row: dict = {**base, "setting": label,
                     "percentile": np.nan if options is None else options["percentile"],
                     **{k: np.nan if options is None else options.get(k, default)
                        for k, default in DEFAULTS.items()}}
        guard = syn.guard_
        if guard is not None:
            rep = syn.guard_report_
            row |= {"tau": guard.threshold_, "refused": rep.refused,
                    "refused_rate": rep.refused / len(fake),
                    "so_rate": rep.by_rule.get("singling_out", 0) / len(fake),
                    "dist_rate": rep.by_rule.get("distance", 0) / len(fake),
                    "iso_rate": rep.by_rule.get("isolation", 0) / len(fake),
                    "rounds": rep.rounds, "fallback": rep.fallback,
                    "left": int(guard.refused(syn.roles_.transform(fake)).sum())}
            (row["first_rate"], row["first_so_rate"], row["first_dist_rate"]) = rates(
                guard, unguarded)
            (row["holdout_rate"], row["holdout_so_rate"], row["holdout_dist_rate"]) = rates(
                guard, hold_model)
        else:
            row |= {"refused": 0, "refused_rate": 0.0, "so_rate": 0.0, "dist_rate": 0.0,
                    "first_rate": 0.0, "holdout_rate": 0.0, "left": 0,
                    # rows of this (unguarded) output the default guard would refuse
                    "default_guard_refuses": rates(default_guard, syn.roles_.transform(fake))[0]}
        sample_s = time.perf_counter() - wall
        res = audit(train, holdout, fake, target, seed=seed, models=(MODEL,))
        head = res.headline()
        row |= {"ks_holdout": ks_mean(holdout, fake, schema), "ks_train": head["ks_mean"],
                **{k: head[k] for k in ("detection_auc", "tstr_accuracy", "trtr_accuracy",
                                        "tstr_f1", "trtr_f1", "dcr_share", "exact_copies",
                                        "holdout_exact_copies", "mia_auc", "calibrated_dcr",
                                        "singling_out_risk", "linkability_risk",
                                        "inference_risk")},
                "calibrated_dcr_baseline": res.privacy.calibrated_dcr_baseline,
                "calibrated_dcr_tau": res.privacy.calibrated_dcr_tau,
                **attack_fields(res),
                "sample_seconds": round(sample_s, 1),
                "audit_seconds": round(time.perf_counter() - wall - sample_s, 1),
                "cpu_seconds": round(time.process_time() - cpu, 1)}
        rows.append(row)
        print(f"{name}/seed{seed}/{label}: refused/row {row['refused_rate']:.3f} (first "
              f"{row['first_rate']:.3f}, holdout {row['holdout_rate']:.3f}), KS hold "
              f"{row['ks_holdout']:.4f} train {row['ks_train']:.4f}, TSTR "
              f"{row['tstr_accuracy']:.3f}, calDCR {row['calibrated_dcr']:.3f}, SO "
              f"{row['singling_out_risk']:.3f}, link {row['linkability_risk']:.3f}, inf "
              f"{row['inference_risk']:.3f}; {sample_s:.0f}+{row['audit_seconds']:.0f} s, "
              f"{row['cpu_seconds']:.0f} CPU s", flush=True)
    rows[0]["fit_seconds"], rows[0]["fit_cpu_seconds"] = round(fit_wall, 1), round(fit_cpu, 1)
    for r in rows[1:]:
        r["fit_seconds"] = r["fit_cpu_seconds"] = 0.0
    return rows


def _fmt(mean: float, sd: float, digits: int) -> str:
    if pd.isna(mean):
        return "–"
    return f"{mean:.{digits}f}" if pd.isna(sd) else f"{mean:.{digits}f} ± {sd:.{digits}f}"


def _order(label: str) -> tuple[float, ...]:
    """Sort key of a setting label: percentile, then each knob (defaults where not named)."""
    if label == "off":
        return (-1.0, *DEFAULTS.values())
    p, *parts = label[1:].split("_")
    knobs = dict(DEFAULTS)
    for part in parts:
        key = next(k for k, tag in TAGS.items() if part.startswith(tag))
        knobs[key] = float(part[len(TAGS[key]):])
    return (float(p), *knobs.values())


def render(frame: pd.DataFrame, header: list[str], reading: str, mixture: str = "all") -> str:
    generators = ', generators="all"' if mixture == "all" else ""
    title = ("the five-generator mixture (`generators=\"all\"`)" if mixture == "all"
             else "the default mixture (GMM and the CVAE)")
    lines = ["# Privacy guard trade-off: the guard's knobs against risk, fidelity and utility, "
             f"on {title}", "", *header, ""]
    lines += [
        "Each (table, seed): the benchmark's stratified 70/30 split by seed, "
        f"`HybridSynthesizer(seed=seed{generators})` fitted once on the 70 %, then per setting "
        "only the guard "
        "refitted on that model, `len(train)` rows sampled with `seed=seed`, audited against "
        "the 30 % (`clinisynth.audit.audit`, random forest only, risk attacks at the audit's "
        "defaults). Values: mean ± sd over the seeds.", "",
        "Settings: `off` = no guard; `pP` = distance-rule percentile P, everything else at the "
        "guard's defaults (`min_shared` 3, `share_radius` 1, `neighbours` = k = 5, "
        "`qi_tolerance` 0.5, isolation off, `max_rounds` 10); each suffix moves one knob from "
        "its default: `_qiT` the singling-out rule's `qi_tolerance` (only on tables with "
        "quasi-identifiers), `_shareS` `PrivacyGuard(share_radius=S)` (a training record is "
        "shared by the training rows within S·tau of it; `_share0`: its exact copies only, the "
        "default before 2026-12-03), `_isoR` the isolation rule at ρ = R. `p5` is the default.",
        "",
        "Refusal columns, per synthetic row: **refused/row** = `guard_report_.refused / rows` "
        "(the report counts a row again each time its redraw is refused again, so it is the "
        "first-draw rate plus repeat refusals); **first draw** = share of the same seed's "
        "unguarded sample the guard refuses (the first-draw rate proper); **holdout refused** "
        "= share of the held-out *real* patients the guard would refuse (what it refuses of an "
        "ideal generator). No cell shipped a refused row (`left` = 0 in the CSV).", "",
        "Score columns: KS = mean Kolmogorov-Smirnov over numeric columns (vs holdout: "
        "`ks_mean(holdout, synthetic)`; vs train: the audit's `ks_mean`); detection AUC vs "
        "train (0.5 ideal); TSTR = random forest fitted on the synthetic rows, scored on the "
        "holdout; DCR share (0.5 ideal); cal. DCR = share of synthetic rows closer to a training "
        "row than the 2nd percentile of holdout-to-train distances (issue target ≤ 0.03; the "
        "holdout's own share is the baseline below); singling out = multivariate (3 columns), "
        "linkability, inference = inference of the target (anonymeter's residual risk "
        "(attack − control)/(1 − control); issue targets ≤ 0.10, ≤ 0.05, ≤ 0.10).", ""]
    for table, tab in frame.groupby("table", sort=False):
        labels = sorted(tab["setting"].unique(), key=_order)
        seeds = sorted(tab["seed"].unique())
        grouped = tab.groupby("setting")
        means, sds = grouped.mean(numeric_only=True), grouped.std(ddof=1, numeric_only=True)
        first = tab.iloc[0]
        lines += [f"## {table} (train {int(first['n_train'])}, holdout {int(first['n_holdout'])}"
                  f"; seeds {', '.join(map(str, seeds))}; guard quasi-identifiers "
                  f"{first['guard_qis']}; attack quasi-identifiers {first['attack_qis']})", ""]
        cols = [c for c in SUMMARY if c[0] in tab.columns]
        lines += ["| setting | " + " | ".join(h for _, h, _ in cols) + " |",
                  "|---|" + "---:|" * len(cols)]
        for label in labels:
            cells = [_fmt(means.at[label, c], sds.at[label, c], d) for c, _, d in cols]
            n = int(grouped.size()[label])
            tag = label if n == len(seeds) else f"{label} (n={n})"
            lines.append(f"| {tag} | " + " | ".join(cells) + " |")
        base = tab.drop_duplicates("seed")
        lines += ["", "Baselines (do not depend on the setting): " + "; ".join(
            f"{h} {_fmt(base[c].mean(), base[c].std(ddof=1), 3 if 'ks' not in c else 4)}"
            for c, h in BASELINES if c in base.columns) + ".", ""]
        inf = [c for c in ("inference_attack_rate", "inference_control_rate",
                           "inference_naive_rate") if c in tab.columns]
        if inf:
            lines += [
                "Attack detail (mean over seeds and settings; counts per seed): multivariate "
                f"singling-out predicates found {_span(tab, 'singling_out_attacks')}, "
                f"linkability targets {_span(tab, 'linkability_attacks')} per side, inference "
                f"targets {_span(tab, 'inference_attacks')} per side; inference of the target: "
                f"success on training patients {tab['inference_attack_rate'].mean():.3f}, on "
                f"holdout patients {tab['inference_control_rate'].mean():.3f} (the control: what "
                f"a useful table must allow), naive guess {tab['inference_naive_rate'].mean():.3f}"
                ".", ""]
    return "\n".join(lines) + "\n" + (reading or "")


def _span(tab: pd.DataFrame, col: str) -> str:
    if col not in tab.columns:
        return "?"
    lo, hi = int(tab[col].min()), int(tab[col].max())
    return f"{lo}" if lo == hi else f"{lo}–{hi}"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--tables", nargs="+", default=None)
    parser.add_argument("--percentiles", type=float, nargs="+", default=[1, 2, 5, 10, 25])
    parser.add_argument("--qi-percentile", type=float, default=None)
    parser.add_argument("--qi-tolerances", type=float, nargs="+", default=[0.25, 0.5, 1.0])
    parser.add_argument("--isolations", type=float, nargs="*", default=[])
    parser.add_argument("--iso-percentile", type=float, default=5.0)
    parser.add_argument("--share-radii", type=float, nargs="*", default=[])
    parser.add_argument("--shared", type=Path, default=ROOT.parent / "shared" / "datasets")
    parser.add_argument("--cache", type=Path, default=Path("/tmp/guard_tradeoff_models"))
    parser.add_argument("--results", type=Path, default=ROOT / "benchmarks" / "results")
    parser.add_argument("--mixture", choices=list(MIXTURES), default="all")
    parser.add_argument("--no-write", action="store_true", help="print only (timing runs)")
    args = parser.parse_args(argv)
    stem = MIXTURES[args.mixture][1]
    csv, md = args.results / f"{stem}.csv", args.results / f"{stem}.md"
    old = pd.read_csv(csv) if csv.is_file() and not args.no_write else pd.DataFrame()
    done = set(map(tuple, old[list(KEY)].itertuples(index=False))) if len(old) else set()
    load = os.getloadavg()
    wall, cpu = time.perf_counter(), time.process_time()
    rows: list[dict] = []
    for name, target, df in load_tables(args.tables, args.shared):
        for seed in args.seeds:
            rows += run_cell(name, target, df, seed, args, done)
            if not args.no_write and rows:  # save as we go
                frame = pd.concat([old, pd.DataFrame(rows)], ignore_index=True)
                write_table(frame, csv)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    print(f"total {wall:.0f} s wall, {cpu:.0f} s CPU (this run); load average at start "
          f"{load[0]:.2f} / {load[1]:.2f} / {load[2]:.2f}", flush=True)
    if args.no_write:
        return
    frame = pd.concat([old, pd.DataFrame(rows)], ignore_index=True)
    rank = {n: i for i, (n, _, _) in enumerate(TABLES)}
    frame = frame.assign(_rank=frame["table"].map(rank)).sort_values(
        ["_rank", "seed"], kind="stable").drop(columns="_rank")
    write_table(frame, csv)
    command = ("PYTHONPATH=src python benchmarks/guard_tradeoff.py "
               + " ".join(argv if argv is not None else sys.argv[1:])).strip()
    runs = [line for line in (md.read_text().split("\n## Reading")[0].splitlines()
                              if md.is_file() else []) if line.startswith("- run: ")]
    runs.append(f"- run: `{command}`: {wall / 60:.1f} min wall, {cpu / 60:.1f} CPU-min, load "
                f"average at start {load[0]:.2f} / {load[1]:.2f} / {load[2]:.2f} on "
                f"{os.cpu_count()} cores ({platform.machine()}, Python "
                f"{platform.python_version()}), {time.strftime('%Y-%m-%d %H:%M')}")
    header = ["Produced by (each run adds the cells it lacked; seeds in each table's heading; "
              "the machine is shared, so wall times and load vary):", "", *runs]
    reading = ("\n## Reading" + md.read_text().split("\n## Reading", 1)[1]
               if md.is_file() and "\n## Reading" in md.read_text() else "")
    write_text_atomic(md, render(frame, header, reading, args.mixture))


if __name__ == "__main__":
    main()
