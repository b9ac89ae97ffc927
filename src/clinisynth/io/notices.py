"""Notices: one-line remarks about how an input was read (not errors, not warnings about results).

A notice is a :class:`ClinisynthNotice` raised through Python's :mod:`warnings`, so library users
see it like any warning and can filter it; the command line prints each as one line
``notice: …`` (see :func:`clinisynth.cli.data.printing_notices`).
"""

from __future__ import annotations

import warnings


class ClinisynthNotice(UserWarning):
    """How an input was read: the encoding guessed, cells treated as missing, a sheet chosen."""


def notice(message: str) -> None:
    """Emit ``message`` (one line) as a :class:`ClinisynthNotice`."""
    warnings.warn(message, ClinisynthNotice, stacklevel=3)
