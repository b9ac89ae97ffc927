"""Registry of the calibrators, found by name (built-ins plus any added with :func:`register`)."""

from __future__ import annotations

import inspect
from collections.abc import Mapping
from typing import Any

from clinisynth.calibration.base import BaseCalibrator
from clinisynth.errors import ClinisynthError
from clinisynth.registry import Registry

CALIBRATORS: Registry[BaseCalibrator] = Registry("calibrator", BaseCalibrator, {
    "moment": "clinisynth.calibration.moment:MomentCalibrator",
    "histogram": "clinisynth.calibration.histogram:HistogramCalibrator",
    "soft": "clinisynth.calibration.soft:SoftCalibrator",
    "adaptive_soft": "clinisynth.calibration.adaptive_soft:AdaptiveSoftCalibrator",
    "iterative_soft": "clinisynth.calibration.iterative_soft:IterativeSoftCalibrator",
})
register = CALIBRATORS.register
list_calibrators = CALIBRATORS.names
get_calibrator = CALIBRATORS.get


def make_calibrator(name: str, params: Mapping[str, Any] | None = None) -> BaseCalibrator:
    """Calibrator ``name`` built with ``params``; unknown or invalid options raise."""
    cls = get_calibrator(name)
    params = dict(params or {})
    allowed = [p for p in inspect.signature(cls.__init__).parameters if p != "self"]
    for key in params:
        if key not in allowed:
            known = ", ".join(allowed) or "none"
            raise ClinisynthError(f"{name}: unknown parameter '{key}'; parameters: {known}")
    cal = cls(**params)
    cal.check_params()
    return cal
