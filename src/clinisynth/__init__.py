"""clinisynth: class-conditional hybrid synthetic data for clinical tables."""

from clinisynth.errors import ClinisynthError
from clinisynth.schema import TableSchema, infer_schema
from clinisynth.synthesizer import HybridSynthesizer
from clinisynth.version import __version__

__all__ = ["ClinisynthError", "HybridSynthesizer", "TableSchema", "__version__", "infer_schema"]
