"""`clinisynth sample`: draw synthetic rows from a saved model directory."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated, Any

import typer

from clinisynth.cli.app import app, console
from clinisynth.cli.lifecycle import check_outside, check_seed, print_guard, print_rows
from clinisynth.errors import ClinisynthError
from clinisynth.io import check_output_path, write_table
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


@app.command("sample")
def sample_command(
    model: Annotated[Path, typer.Option(
        "--model", help="A model directory from `clinisynth fit` or `generate --save-model`.")],
    rows: Annotated[int, typer.Option("--rows", help="Number of synthetic rows to write.")],
    out: Annotated[Path, typer.Option("--out", help="Output table (.csv or .parquet).")],
    seed: Annotated[int, typer.Option(
        "--seed", help="Seed of the draw: the same model, rows and seed give the same file.")
    ] = 0,
    class_counts: Annotated[str | None, typer.Option(
        "--class-counts", help="Rows per class, label=count pairs summing to --rows, e.g. "
        "Yes=300,No=200; classes left out get none. Default: the training proportions.")
    ] = None,
) -> None:
    """Draw synthetic rows from a saved model (verified before use) and write them."""
    start = time.perf_counter()
    if rows < 1:
        raise ClinisynthError(f"--rows must be a positive integer, got {rows}")
    check_seed(seed)
    out = check_output_path(out)
    check_outside(out, model, "--out", "--model")
    wanted = parse_class_counts(class_counts) if class_counts is not None else None
    syn = HybridSynthesizer.load(model)
    target = syn.schema_.target
    counts = (match_class_counts(wanted, list(syn.schema_.classes), target, rows)
              if wanted is not None else None)
    console.print(f"model {model} verified (target '{target}', generators "
                  f"{', '.join(syn.weights_)}); drawing {rows} rows", highlight=False)
    fake = syn.sample(rows, class_counts=counts, seed=seed)
    write_table(fake, out)
    print_rows(fake, target, out)
    print_guard(syn)
    console.print(f"sampled in {time.perf_counter() - start:.1f} s", highlight=False)
