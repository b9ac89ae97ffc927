"""Issue 27 benchmark: the DP mode at several ε against the non-DP hybrid and DP peers.

Protocol per (table, seed): 70/30 split (stratified by the target, ``random_state=seed``);
every synthesizer fits on the 70 % and samples as many rows. pbcseq's patient key ``id`` is
left out (it links the table to its visits; an identifier, not a measurement).

The public domain. The peers read each categorical column's categories from the data without
charging them, and without public bounds their DP bounds fail at ε = 1 ("could not find
bounds"). So, as in the NIST CRC, the DP synthesizers compared head to head get the same public
domain: numeric bounds are the whole table's range rounded outward to two significant digits,
categories the whole table's. ``dp`` is our DP mode given that domain in the schema
(``public_min`` / ``public_max`` / ``public_categories``: free); ``dp-private`` is our DP mode
with nothing declared (bounds and categories charged to ε).

Synthesizers: ``hybrid`` (default, not DP); ``dp`` and ``dp-private``
(``HybridSynthesizer(epsilon=ε)``, δ = min(1e-6, 1/(10·n))); the peers ``mst`` / ``aim`` from
smartnoise-synth 1.0.8, run in their own virtual environment (``--peer-python``) at the same
(ε, δ) with the public bounds (10 bins per continuous column; AIM with ``--rounds 30
--max-model-size 10`` to keep it under a minute a fit). The peers' Gaussian noise comes from
OpenDP's unseedable sampler, so their rows differ between runs of the same seed. A peer that
fails is a row with the reason.

Metrics, all against the holdout (rows no synthesizer saw):

* ``ks``: mean Kolmogorov-Smirnov statistic over numeric columns (holdout vs synthetic);
* ``m3``: the NIST CRC 3-way marginal score, ``1000 · (1 - mean TV)`` over up to 100 random
  column triples (seeded), numeric columns cut into 5 equal-frequency bins of the holdout;
* ``detection``: the audit's real-vs-synthetic classifier AUC (holdout vs synthetic);
* ``tstr`` / ``trtr``: random-forest accuracy on the holdout, trained on synthetic / real rows;
* the audit's anonymeter-style risks (:func:`clinisynth.audit.risk.risk_scores`: singling out,
  linkability, inference, against the holdout), an internal check the guarantee does not rely
  on;
* ``seconds``: fit and sample.

Run:  .venv/bin/python benchmarks/dp_benchmark.py [--seeds 0 1 2] [--epsilons 0.5 1 3 10]
      [--tables ...] [--synthesizers hybrid dp mst aim] [--peer-python PATH]
Writes benchmarks/results/dp_benchmark.md and .csv.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import subprocess
import sys
import tempfile
import time
import warnings
from itertools import combinations
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.ensemble import RandomForestClassifier
from sklearn.model_selection import train_test_split

sys.path.insert(0, str(Path(__file__).resolve().parent))

from report_head import report_head  # noqa: E402

from clinisynth import HybridSynthesizer  # noqa: E402
from clinisynth.audit.fidelity import detection_auc, ks_statistic  # noqa: E402
from clinisynth.audit.risk import risk_scores  # noqa: E402
from clinisynth.datasets import load_dataset  # noqa: E402
from clinisynth.distances import RecordEncoder  # noqa: E402
from clinisynth.schema import TableSchema, infer_schema  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "datasets"
TABLES = {"breast_cancer": (None, "target"), "pima": ("pima_diabetes.csv", "type"),
          "cardiac": ("cardiac_cabg_ptca.csv", "procedure"), "liver": ("liver_pbc.csv", "status"),
          "pbcseq_patients": ("pbcseq_patients.csv", "status"), "flchain": (None, "death")}
PEERS = ("mst", "aim")
PEER_OPTIONS = {"mst": [], "aim": ["--rounds", "30", "--max-model-size", "10"]}
RISKS = {"singling_out_univariate": "so_uni", "singling_out_multivariate": "so_multi",
         "linkability": "link", "inference": "infer"}


#: columns left out: pbcseq's patient key links it to its visits; it is no measurement
DROP = {"pbcseq_patients": ["id"]}


def load(name: str) -> tuple[pd.DataFrame, str] | None:
    file, target = TABLES[name]
    if file is None:
        return load_dataset(name)[:2]
    path = SHARED / file
    if not path.is_file():
        print(f"skipping {name}: {path} not found", file=sys.stderr)
        return None
    return pd.read_csv(path).drop(columns=DROP.get(name, [])), target


def three_way(holdout: pd.DataFrame, fake: pd.DataFrame, schema: TableSchema,
              seed: int, triples: int = 100) -> float:
    """``1000 · (1 - mean TV)`` over random column triples (see the module)."""
    def binned(frame: pd.DataFrame) -> pd.DataFrame:
        out = {}
        for col in schema.columns:
            x = frame[col.name]
            if col.is_numeric:
                ref = pd.to_numeric(holdout[col.name], errors="coerce")
                edges = np.unique(np.nanquantile(ref, np.linspace(0, 1, 6)))
                v = pd.to_numeric(x, errors="coerce").to_numpy(dtype=float)
                codes = np.searchsorted(edges[1:-1], v, side="right").astype(float)
                codes[np.isnan(v)] = -1
                out[col.name] = codes
            else:
                out[col.name] = x.astype(str).to_numpy()
        return pd.DataFrame(out)

    a, b = binned(holdout), binned(fake)
    names = list(a.columns)
    combos = list(combinations(names, 3))
    rng = np.random.default_rng(seed)
    picks = [combos[i] for i in rng.choice(len(combos), size=min(triples, len(combos)),
                                           replace=False)]
    tvs = []
    for cols in picks:
        pa = a.groupby(list(cols)).size() / len(a)
        pb = b.groupby(list(cols)).size() / len(b)
        joined = pd.concat([pa, pb], axis=1).fillna(0.0)
        tvs.append(0.5 * float(np.abs(joined.iloc[:, 0] - joined.iloc[:, 1]).sum()))
    return 1000.0 * (1.0 - float(np.mean(tvs)))


def round_out(lo: float, hi: float) -> tuple[float, float]:
    """``[lo, hi]`` widened to two significant digits of the larger magnitude."""
    scale = 10.0 ** (np.floor(np.log10(max(abs(lo), abs(hi), 1e-12))) - 1)
    return float(np.floor(lo / scale) * scale), float(np.ceil(hi / scale) * scale)


def public_domain(df: pd.DataFrame, schema: TableSchema) -> TableSchema:
    """``schema`` with the whole table's rounded-out ranges and categories declared public."""
    data = schema.to_dict()
    for col in data["columns"]:
        values = df[col["name"]]
        if col.get("role") in ("identifier", "text", "datetime"):
            continue
        if col["kind"] in ("continuous", "integer"):
            x = pd.to_numeric(values, errors="coerce")
            col["public_min"], col["public_max"] = round_out(float(x.min()), float(x.max()))
        else:
            col["public_categories"] = list(col["categories"])
    return TableSchema.from_dict(data)


