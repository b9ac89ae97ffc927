"""Table schema: what each column is, its observed range, categories, missing rate and role.

The ground the rest of the package stands on; it reads no file and fits nothing.

* :mod:`~clinisynth.schema.columns` -- :class:`ColumnSchema`, kinds and roles;
* :mod:`~clinisynth.schema.rules` -- the rule types of a schema's ``"rules"`` list;
* :mod:`~clinisynth.schema.table` -- :class:`TableSchema` (JSON form, validation);
* :mod:`~clinisynth.schema.dates` and :mod:`~clinisynth.schema.roles` -- date formats and role
  inference;
* :mod:`~clinisynth.schema.pairs` -- the survival pairs, chosen by the data's structure;
* :mod:`~clinisynth.schema.infer` -- :func:`infer_schema`.
"""

from clinisynth.schema.columns import (
    DISCRETE_KINDS,
    ID_STRATEGIES,
    KINDS,
    NUMERIC_KINDS,
    ROLES,
    UNMODELLED_ROLES,
    ColumnSchema,
)
from clinisynth.schema.infer import infer_column, infer_schema
from clinisynth.schema.pairs import EVENT_NAMES, TIME_NAMES, infer_survival, pair_candidates
from clinisynth.schema.table import (
    DEFAULT_K,
    MAX_MAGNITUDE,
    SCHEMA_VERSION,
    TableSchema,
    check_frame,
    check_pairs,
    check_survival,
    primary_pair,
)
from clinisynth.values import category_key, sorted_categories, to_native

__all__ = ["DEFAULT_K", "DISCRETE_KINDS", "EVENT_NAMES", "ID_STRATEGIES", "KINDS",
           "MAX_MAGNITUDE", "NUMERIC_KINDS", "ROLES", "SCHEMA_VERSION", "TIME_NAMES",
           "UNMODELLED_ROLES", "ColumnSchema", "TableSchema", "category_key", "check_frame",
           "check_pairs", "check_survival", "infer_column", "infer_schema", "infer_survival",
           "pair_candidates", "primary_pair", "sorted_categories", "to_native"]
