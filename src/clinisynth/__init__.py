"""clinisynth: class-conditional hybrid synthetic data for clinical tables."""

__version__ = "0.1.0"

from clinisynth.errors import ClinisynthError  # noqa: E402
from clinisynth.schema import TableSchema, infer_schema  # noqa: E402
from clinisynth.synthesizer import HybridSynthesizer  # noqa: E402

__all__ = ["ClinisynthError", "HybridSynthesizer", "TableSchema", "__version__", "infer_schema"]