def tstr(train: pd.DataFrame, holdout: pd.DataFrame, schema: TableSchema, seed: int) -> float:
    """Random-forest accuracy on the holdout, trained on ``train`` (features encoded as the
    audit encodes them, the target's own block left out)."""
    target = schema[schema.target]
    ordered = TableSchema(columns=[c for c in schema.columns if c.name != target.name]
                          + [target], target=schema.target)
    enc = RecordEncoder(ordered).fit(holdout)
    width = len(target.categories or []) + 1  # the target's one-hot block, last
    x_train, x_test = enc.transform(train)[:, :-width], enc.transform(holdout)[:, :-width]
    y_train = train[schema.target].astype(str).to_numpy()
    y_test = holdout[schema.target].astype(str).to_numpy()
    if len(np.unique(y_train)) < 2:
        return float(np.mean(y_test == y_train[0]))
    clf = RandomForestClassifier(n_estimators=200, random_state=seed, n_jobs=1)
    clf.fit(x_train, y_train)
    return float(np.mean(clf.predict(x_test) == y_test))


def peer(method: str, train: pd.DataFrame, schema: TableSchema, epsilon: float, delta: float,
         seed: int, python: Path) -> pd.DataFrame:  # schema: with the public domain
    """A peer's synthetic rows, from its own virtual environment."""
    with tempfile.TemporaryDirectory() as tmp:
        src, out = Path(tmp) / "train.csv", Path(tmp) / "synthetic.csv"
        train.to_csv(src, index=False)
        cats = [c.name for c in schema.columns if not c.is_numeric]
        nums = [c.name for c in schema.columns if c.is_numeric]
        bounds = Path(tmp) / "bounds.json"
        bounds.write_text(json.dumps({c.name: [c.public_min, c.public_max]
                                      for c in schema.columns if c.is_numeric}))
        cmd = [str(python), str(ROOT / "benchmarks" / "dp_peer_run.py"), "--method", method,
               "--epsilon", str(epsilon), "--delta", str(delta), "--seed", str(seed),
               "--train", str(src), "--out", str(out), "--rows", str(len(train)),
               "--categorical", ",".join(cats), "--continuous", ",".join(nums),
               "--bounds", str(bounds), *PEER_OPTIONS[method]]
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=3600,
                              env={**os.environ, "PYTHONPATH": ""})
        if done.returncode != 0:
            raise RuntimeError(done.stderr.strip().splitlines()[-1] if done.stderr.strip()
                               else f"exit {done.returncode}")
        fake = pd.read_csv(out)
    for col in schema.columns:  # back to the training dtypes where they fit
        with contextlib.suppress(TypeError, ValueError):
            fake[col.name] = fake[col.name].astype(train[col.name].dtype)
    return fake


