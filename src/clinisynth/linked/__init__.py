"""Linked tables: a parent table of patients and child tables of their visits, labs or events
(see :class:`~clinisynth.linked.synthesizer.LinkedSynthesizer`)."""

from clinisynth.linked.synthesizer import LinkedSynthesizer

__all__ = ["LinkedSynthesizer"]
