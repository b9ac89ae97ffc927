"""`clinisynth sample`: draw synthetic rows from a saved model directory."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Annotated, Any

import pandas as pd
import typer

from clinisynth.cli.app import app, console
from clinisynth.cli.linked import linked_sample_command
from clinisynth.cli.options import ThreadsOption, check_outside, check_seed, check_threads
from clinisynth.cli.progress import write_draw, write_frame
from clinisynth.cli.summary import print_guard, print_rows
from clinisynth.conditions import parse_conditions
from clinisynth.errors import ClinisynthError
from clinisynth.guard import GuardReport
from clinisynth.io import OUTPUT_SUFFIXES, check_output_path, check_writable
from clinisynth.persistence import is_linked_model
from clinisynth.sampling_engines import check_dataset_dir, check_engine, write_partitioned
from clinisynth.schema import category_key
from clinisynth.synthesizer import HybridSynthesizer


def parse_class_counts(text: str) -> dict[str, int]:
    """``"Yes=300,No=200"`` -> ``{"Yes": 300, "No": 200}`` (labels as text, counts checked)."""
    counts: dict[str, int] = {}
    for part in text.split(","):
        if not part.strip():
            continue
        label, sep, count = part.rpartition("=")
        label = label.strip()
        if not sep or not label:
            raise ClinisynthError(f"--class-counts: '{part.strip()}' is not label=count")
        try:
            n = int(count.strip())
        except ValueError:
            raise ClinisynthError(f"--class-counts: count '{count.strip()}' for class '{label}' "
                                  "is not a whole number") from None
        if n < 0:
            raise ClinisynthError(f"--class-counts: count for class '{label}' is negative")
        if label in counts:
            raise ClinisynthError(f"--class-counts: class '{label}' is given twice")
        counts[label] = n
    if not counts:
        raise ClinisynthError("--class-counts is empty; give label=count pairs: Yes=300,No=200")
    return counts


def match_class_counts(counts: dict[str, int], classes: list[Any], target: str,
                       rows: int) -> dict[Any, int]:
    """Map the labels typed on the command line to the model's class values."""
    matched: dict[Any, int] = {}
    for label, n in counts.items():
        hits = [c for c in classes if str(c) == label]
        if not hits:  # "1" for the class 1.0: compare as the schema does
            hits = [c for c in classes if category_key(c) == category_key(_number(label))]
        if not hits:
            known = ", ".join(map(str, classes))
            raise ClinisynthError(f"--class-counts: unknown class '{label}' for target "
                                  f"'{target}'; known: {known}")
        matched[hits[0]] = n
    total = sum(matched.values())
    if total != rows:
        raise ClinisynthError(f"--class-counts sum to {total} but --rows is {rows}")
    return matched


def _number(label: str) -> Any:
    try:
        return float(label)
    except ValueError:
        return label


def is_dataset_out(out: str, engine: str) -> bool:
    """The rule for ``--out``: a partitioned Parquet dataset (a directory) when it ends with
    ``/`` or when the engine is a cluster's; otherwise one file, chosen by its suffix."""
    return engine != "local" or out.endswith(("/", os.sep))


