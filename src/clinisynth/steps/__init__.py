"""The pipeline's steps, found by name (a saved model names each of its steps).

One file per step, one contract (:mod:`clinisynth.steps.base`). Built-ins are imported when
first asked for; a new step is one file plus an entry here (or :meth:`STEPS.register`).
"""

from clinisynth.registry import Registry
from clinisynth.steps.base import Batch, FitContext, Step, TableStep

STEPS: Registry[Step] = Registry("step", Step, {
    "subsample": "clinisynth.steps.subsample:SubsampleStep",
    "protect": "clinisynth.steps.protect:ProtectStep",
    "roles": "clinisynth.steps.roles:RolesStep",
    "rules": "clinisynth.steps.rules:RulesStep",
    "survival": "clinisynth.steps.survival:SurvivalStep",
    "weights": "clinisynth.steps.search:WeightSearchStep",
    "encode": "clinisynth.steps.encode:EncodeStep",
    "mixture": "clinisynth.steps.mixture:MixtureStep",
    "calibrate": "clinisynth.steps.calibrate:CalibrateStep",
    "guard": "clinisynth.steps.guard:GuardStep",
    "dp_rules": "clinisynth.steps.dp_rules:DPRulesStep",
    "dp_domain": "clinisynth.steps.dp_domain:DPDomainStep",
    "dp_tree": "clinisynth.steps.dp_tree:DPTreeStep",
})

__all__ = ["STEPS", "Batch", "FitContext", "Step", "TableStep"]
