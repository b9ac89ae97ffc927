"""Exceptions raised for user mistakes (bad input, bad options).

The CLI turns any :class:`ClinisynthError` into a one-line message and exit code 2; everything
else is a bug and keeps its traceback.
"""


class ClinisynthError(ValueError):
    """A user-facing error: bad data, bad schema or a bad option. The message is one line:
    line breaks inside it (from a column name, say) are shown as ``\\n``."""

    def __str__(self) -> str:
        return super().__str__().replace("\r", "\\r").replace("\n", "\\n")


class SchemaError(ClinisynthError):
    """The data does not match the schema, or the schema itself is invalid."""


class NotFittedError(ClinisynthError, AttributeError):
    """A method that needs a fitted estimator was called before ``fit``."""
