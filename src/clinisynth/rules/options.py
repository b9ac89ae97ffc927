"""The thresholds of rule discovery and the record of what it found and skipped.

Shared by :mod:`~clinisynth.rules.discovery` and :mod:`~clinisynth.rules.derived` (the searches
for derived columns), which both read the options and report skipped candidates.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from clinisynth.schema.rules import Rule


@dataclass
class DiscoveryOptions:
    """Thresholds of :func:`~clinisynth.rules.discovery.discover_rules` (see the docstring of
    :mod:`clinisynth.rules.discovery`)."""

    min_support: int = 20
    min_expected: float = 5.0
    forbidden_expected: float = 10.0
    min_group_rows: int = 5
    max_bins: int = 16
    min_bin_rows: int = 5
    screen_rows: int = 256
    #: an inequality (or a conditional equality's group) may be broken by this share of rows
    exception_share: float = 0.01
    #: and by at most this share of the rows a shuffled table would break an inequality in
    #: (1 %: on the public tables measured, nested durations pass and chance pairs do not)
    exception_expected: float = 0.01
    #: the same when the two columns are tied beyond chance (``tie_evidence``): a nesting
    #: (5 %: framingham's TIMECVD <= TIMEMI, broken on 0.6-0.8 % of the rows, 2-3 % of the
    #: shuffled breaks; chance pairs have no ties)
    exception_expected_tied: float = 0.05
    #: an inequality a shuffled table would rarely break is kept when no row breaks it and its
    #: columns are equal on more rows than chance explains (a duration censored at the outer)
    tie_evidence: bool = True
    families: tuple[str, ...] = ("range", "inequality", "formula", "mapping", "binning",
                                 "conditional_missing", "conditional_equal",
                                 "forbidden_combination")


@dataclass
class Discovery:
    """Rules found, candidates skipped (counted by reason, with a few examples), and timings."""

    rules: list[Rule] = field(default_factory=list)
    skipped: dict[str, int] = field(default_factory=dict)
    examples: dict[str, list[str]] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)

    def skip(self, reason: str, what: str) -> None:
        self.skipped[reason] = self.skipped.get(reason, 0) + 1
        shown = self.examples.setdefault(reason, [])
        if len(shown) < 3:
            shown.append(what)

    def to_dict(self) -> dict[str, Any]:
        return {"found": [r.describe() for r in self.rules], "skipped": self.skipped,
                "skipped_examples": self.examples,
                "seconds": {k: round(v, 4) for k, v in self.seconds.items()}}
