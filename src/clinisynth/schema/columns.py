"""What each column is: its kind, the dtype to restore, its range or categories, missing rate.

Kinds
-----
``continuous``  real-valued; clipped to ``[min, max]`` on decoding.
``integer``     integer-valued count or measurement; rounded, then clipped.
``binary``      exactly two categories (flags, yes/no).
``categorical`` strings, booleans, or numeric codes with at most ``low_cardinality`` values.

Roles (see :mod:`clinisynth.schema.roles` for how they are inferred, :mod:`clinisynth.steps.roles`
for what the synthesizer does with them)
-----
``identifier``        a key (patient id, MRN): never modelled nor copied; regenerated as fresh
                      values of the same shape (``strategy: "regenerate"``) or dropped (``"drop"``).
                      Its values are not listed in the schema.
``datetime``          a date or timestamp, modelled as a number from an origin; ``format`` is the
                      strftime format of text dates (``null`` for a datetime dtype).
``text``              free text: never modelled nor copied; re-emitted as missing.
``quasi_identifier``  a column an attacker may know (age, sex, dates, rare categories); the
                      privacy guard's singling-out rule matches synthetic rows on these.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from clinisynth.errors import SchemaError

KINDS = ("continuous", "integer", "binary", "categorical")

NUMERIC_KINDS = ("continuous", "integer")

DISCRETE_KINDS = ("binary", "categorical")

ROLES = ("identifier", "datetime", "text", "quasi_identifier")

#: roles whose values the models never see (the roles step replaces or drops them)
UNMODELLED_ROLES = ("identifier", "datetime", "text")

ID_STRATEGIES = ("regenerate", "drop")


@dataclass
class ColumnSchema:
    """One column: its kind, the pandas dtype to restore, its range or categories, missing rate."""

    name: str
    kind: str
    dtype: str
    min: float | None = None
    max: float | None = None
    categories: list[Any] | None = None
    missing_rate: float = 0.0
    #: recorded resolution of a numeric column (0.1, 1, 5...); 0 = not rounded; None = learn
    #: it at fit time (see :mod:`clinisynth.rules.precision`)
    precision: float | None = None
    role: str | None = None
    format: str | None = None  # datetime: strftime format of text dates (None: datetime dtype)
    strategy: str | None = None  # identifier: "regenerate" (default) or "drop"
    #: a numeric column's range declared public knowledge (a clinical reference range such as
    #: age 18-100): the model may emit values out to it, and that end of the column is not
    #: protected (see :mod:`clinisynth.steps.protect`); None: the end is learned and protected
    public_min: float | None = None
    public_max: float | None = None
    #: a discrete column's categories declared public knowledge (the codes of a coding
    #: system): in DP mode they cost no budget; None: learned (and, in DP mode, charged)
    public_categories: list[Any] | None = None
    #: how a continuous column's values were stored in the file (``{"decimals", "bits",
    #: "mode"}``, e.g. SAS's short numerics: see :mod:`clinisynth.rules.storage`); ``False``:
    #: write plain decimals; None: learn it at fit time
    storage: dict[str, Any] | bool | None = None
    #: model view only, set by a step: the column holds that step's score (the survival step's
    #: normal score of the follow-up time), which its inverse maps back through the real
    #: values itself; the calibration then matches it without smoothing (it is no released
    #: value). Never in a user's schema
    score: bool = False

    @property
    def is_numeric(self) -> bool:
        return self.kind in NUMERIC_KINDS

    @property
    def is_constant(self) -> bool:
        """A column with a single observed value: it is reproduced as that value, never modelled."""
        if self.is_numeric:
            return self.min == self.max
        return len(self.categories or []) == 1

    def check(self) -> None:
        """Raise :class:`SchemaError` if this column's description is inconsistent."""
        if self.kind not in KINDS:
            raise SchemaError(
                f"column '{self.name}': kind '{self.kind}' is not one of {', '.join(KINDS)}"
            )
        if not 0.0 <= self.missing_rate < 1.0:
            raise SchemaError(f"column '{self.name}': missing_rate must be in [0, 1)")
        if self.precision is not None and (
                isinstance(self.precision, bool) or not isinstance(self.precision, int | float)
                or not self.precision >= 0 or not self.is_numeric):
            raise SchemaError(f"column '{self.name}': precision must be a number >= 0 "
                              "(numeric columns only) or null")
        if self.storage is not None and self.storage is not False and not (
                isinstance(self.storage, dict) and self.kind == "continuous"
                and set(self.storage) >= {"decimals", "bits", "mode"}
                and self.storage["mode"] in ("trunc", "round")
                and all(isinstance(self.storage[k], int) and not isinstance(self.storage[k], bool)
                        for k in ("decimals", "bits")) and 1 <= self.storage["bits"] <= 53):
            raise SchemaError(f"column '{self.name}': storage must be false, null or "
                              '{"decimals": int, "bits": 1-53, "mode": "trunc" or "round"} '
                              "(continuous columns only)")
        if self.role is not None and self.role not in ROLES:
            raise SchemaError(f"column '{self.name}': role '{self.role}' is not one of "
                              f"{', '.join(ROLES)} (or null)")
        if self.strategy is not None and (self.role != "identifier"
                                          or self.strategy not in ID_STRATEGIES):
            raise SchemaError(f"column '{self.name}': strategy is for identifiers only, one of "
                              f"{', '.join(ID_STRATEGIES)}")
        if self.format is not None and self.role != "datetime":
            raise SchemaError(f"column '{self.name}': format is for datetime columns only")
        for key in ("public_min", "public_max"):
            bound = getattr(self, key)
            if bound is not None and (isinstance(bound, bool) or not isinstance(
                    bound, int | float) or not self.is_numeric or self.role in UNMODELLED_ROLES):
                raise SchemaError(f"column '{self.name}': {key} must be a number (numeric "
                                  "columns only) or null")
        if self.public_categories is not None and (
                not isinstance(self.public_categories, list) or not self.public_categories
                or self.is_numeric or self.role in UNMODELLED_ROLES):
            raise SchemaError(f"column '{self.name}': public_categories must be a non-empty "
                              "list (discrete columns only) or null")
        if None not in (self.public_min, self.public_max) \
                and self.public_min > self.public_max:  # type: ignore[operator]
            raise SchemaError(f"column '{self.name}': public_min is above public_max")
        if self.role in UNMODELLED_ROLES:
            return  # values are handled by the roles step, not described here
        if self.is_numeric:
            if self.min is None or self.max is None or not self.min <= self.max:
                raise SchemaError(f"column '{self.name}': needs numeric min <= max")
        else:
            if not self.categories:
                raise SchemaError(f"column '{self.name}': kind '{self.kind}' needs categories")
            if len({repr(c) for c in self.categories}) != len(self.categories):
                raise SchemaError(f"column '{self.name}': categories are not unique")
            if self.kind == "binary" and len(self.categories) != 2:
                raise SchemaError(f"column '{self.name}': kind 'binary' needs exactly 2 categories")