@app.command("sample")
def sample_command(
    model: Annotated[Path, typer.Option(
        "--model", help="A model directory from `clinisynth fit` or `generate --save-model`.")],
    rows: Annotated[int, typer.Option("--rows", help="Number of synthetic rows to write "
                                      "(of patients, for a linked-tables model).")],
    out: Annotated[str, typer.Option(
        "--out", metavar="FILE|DIR/", help=f"Output table ({', '.join(OUTPUT_SUFFIXES)}), "
        "written atomically; .csv and .parquet chunk by chunk in bounded memory (.dta and .sav "
        "are collected and written at the end). A name ending in / is a partitioned Parquet "
        "dataset instead: a new or empty directory of part-NNNNN.parquet files, one per chunk; "
        "--engine dask or ray always writes one (its --out ends in / or .parquet).")],
    seed: Annotated[int, typer.Option(
        "--seed", help="Seed of the draw: the same model, rows and seed give the same file.")
    ] = 0,
    class_counts: Annotated[str | None, typer.Option(
        "--class-counts", help="Rows per class, label=count pairs summing to --rows, e.g. "
        "Yes=300,No=200; classes left out get none. Default: the training proportions.")
    ] = None,
    condition: Annotated[list[str] | None, typer.Option(
        "--condition", metavar="EXPR", help="Keep only rows meeting a condition, e.g. "
        "'age>=65', 'sex=F', 'stage in 3,4', '40<=age<=65'; repeat to combine. Exactly --rows "
        "rows are written (drawn in one piece, not streamed; one file, not a dataset).")
    ] = None,
    engine: Annotated[str, typer.Option(
        "--engine", metavar="local|dask|ray", help="Where the chunks are sampled: in this "
        "process, or on a Dask or Ray cluster (at --address, else a local one of --workers "
        "processes; pip install 'clinisynth\\[dask]' or 'clinisynth\\[ray]'). Every engine "
        "writes the same rows. A cluster receives the whole model, the privacy guard's "
        "training records included (patient data): use only workers you would trust with the "
        "training table.")] = "local",
    address: Annotated[str | None, typer.Option(
        "--address", metavar="ADDR", help="Scheduler address of a running Dask or Ray cluster "
        "(with --engine dask or ray).")] = None,
    workers: Annotated[int | None, typer.Option(
        "--workers", metavar="N", help="Processes of the local cluster that --engine dask or "
        "ray starts without --address (default 2).", show_default=False)] = None,
    threads: ThreadsOption = None,
) -> None:
    """Draw synthetic rows from a saved model (verified before use) and write them.

    Rows are drawn in chunks and written as they come, so memory stays bounded however many
    rows are asked for; the same model, --rows and --seed give the same rows whatever the
    engine, --workers or --threads.
    """
    start = time.perf_counter()
    if rows < 1:
        raise ClinisynthError(f"--rows must be a positive integer, got {rows}")
    check_seed(seed)
    check_threads(threads)
    check_engine(engine)
    if address is not None and engine == "local":
        raise ClinisynthError("--address needs --engine dask or --engine ray")
    if workers is not None and engine == "local":
        raise ClinisynthError("--workers needs --engine dask or --engine ray (the local engine "
                              "samples in this process; see --threads)")
    if workers is not None and workers < 1:
        raise ClinisynthError(f"--workers must be a positive integer, got {workers}")
    if is_linked_model(model):
        if class_counts or condition or engine != "local":
            raise ClinisynthError("--class-counts, --condition and --engine apply to a "
                                  "one-table model")
        linked_sample_command(model, rows, out, seed)
        return
    dataset = is_dataset_out(out, engine)
    if dataset:
        out_path = Path(out.rstrip("/" + os.sep) or out)
        if engine != "local" and not out.endswith(("/", os.sep)) \
                and out_path.suffix.lower() != ".parquet":
            raise ClinisynthError(f"--out '{out}': --engine {engine} writes a partitioned "
                                  "Parquet dataset (a directory); give a directory name ending "
                                  "in / or .parquet")
        if condition:
            raise ClinisynthError("--condition writes one file; it cannot be combined with a "
                                  "partitioned dataset (--engine dask/ray or an --out ending "
                                  "in /)")
        check_dataset_dir(out_path)
    else:
        if Path(out).is_dir():
            raise ClinisynthError(f"--out '{out}' is a directory; give a file name ending in "
                                  f"{', '.join(OUTPUT_SUFFIXES)}, or end it with / to write a "
                                  "partitioned Parquet dataset")
        out_path = check_output_path(out)
    check_outside(out_path, model, "--out", "--model")
    wanted = parse_class_counts(class_counts) if class_counts is not None else None
    syn = HybridSynthesizer.load(model)
    if threads is not None:
        syn.n_jobs = threads
    target = syn.schema_.target
    counts = (match_class_counts(wanted, list(syn.schema_.classes), target, rows)
              if wanted is not None else None)
    conditions = parse_conditions(condition or [], syn.schema_)
    if not dataset and not conditions:
        check_writable(pd.DataFrame(columns=syn.schema_.names), out_path)
    where = f" on {engine}" if engine != "local" else ""
    source = (f"generators {', '.join(syn.weights_)}" if syn.ledger_ is None else
              f"DP tree, ε {syn.ledger_['epsilon']:g}")
    console.print(f"model {model} verified (target '{target}', {source}); drawing {rows} "
                  f"rows{where}"
                  + (f" meeting {conditions.text}" if conditions else ""), highlight=False)
    if dataset:
        with console.status(f"sampling {rows} rows into partitions{where}"):
            result = write_partitioned(syn, rows, out_path, seed, engine, address,
                                       workers or 2, counts)
        guard = GuardReport(**result["guard"]) if result["guard"] else None
        print_rows(result["class_rows"], target,
                   f"{out_path}/ ({result['partitions']} partitions)")
        print_guard(syn, guard)
    elif conditions:
        with console.status(f"sampling {rows} rows meeting {conditions.text}"):
            fake = syn.sample(rows, class_counts=counts, seed=seed, conditions=conditions)
        print_rows(write_frame(fake, target, out_path).counts, target, out_path)
    else:
        print_rows(write_draw(syn, rows, out_path, counts, seed).counts, target, out_path)
    if not dataset:
        print_guard(syn)
    console.print(f"sampled in {time.perf_counter() - start:.1f} s", highlight=False)
