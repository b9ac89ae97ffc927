"""Registry of the class-conditional generators, found by name.

Built-in generators are imported lazily (``cvae`` pulls in PyTorch only when used); third
parties add their own with :func:`register`.
"""

from __future__ import annotations

from importlib import import_module

from clinisynth.errors import ClinisynthError
from clinisynth.generators.base import BaseGenerator

_BUILTIN = {
    "noise": "clinisynth.generators.noise:NoiseGenerator",
    "interpolation": "clinisynth.generators.interpolation:InterpolationGenerator",
    "gmm": "clinisynth.generators.gmm:GMMGenerator",
    "cvae": "clinisynth.generators.cvae:CVAEGenerator",
    "smote": "clinisynth.generators.smote:SMOTEGenerator",
}
_REGISTRY: dict[str, type[BaseGenerator]] = {}


def register(cls: type[BaseGenerator]) -> type[BaseGenerator]:
    """Add a generator class under ``cls.name`` (usable as a decorator)."""
    if not (isinstance(cls, type) and issubclass(cls, BaseGenerator)):
        raise TypeError("only BaseGenerator subclasses can be registered")
    _REGISTRY[cls.name] = cls
    return cls


def list_generators() -> list[str]:
    """Names of all registered generators, built-ins first."""
    return list(_BUILTIN) + [n for n in _REGISTRY if n not in _BUILTIN]


def get_generator(name: str) -> type[BaseGenerator]:
    """The generator class registered as ``name``."""
    if name in _REGISTRY:
        return _REGISTRY[name]
    if name in _BUILTIN:
        module, attr = _BUILTIN[name].split(":")
        cls = getattr(import_module(module), attr)
        _REGISTRY[name] = cls
        return cls
    raise ClinisynthError(
        f"unknown generator '{name}'; registered: {', '.join(list_generators())}"
    )


__all__ = ["BaseGenerator", "get_generator", "list_generators", "register"]