def run_cell(name: str, df: pd.DataFrame, target: str, synth: str, epsilon: float | None,
             seed: int, peer_python: Path) -> dict:
    train, holdout = train_test_split(df, test_size=0.3, stratify=df[target], random_state=seed)
    train, holdout = train.reset_index(drop=True), holdout.reset_index(drop=True)
    schema = infer_schema(train, target)
    public = public_domain(df, infer_schema(df, target))
    delta = min(1e-6, 1.0 / (10 * len(train)))
    row = {"table": name, "synthesizer": synth, "epsilon": epsilon, "seed": seed}
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if synth in PEERS:
            fake = peer(synth, train, public, float(epsilon), delta, seed, peer_python)
        else:
            syn = HybridSynthesizer(seed=seed, epsilon=epsilon,
                                    delta=delta if epsilon is not None else None)
            fit_schema = public if synth == "dp" else None
            fake = syn.fit(train, target if fit_schema is None else None,
                           schema=fit_schema).sample(len(train), seed=seed)
    row["seconds"] = time.perf_counter() - start
    numeric = [c.name for c in schema.columns if c.is_numeric and c.name != target]
    row["ks"] = float(np.mean([ks_statistic(holdout[c], fake[c]) for c in numeric])) \
        if numeric else float("nan")
    row["m3"] = three_way(holdout, fake, schema, seed)
    row["detection"] = detection_auc(holdout, fake, schema, seed=seed)[0]
    row["tstr"] = tstr(fake, holdout, schema, seed)
    row["trtr"] = tstr(train, holdout, schema, seed)
    risks = risk_scores(train, holdout, fake, schema, seed=seed)
    for attack, label in RISKS.items():
        hits = [a.risk for n, a in risks.attacks.items() if n.startswith(attack)]
        row[label] = max(hits) if hits else float("nan")
    return row


