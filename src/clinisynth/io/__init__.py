"""Files in and out: reading the formats clinical data comes in, writing tables atomically.

``readers``  every input format, delimiter/encoding detection, notices (:class:`ReadOptions`);
``text``     delimited text: its bytes, encoding, delimiter and decimal mark;
``writers``  CSV (formula-safe), Parquet, Stata and SPSS output;
``stream``   :class:`TableWriter`, the same formats written chunk by chunk;
``atomic``   all-or-nothing writes of files and directories;
``notices``  :class:`ClinisynthNotice`, the one-line remarks about how an input was read.
"""

from clinisynth.io.atomic import atomic_dir, atomic_path, recover_dir, write_text_atomic
from clinisynth.io.notices import ClinisynthNotice
from clinisynth.io.readers import INPUT_SUFFIXES, MISSING_MARKERS, ReadOptions, read_table
from clinisynth.io.stream import STREAMED_SUFFIXES, TableWriter, arrow_table, stable_dtypes
from clinisynth.io.writers import (
    OUTPUT_SUFFIXES,
    check_output_path,
    check_writable,
    neutralise_formulas,
    write_table,
    write_tables,
)

__all__ = [
    "INPUT_SUFFIXES", "MISSING_MARKERS", "OUTPUT_SUFFIXES", "STREAMED_SUFFIXES",
    "ClinisynthNotice", "ReadOptions", "TableWriter", "arrow_table", "atomic_dir", "atomic_path",
    "check_output_path", "check_writable", "neutralise_formulas", "read_table", "recover_dir",
    "stable_dtypes", "write_table", "write_tables", "write_text_atomic",
]
