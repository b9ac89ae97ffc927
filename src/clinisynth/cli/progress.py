"""Long work with a progress bar: fitting, and sampling into a file chunk by chunk."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from clinisynth.cli.app import console
from clinisynth.io import TableWriter, write_table
from clinisynth.schema import TableSchema
from clinisynth.synthesizer import HybridSynthesizer


def progress_bar() -> Progress:
    return Progress(SpinnerColumn(), TextColumn("{task.description}"), BarColumn(),
                    TextColumn("{task.completed}/{task.total}"), TimeElapsedColumn(),
                    console=console, transient=False)


def fit_with_progress(syn: HybridSynthesizer, df: pd.DataFrame, target: str,
                      schema: TableSchema | None = None, announce_subsample: bool = True
                      ) -> HybridSynthesizer:
    """Fit ``syn`` with a rich progress bar over its generators (and say when ``max_rows``
    made it fit a subsample, unless the caller already did)."""
    with progress_bar() as bar:
        task = bar.add_task("fitting", total=None)

        def on_step(label: str, i: int, total: int) -> None:
            bar.update(task, description=label, completed=i, total=total)

        syn.fit(df, target, schema=schema, on_step=on_step)
    given, used = syn.fit_rows_ or (0, 0)  # DP mode fits every row (no subsample step)
    if announce_subsample and used < given:
        console.print(f"fitted on a stratified subsample of {used:,} of {given:,} rows "
                      "(--max-rows); the other rows were not used", highlight=False)
    return syn


@dataclass
class Draw:
    """What was written: rows per class, and the whole table when it was asked to be kept."""

    counts: dict[Any, int] = field(default_factory=dict)
    table: pd.DataFrame | None = None

    def add(self, labels: pd.Series) -> None:
        for label, n in labels.value_counts(sort=False).items():
            self.counts[label] = self.counts.get(label, 0) + int(n)


def write_draw(syn: HybridSynthesizer, rows: int, out: Path,
               class_counts: Mapping[Any, int] | None = None, seed: int = 0,
               keep: bool = False) -> Draw:
    """Sample ``rows`` rows of ``syn`` into ``out`` chunk by chunk (:meth:`iter_chunks` into a
    :class:`~clinisynth.io.TableWriter`), with a progress bar of rows written; atomic.

    The rows per class are counted as the chunks pass; ``keep`` also keeps the chunks and
    returns their concatenation (equal to ``syn.sample(rows, class_counts, seed)``) as
    ``Draw.table``, for an audit that needs the whole table.
    """
    draw, kept = Draw(), []
    target = syn.schema_.target
    with progress_bar() as bar, TableWriter(out, schema=syn.schema_) as writer:
        task = bar.add_task("sampling", total=rows)
        for chunk in syn.iter_chunks(rows, class_counts, seed):
            writer.write(chunk)
            draw.add(chunk[target])
            if keep:
                kept.append(chunk)
            bar.update(task, completed=writer.rows)
        if not writer.streamed:
            bar.update(task, description=f"writing {out.suffix}")
    if keep:
        draw.table = pd.concat(kept, ignore_index=True) if len(kept) > 1 else kept[0]
    return draw


def write_frame(fake: pd.DataFrame, target: str, out: Path) -> Draw:
    """Write a table drawn in one piece (conditioned sampling), atomically; its :class:`Draw`."""
    write_table(fake, out)
    draw = Draw(table=fake)
    draw.add(fake[target])
    return draw
