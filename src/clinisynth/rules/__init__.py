"""Rules: discovered and declared constraints on rows, and the recorded precision of columns.

* :mod:`~clinisynth.schema.rules` -- the rule dataclasses and their JSON form (the schema's
  ``"rules"`` list);
* :mod:`~clinisynth.rules.discovery` -- rules that hold on every training row, with support;
* :mod:`~clinisynth.rules.precision` -- each numeric column's recorded step;
* :mod:`~clinisynth.rules.step` -- :class:`RulesStep`, the table step that enforces them.

Expressions in formulas and binnings are parsed by :mod:`clinisynth.expressions`.
"""

from clinisynth.rules.discovery import Discovery, DiscoveryOptions, discover_rules
from clinisynth.rules.step import RulesStep
from clinisynth.schema.rules import RULE_TYPES, Rule, RuleError, parse_rules

__all__ = ["RULE_TYPES", "Discovery", "DiscoveryOptions", "Rule", "RuleError", "RulesStep",
           "discover_rules", "parse_rules"]
