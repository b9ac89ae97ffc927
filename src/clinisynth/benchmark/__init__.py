"""Benchmark: our synthesizers and SDV's peers on the same tables, splits, seeds and audit.

``run_grid`` runs a table × synthesizer × seed grid (locally, on Dask or on Ray) and writes
results.csv, summary.md and plots; ``clinisynth benchmark`` is its command line.
"""

from clinisynth.benchmark.engines import run_cell
from clinisynth.benchmark.grid import (
    ENGINES,
    SYNTHESIZERS,
    BenchmarkOptions,
    Cell,
    TableSpec,
    make_synthesizer,
    split_table,
)
from clinisynth.benchmark.runner import GridResult, run_grid

__all__ = [
    "ENGINES",
    "SYNTHESIZERS",
    "BenchmarkOptions",
    "Cell",
    "GridResult",
    "TableSpec",
    "make_synthesizer",
    "run_cell",
    "run_grid",
    "split_table",
]
