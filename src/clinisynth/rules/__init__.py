"""Rules: discovered and declared constraints on rows, and the recorded precision of columns.

* :mod:`~clinisynth.rules.discovery` -- rules that hold on every training row, with support;
* :mod:`~clinisynth.rules.derived` -- its search for derived columns (formulas, mappings,
  binnings);
* :mod:`~clinisynth.rules.options` -- discovery's thresholds and the record of what it found;
* :mod:`~clinisynth.rules.columns` -- column values as arrays, shared by those searches;
* :mod:`~clinisynth.rules.plan` -- graph helpers of the rules step's plan;
* :mod:`~clinisynth.rules.precision` -- each numeric column's recorded step.

The rule dataclasses and their JSON form (the schema's ``"rules"`` list) are
:mod:`clinisynth.schema.rules`; the step that enforces them is
:class:`clinisynth.steps.rules.RulesStep`.

Expressions in formulas and binnings are parsed by :mod:`clinisynth.expressions`.
"""

from clinisynth.rules.discovery import discover_rules
from clinisynth.rules.options import Discovery, DiscoveryOptions
from clinisynth.schema.rules import RULE_TYPES, Rule, RuleError, parse_rules

__all__ = ["RULE_TYPES", "Discovery", "DiscoveryOptions", "Rule", "RuleError",
           "discover_rules", "parse_rules"]
