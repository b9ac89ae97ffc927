"""Exceptions raised for user mistakes (bad input, bad options).

The CLI turns any :class:`ClinisynthError` into a one-line message and exit code 2; anything
else is a bug, reported as one line ``internal error: ...`` with exit code 1, and with its
traceback under ``--debug`` (see :mod:`clinisynth.cli.app`).
"""


#: every character ``str.splitlines`` breaks at, mapped to its escape (``"\\n"``, ``"\\x0b"``…)
_ESCAPE_LINE_BREAKS = {ord(c): repr(c)[1:-1]
                       for c in "\n\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029"}


class ClinisynthError(ValueError):
    """A user-facing error: bad data, bad schema or a bad option. The message is one line:
    line breaks inside it (from a column name, say) are shown escaped, e.g. ``\\n``."""

    def __str__(self) -> str:
        return super().__str__().translate(_ESCAPE_LINE_BREAKS)


class SchemaError(ClinisynthError):
    """The data does not match the schema, or the schema itself is invalid."""


class NotFittedError(ClinisynthError, AttributeError):
    """A method that needs a fitted estimator was called before ``fit``."""
