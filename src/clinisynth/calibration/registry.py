"""Registry of the calibrators, found by name (built-ins plus any added with :func:`register`)."""

from __future__ import annotations

import inspect
from collections.abc import Mapping
from importlib import import_module
from typing import Any

from clinisynth.calibration.base import BaseCalibrator
from clinisynth.errors import ClinisynthError

_BUILTIN = {
    "moment": "clinisynth.calibration.moment:MomentCalibrator",
    "histogram": "clinisynth.calibration.histogram:HistogramCalibrator",
    "soft": "clinisynth.calibration.soft:SoftCalibrator",
    "adaptive_soft": "clinisynth.calibration.adaptive_soft:AdaptiveSoftCalibrator",
    "iterative_soft": "clinisynth.calibration.iterative_soft:IterativeSoftCalibrator",
}
_REGISTRY: dict[str, type[BaseCalibrator]] = {}


def register(cls: type[BaseCalibrator]) -> type[BaseCalibrator]:
    """Add a calibrator class under ``cls.name`` (usable as a decorator)."""
    if not (isinstance(cls, type) and issubclass(cls, BaseCalibrator)):
        raise TypeError("only BaseCalibrator subclasses can be registered")
    _REGISTRY[cls.name] = cls
    return cls


def list_calibrators() -> list[str]:
    """Names of all registered calibrators, built-ins first."""
    return list(_BUILTIN) + [n for n in _REGISTRY if n not in _BUILTIN]


def get_calibrator(name: str) -> type[BaseCalibrator]:
    """The calibrator class registered as ``name``."""
    if name in _REGISTRY:
        return _REGISTRY[name]
    if isinstance(name, str) and name in _BUILTIN:
        module, attr = _BUILTIN[name].split(":")
        cls = getattr(import_module(module), attr)
        _REGISTRY[name] = cls
        return cls
    raise ClinisynthError(
        f"unknown calibrator {name!r}; registered: {', '.join(list_calibrators())}"
    )


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
    cal._check_params()
    return cal