def summarise(results: pd.DataFrame) -> str:
    keys = ["m3", "tstr", "ks", "detection", "so_uni", "so_multi", "link", "infer", "seconds"]
    lines = ["| table | synthesizer | ε | " + " | ".join(keys) + " |",
             "|---|---|---:|" + "---:|" * len(keys)]
    ok = results[results["m3"].notna()] if "m3" in results else results.iloc[:0]
    for (table, synth, eps), rows in ok.groupby(["table", "synthesizer", "epsilon"],
                                                dropna=False, sort=False):
        cells = []
        for k in keys:
            v = rows[k]
            fmt = "{:.0f}" if k in ("m3",) else "{:.1f}" if k == "seconds" else "{:.3f}"
            cells.append(f"{fmt.format(v.mean())} ± {fmt.format(v.std(ddof=1))}"
                         if len(v) > 1 else fmt.format(v.mean()))
        label = "–" if pd.isna(eps) else f"{eps:g}"
        lines.append(f"| {table} | {synth} | {label} | " + " | ".join(cells) + " |")
    errors = results[results["error"].notna()] if "error" in results else results.iloc[:0]
    if not errors.empty:
        lines += ["", "Not measured:", ""]
        for r in errors.drop_duplicates(["table", "synthesizer", "epsilon"]).itertuples():
            lines.append(f"- `{r.table}` {r.synthesizer} ε {r.epsilon}: {r.error}")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--epsilons", type=float, nargs="+", default=[0.5, 1.0, 3.0, 10.0])
    parser.add_argument("--tables", nargs="+", default=list(TABLES))
    parser.add_argument("--synthesizers", nargs="+",
                        default=["hybrid", "dp", "dp-private", *PEERS])
    parser.add_argument("--peer-python", type=Path,
                        default=Path("/work/peers/smartnoise/bin/python"))
    parser.add_argument("--peer-epsilons", type=float, nargs="+", default=[1.0, 10.0],
                        help="ε of the peers and of dp-private")
    parser.add_argument("--peer-seeds", type=int, nargs="+", default=None,
                        help="seeds of the peers (default: --seeds); a peer fit takes minutes")
    parser.add_argument("--merge", type=Path, nargs="+", default=None,
                        help="write the report from these runs' .csv files instead of running")
    parser.add_argument("--note", default="", help="a sentence for the merged report's head")
    parser.add_argument("--out", type=Path,
                        default=ROOT / "benchmarks" / "results" / "dp_benchmark.md")
    args = parser.parse_args()
    if args.merge:
        merge(args.merge, args.out, args.note)
        return
    start = time.perf_counter()
    rows = []
    for name in args.tables:
        loaded = load(name)
        if loaded is None:
            continue
        df, target = loaded
        for synth in args.synthesizers:
            epsilons = ([None] if synth == "hybrid" else args.epsilons if synth == "dp"
                        else args.peer_epsilons)
            for eps in epsilons:
                seeds = args.peer_seeds if synth in PEERS and args.peer_seeds else args.seeds
                for seed in seeds:
                    try:
                        row = run_cell(name, df, target, synth, eps, seed, args.peer_python)
                    except Exception as exc:  # a row with the reason, not an omission
                        row = {"table": name, "synthesizer": synth, "epsilon": eps,
                               "seed": seed, "error": f"{type(exc).__name__}: {exc}"[:300]}
                    rows.append(row)
                    print(json.dumps(row, default=str), flush=True)
                    if "error" in row and synth in PEERS:
                        break
    results = pd.DataFrame(rows)
    results.to_csv(args.out.with_suffix(".csv"), index=False)
    command = (".venv/bin/python benchmarks/dp_benchmark.py --seeds "
               + " ".join(map(str, args.seeds)) + " --epsilons "
               + " ".join(f"{e:g}" for e in args.epsilons) + " --tables "
               + " ".join(args.tables) + " --synthesizers " + " ".join(args.synthesizers)
               + " --peer-epsilons " + " ".join(f"{e:g}" for e in args.peer_epsilons)
               + (" --peer-seeds " + " ".join(map(str, args.peer_seeds)) if args.peer_seeds
                  else ""))
    peer_seeds = args.peer_seeds or args.seeds
    header = (f"Seeds {', '.join(map(str, args.seeds))} "
              f"(peers: {', '.join(map(str, peer_seeds))}); "
              f"{time.perf_counter() - start:.0f} s on 2 cores.")
    lines = report_head("Differential privacy (issue 27)", command, header, __doc__)
    args.out.write_text("\n".join(lines) + "\n" + summarise(results) + "\n")
    print(summarise(results))


def merge(parts: list[Path], out: Path, note: str = "") -> None:
    """One report from runs split by table (each part's .md holds its command and time)."""
    results = pd.concat([pd.read_csv(p) for p in parts], ignore_index=True)
    results.to_csv(out.with_suffix(".csv"), index=False)
    commands = []
    for p in parts:
        head = p.with_suffix(".md").read_text().split("\n")
        commands += [line for line in head if line.startswith(".venv/bin/python")]
        commands += [line for line in head if line.startswith("Seeds ")]
    command = " && ".join(c for c in commands if c.startswith(".venv"))
    header = "Runs merged with --merge; per run: " + "; ".join(
        c for c in commands if c.startswith("Seeds ")) + (f" {note}" if note else "")
    lines = report_head("Differential privacy (issue 27)", command, header, __doc__)
    out.write_text("\n".join(lines) + "\n" + summarise(results) + "\n")


if __name__ == "__main__":
    main()
