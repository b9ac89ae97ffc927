"""Files in and out: reading the formats clinical data comes in, writing tables atomically.

``readers``  every input format, delimiter/encoding detection, notices (:class:`ReadOptions`);
``writers``  CSV (formula-safe), Parquet, Stata and SPSS output;
``atomic``   all-or-nothing writes of files and directories;
``notices``  :class:`ClinisynthNotice`, the one-line remarks about how an input was read.
"""

from clinisynth.io.atomic import atomic_dir, atomic_path, write_text_atomic
from clinisynth.io.notices import ClinisynthNotice
from clinisynth.io.readers import INPUT_SUFFIXES, MISSING_MARKERS, ReadOptions, read_table
from clinisynth.io.writers import (
    OUTPUT_SUFFIXES,
    check_output_path,
    check_writable,
    neutralise_formulas,
    write_table,
)

__all__ = [
    "INPUT_SUFFIXES", "MISSING_MARKERS", "OUTPUT_SUFFIXES", "ClinisynthNotice", "ReadOptions",
    "atomic_dir", "atomic_path", "check_output_path", "check_writable", "neutralise_formulas",
    "read_table", "write_table", "write_text_atomic",
]
