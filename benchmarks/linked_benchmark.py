"""Issue 28 benchmark: linked tables (patients and their visits or intervals), whole-patient
holdout, against SDV's HMA and PAR and an independent-tables baseline.

Protocol per (table, seed): patients split 70/30 (stratified by the parent's target,
``random_state=seed``), each patient's child rows going with them; every synthesizer fits on
the 70 % and samples as many patients. Every figure is from
:func:`clinisynth.audit.linked.linked_audit` against the 30 % (holdout patients), next to what
the training patients themselves score against the same holdout (the floor).

Synthesizers:

* ``linked``: :class:`clinisynth.linked.LinkedSynthesizer` (links inferred, nothing declared;
  the parent's weight search capped at ``--search-seconds``);
* ``independent``: the parent from the hybrid, the child rows from a second hybrid fitted on
  the child table alone (key dropped), handed out to the synthetic patients in counts drawn
  from the training counts and sorted by their order within each patient: children drawn
  without regard to their parent;
* ``hma``: SDV 2.0.0's ``HMASynthesizer`` (metadata detected from the tables, key and
  relationship set as the links say);
* ``par``: SDV 2.0.0's ``PARSynthesizer`` on the child table with the parent's columns as
  context columns (``--par-epochs``, SDV's default 128), the parent rows read back from each
  sequence's context.
* ``mostly``: MOSTLY AI's open engine 2.7.3 (TabularARGN) with a context table: a flat model of
  the parents, then a sequential model of the children with the parents as context, run in its
  own virtual environment by ``benchmarks/mostly_peer_run.py`` (set-up there; ``--mostly-python``,
  each model capped at ``--mostly-minutes``; value protection on, the engine's default).

Columns: ``structure`` (child rows breaking the structure: orphans, after the parent's bound,
falling or repeated orders, broken intervals, counters that do not count; target 0); ``n ks``
(children per patient, vs holdout; floor: training patients, and ``n_ks_protected``: training
patients with their counts clipped to the protected ends value protection gives them, the
closest a protected model can come); ``detection`` (patient-level
real-vs-synthetic AUC); ``tstr`` / ``trtr`` (landmark task AUC on holdout patients, pbcseq
only: ``status`` from baseline and the visits up to the median visit day); ``lag1 |Δ|``
(largest difference of a lab's lag-1 autocorrelation from the holdout's; floor: training's);
``lag1_train`` (the same against the training patients the model learnt from: the model's own
error, without the holdout's sampling noise); ``lag1_protected`` (against the training patients
with each lab clipped to its 5th smallest and largest values, as value protection clips the
linked model's draws: the error left once the values it may not write are set aside); ``gap
ks``; ``missing`` (largest difference of a child column's share of missing cells from the
holdout's, on patients' first rows or on the later rows; floor: training's); ``copies``
(share of child rows identical to a training row in every column but the key; floor: the
holdout's rows, whose copies are coincidences); ``copies_matched`` (the holdout's copy rate at
each place of a row in its patient's rows, only, first, middle or last, weighted by where that
synthesizer's rows sit: the coincidences to expect from its rows as placed, since a
one-interval patient's first interval coincides far more often than a later row); risks per
patient (singling out,
linkability, inference, against holdout patients); fit and sample seconds; ``lag1_held``
(share of labs whose gap to the holdout's lag-1 has a 95 % interval over resampled patients
reaching within 0.1 of 0: this holdout cannot tell those labs' gap from one that meets
the 0.1 target) and ``lag1_width`` (those intervals' mean width).

Run:  .venv/bin/python benchmarks/linked_benchmark.py [--seeds 0 1 2] [--tables pbcseq cgd]
      [--synthesizers linked independent hma par mostly] [--search-seconds 20]
      [--par-epochs 128] [--mostly-python PATH] [--mostly-minutes 3] [--baseline CSV]
      [--out PATH]
Writes benchmarks/results/linked_benchmark.md and .csv.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))

from report_head import (  # noqa: E402
    measured_commit,
    out_option,
    pythonpath_prefix,
    report_head,
    shown,
)

from clinisynth import HybridSynthesizer  # noqa: E402
from clinisynth.audit.linked import linked_audit  # noqa: E402
from clinisynth.linked import LinkedSynthesizer  # noqa: E402
from clinisynth.linked.holdout import split_patients  # noqa: E402
from clinisynth.schema.links import LinkSchema, infer_links  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "datasets"
#: issue 28's target: each lab's lag-1 within this of the real one
LAG1_TOLERANCE = 0.1
TABLES = {"pbcseq": ("pbcseq_patients", "pbcseq_visits", "status", True),
          "cgd": ("cgd_patients", "cgd_intervals", "treat", False)}


def load(name: str) -> tuple[dict[str, pd.DataFrame], str, bool] | None:
    parent, child, target, longitudinal = TABLES[name]
    paths = [SHARED / f"{t}.csv" for t in (parent, child)]
    if not all(p.is_file() for p in paths):
        print(f"skipping {name}: {paths[0].parent} has no {parent}.csv / {child}.csv",
              file=sys.stderr)
        return None
    return {parent: pd.read_csv(paths[0]), child: pd.read_csv(paths[1])}, target, longitudinal


def independent(train: dict[str, pd.DataFrame], links: LinkSchema, target: str, seed: int,
                search_seconds: float) -> dict[str, pd.DataFrame]:
    key = links.key
    parent = train[links.parent]
    hybrid = HybridSynthesizer(seed=seed, search={"seconds": search_seconds})
    body = hybrid.fit(parent.drop(columns=[key]), target).sample(len(parent), seed=seed)
    body.insert(list(parent.columns).index(key), key, np.arange(1, len(body) + 1))
    out = {links.parent: body}
    rng = np.random.default_rng(seed)
    for link in links.children:
        child = train[link.table]
        counts = parent[key].map(child.groupby(link.key).size()).fillna(0).astype(int)
        n = rng.choice(counts.to_numpy(), size=len(body), replace=True)
        rows = child.drop(columns=[link.key])
        child_target = rows.columns[-1]
        fake = HybridSynthesizer(seed=seed, search={"seconds": search_seconds}).fit(
            rows, child_target).sample(int(n.sum()), seed=seed)
        fake.insert(list(child.columns).index(link.key), link.key,
                    np.repeat(body[key].to_numpy(), n))
        by = [link.key, link.order] if link.order else [link.key]
        out[link.table] = fake.sort_values(by, kind="stable").reset_index(drop=True)
    return out


def sdv_metadata(tables: dict[str, pd.DataFrame], links: LinkSchema):
    """SDV metadata detected from the tables, with the key and relationship the links give."""
    from sdv.metadata import Metadata

    metadata = Metadata.detect_from_dataframes(tables)
    for rel in list(metadata.relationships):
        metadata.remove_relationship(rel["parent_table_name"], rel["child_table_name"])
    for name in tables:
        if metadata.tables[name].primary_key:
            metadata.remove_primary_key(table_name=name)
        metadata.update_column(table_name=name, column_name=links.key, sdtype="id")
    metadata.set_primary_key(table_name=links.parent, column_name=links.key)
    for link in links.children:
        metadata.add_relationship(parent_table_name=links.parent, child_table_name=link.table,
                                  parent_primary_key=links.key, child_foreign_key=link.key)
    return metadata


def hma(train: dict[str, pd.DataFrame], links: LinkSchema, seed: int) -> dict[str, pd.DataFrame]:
    from sdv.multi_table import HMASynthesizer

    np.random.seed(seed)  # noqa: NPY002 (SDV draws from numpy's global generator)
    syn = HMASynthesizer(sdv_metadata(train, links), verbose=False)
    syn.fit(train)
    return syn.sample(num_rows=len(train[links.parent]), main_table_name=links.parent)


def par(train: dict[str, pd.DataFrame], links: LinkSchema, seed: int, epochs: int
        ) -> dict[str, pd.DataFrame]:
    import torch
    from sdv.metadata import Metadata
    from sdv.sequential import PARSynthesizer

    np.random.seed(seed)  # noqa: NPY002 (SDV draws from numpy's global generator)
    torch.manual_seed(seed)
    link = links.children[0]
    parent = train[links.parent]
    context = [c for c in parent.columns if c != links.key]
    merged = train[link.table].merge(parent, on=links.key, how="left")
    metadata = Metadata.detect_from_dataframes({link.table: merged})
    if metadata.tables[link.table].primary_key:
        metadata.remove_primary_key(table_name=link.table)
    metadata.update_column(column_name=links.key, sdtype="id")
    metadata.set_sequence_key(column_name=links.key)
    if link.order:
        metadata.set_sequence_index(column_name=link.order)
    syn = PARSynthesizer(metadata, context_columns=context, epochs=epochs, verbose=False)
    syn.fit({link.table: merged})
    fake = syn.sample_sequences(num_sequences=len(parent))[link.table]
    keys = {k: i + 1 for i, k in enumerate(fake[links.key].drop_duplicates())}
    fake[links.key] = fake[links.key].map(keys)
    out_parent = fake.drop_duplicates(links.key)[[links.key, *context]].reset_index(drop=True)
    out_child = fake[list(train[link.table].columns)].reset_index(drop=True)
    return {links.parent: out_parent[list(parent.columns)], link.table: out_child}


def mostly(train: dict[str, pd.DataFrame], links: LinkSchema, seed: int, python: Path,
           minutes: float) -> dict[str, pd.DataFrame]:
    if not python.is_file():
        raise FileNotFoundError(f"{python} not found: set up MOSTLY AI's engine as "
                                "benchmarks/mostly_peer_run.py says, or pass --mostly-python")
    link = links.children[0]
    with tempfile.TemporaryDirectory() as work:
        paths = {name: Path(work) / f"{name}.csv" for name in ("p", "c", "sp", "sc")}
        train[links.parent].to_csv(paths["p"], index=False)
        train[link.table].to_csv(paths["c"], index=False)
        done = subprocess.run(
            [str(python), str(ROOT / "benchmarks" / "mostly_peer_run.py"), "--parent",
             str(paths["p"]), "--child", str(paths["c"]), "--key", links.key, "--seed", str(seed),
             "--rows", str(len(train[links.parent])), "--minutes", f"{minutes:g}",
             "--out-parent", str(paths["sp"]), "--out-child", str(paths["sc"])],
            capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise RuntimeError(done.stderr.strip().splitlines()[-1] if done.stderr else
                               f"exit {done.returncode}")
        return {links.parent: pd.read_csv(paths["sp"]), link.table: pd.read_csv(paths["sc"])}


def summarise_cell(report: dict, links: LinkSchema) -> dict:
    row = {}
    link = links.children[0]
    structure = report["structure"][link.table]
    row["structure"] = sum(v for k, v in structure.items() if k != "rows")
    row["rows"] = structure["rows"]
    dyn = report["dynamics"][link.table]
    row["n_ks"], row["n_ks_floor"] = dyn["children_ks"]["synthetic"], \
        dyn["children_ks"]["training"]
    row["n_ks_protected_floor"] = dyn["children_ks"]["training_protected"]
    row["copies"], row["copies_floor"] = dyn["row_copies"]["synthetic"], \
        dyn["row_copies"]["holdout"]
    row["copies_matched"] = dyn["row_copies"].get("matched", float("nan"))
    missing = dyn.get("missing", {})
    if missing:  # the largest gap of a column's missing share, first or later rows
        row["missing"], row["missing_floor"] = (
            max(abs(v[side][at] - v["holdout"][at]) for v in missing.values()
                for at in ("first", "later")) for side in ("synthetic", "training"))
    if "gap_ks" in dyn:
        row["gap_ks"], row["gap_ks_floor"] = dyn["gap_ks"]["synthetic"], \
            dyn["gap_ks"]["training"]
    lag = dyn.get("lag1", {})
    if lag:
        row["lag1"] = max(abs(v["synthetic"] - v["holdout"]) for v in lag.values())
        row["lag1_floor"] = max(abs(v["training"] - v["holdout"]) for v in lag.values())
        row["lag1_train"] = max(abs(v["synthetic"] - v["training"]) for v in lag.values())
        row["lag1_protected"] = max(abs(v["synthetic"] - v["training_protected"])
                                    for v in lag.values())
        row["lag1_by_lab"] = json.dumps({k: round(v["synthetic"] - v["holdout"], 3)
                                         for k, v in lag.items()})
        held = [v["gap"]["low"] <= LAG1_TOLERANCE and v["gap"]["high"] >= -LAG1_TOLERANCE
                for v in lag.values() if "gap" in v]
        if held:
            row["lag1_held"] = float(np.mean(held))
            row["lag1_width"] = float(np.mean([v["gap"]["high"] - v["gap"]["low"]
                                               for v in lag.values()]))
    row["detection"] = report["patient_detection"]["synthetic"]
    row["detection_floor"] = report["patient_detection"]["training"]
    if "longitudinal" in report:
        row["tstr"] = report["longitudinal"]["synthetic"]
        row["trtr"] = report["longitudinal"]["train"]
    risks = report["patient_risks"]
    for prefix, label in (("singling_out_univariate", "so_uni"),
                          ("singling_out_multivariate", "so_multi"), ("linkability", "link"),
                          ("inference", "infer")):
        hits = [v for k, v in risks.items() if k.startswith(prefix)]
        row[label] = max(hits) if hits else float("nan")
    return row


def run_cell(name: str, synth: str, seed: int, args: argparse.Namespace) -> dict:
    tables, target, longitudinal = load(name)
    links = infer_links(tables)
    train, holdout = split_patients(tables, links, target, 0.3, seed)
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if synth == "linked":
            fake = LinkedSynthesizer(seed=seed, parent_options={
                "search": {"seconds": args.search_seconds}}).fit(train, target).sample(
                len(train[links.parent]), seed=seed)
        elif synth == "independent":
            fake = independent(train, links, target, seed, args.search_seconds)
        elif synth == "hma":
            fake = hma(train, links, seed)
        elif synth == "par":
            fake = par(train, links, seed, args.par_epochs)
        elif synth == "mostly":
            fake = mostly(train, links, seed, args.mostly_python, args.mostly_minutes)
        else:
            raise ValueError(f"unknown synthesizer {synth}")
    seconds = time.perf_counter() - start
    report = linked_audit(train, holdout, fake, links,
                          target=target if longitudinal else None, seed=seed)
    return {"table": name, "synthesizer": synth, "seed": seed, "seconds": seconds,
            **summarise_cell(report, links)}


KEYS = ["structure", "n_ks", "detection", "tstr", "trtr", "lag1", "lag1_train",
        "lag1_protected", "lag1_held", "lag1_width", "gap_ks", "missing",
        "copies", "copies_matched", "so_uni", "so_multi", "link", "infer", "seconds"]


def summarise(results: pd.DataFrame) -> str:
    keys = [k for k in KEYS if k in results]
    lines = ["| table | synthesizer | " + " | ".join(keys) + " |",
             "|---|---|" + "---:|" * len(keys)]
    ok = results[results["detection"].notna()] if "detection" in results else results.iloc[:0]
    for (table, synth), rows in ok.groupby(["table", "synthesizer"], sort=False):
        cells = []
        for k in keys:
            v = rows[k].dropna()
            fmt = "{:.0f}" if k == "structure" else "{:.1f}" if k == "seconds" else "{:.3f}"
            cells.append("–" if v.empty else f"{fmt.format(v.mean())} ± "
                         f"{fmt.format(v.std(ddof=1))}" if len(v) > 1 else fmt.format(v.mean()))
        lines.append(f"| {table} | {synth} | " + " | ".join(cells) + " |")
    floors = ok.groupby("table")[[c for c in ok.columns if c.endswith("_floor")]].mean()
    lines += ["", "Floors (training patients against the same holdout; for copies, the holdout's "
              "rows against training; mean over seeds):", ""]
    for table, row in floors.iterrows():
        lines.append(f"- `{table}`: " + ", ".join(f"{k.removesuffix('_floor')} {v:.3f}"
                                                  for k, v in row.items() if pd.notna(v)))
    errors = results[results["error"].notna()] if "error" in results else results.iloc[:0]
    if not errors.empty:
        lines += ["", "Not measured:", ""]
        for r in errors.drop_duplicates(["table", "synthesizer"]).itertuples():
            lines.append(f"- `{r.table}` {r.synthesizer}: {r.error}")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--tables", nargs="+", default=list(TABLES))
    parser.add_argument("--synthesizers", nargs="+",
                        default=["linked", "independent", "hma", "par"])
    parser.add_argument("--search-seconds", type=float, default=20.0)
    parser.add_argument("--par-epochs", type=int, default=128)
    parser.add_argument("--mostly-python", type=Path,
                        default=Path("/work/peers/mostly/bin/python"))
    parser.add_argument("--mostly-minutes", type=float, default=3.0)
    parser.add_argument("--update", action="store_true",
                        help="keep the rows of the synthesizers not run now from --out's .csv")
    parser.add_argument("--baseline", type=Path,
                        help="a .csv of this script from another commit, same seeds: adds the "
                             "paired differences this run − baseline")
    parser.add_argument("--out", type=Path,
                        default=ROOT / "benchmarks" / "results" / "linked_benchmark.md")
    args = parser.parse_args()
    kept = pd.DataFrame()
    if args.update and args.out.with_suffix(".csv").is_file():
        previous = pd.read_csv(args.out.with_suffix(".csv"))
        kept = previous[~previous["synthesizer"].isin(args.synthesizers)]
        now = f"--synthesizers {' '.join(args.synthesizers)} --"
        earlier = [line for line in args.out.read_text().splitlines()  # not the superseded
                   if "benchmarks/linked_benchmark.py --" in line and now not in line]
    start = time.perf_counter()
    rows = []
    for name in args.tables:
        if load(name) is None:
            continue
        for synth in args.synthesizers:
            for seed in args.seeds:
                try:
                    row = run_cell(name, synth, seed, args)
                except Exception as exc:  # a row with the reason, not an omission
                    row = {"table": name, "synthesizer": synth, "seed": seed,
                           "error": f"{type(exc).__name__}: {exc}"[:300]}
                rows.append(row)
                print(json.dumps(row, default=str), flush=True)
    results = pd.concat([kept, pd.DataFrame(rows)], ignore_index=True)
    results.to_csv(args.out.with_suffix(".csv"), index=False)
    command = (pythonpath_prefix()
               + ".venv/bin/python benchmarks/linked_benchmark.py --seeds "
               + " ".join(map(str, args.seeds)) + " --tables " + " ".join(args.tables)
               + " --synthesizers " + " ".join(args.synthesizers)
               + f" --search-seconds {args.search_seconds:g} --par-epochs {args.par_epochs}"
               + (f" --mostly-minutes {args.mostly_minutes:g}"
                  if "mostly" in args.synthesizers else "")
               + (" --update" if args.update else "")
               + out_option(args.out, parser.get_default("out")))
    if not kept.empty:  # the run that made the kept rows first, then this one
        command = "\n".join([*earlier, command])
    header = (f"Seeds {', '.join(map(str, args.seeds))}; "
              f"{time.perf_counter() - start:.0f} s on 2 cores (shared with other runs); "
              f"clinisynth at {measured_commit()}.")
    if args.baseline is not None:
        command += f" --baseline {shown(args.baseline)}"
    lines = report_head("Linked tables (issue 28)", command, header, __doc__)
    paired = "" if args.baseline is None else "\n" + paired_section(
        results, pd.read_csv(args.baseline), shown(args.baseline))
    args.out.write_text("\n".join(lines) + "\n" + summarise(results) + "\n" + paired)
    print(summarise(results))


def paired_section(results: pd.DataFrame, baseline: pd.DataFrame, name: str) -> str:
    """Markdown: per (table, synthesizer) and figure, the mean over the seeds both runs have
    of this run − ``baseline``, ± its standard error."""
    on = ["table", "synthesizer", "seed"]
    both = results.merge(baseline, on=on, suffixes=("", "_base"))
    keys = [k for k in KEYS if k in results and f"{k}_base" in both and k != "seconds"]
    lines = [f"## Paired with {name}", "",
             "Per seed, this run − the baseline's row; mean ± standard error over "
             f"{both['seed'].nunique()} seeds (negative is lower).", "",
             "| table | synthesizer | " + " | ".join(keys) + " |",
             "|---|---|" + "---:|" * len(keys)]
    for (table, synth), rows in both.groupby(["table", "synthesizer"], sort=False):
        cells = []
        for k in keys:
            d = (rows[k] - rows[f"{k}_base"]).dropna()
            cells.append("–" if d.empty else f"{d.mean():+.3f} ± "
                         f"{d.std(ddof=1) / np.sqrt(len(d)) if len(d) > 1 else 0:.3f}")
        lines.append(f"| {table} | {synth} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
