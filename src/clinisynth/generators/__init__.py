"""Registry of the class-conditional generators, found by name.

Built-in generators are imported lazily (``cvae`` pulls in PyTorch only when used); third
parties add their own with :func:`register`.
"""

from __future__ import annotations

from clinisynth.generators.base import BaseGenerator
from clinisynth.registry import Registry

GENERATORS: Registry[BaseGenerator] = Registry("generator", BaseGenerator, {
    "noise": "clinisynth.generators.noise:NoiseGenerator",
    "interpolation": "clinisynth.generators.interpolation:InterpolationGenerator",
    "gmm": "clinisynth.generators.gmm:GMMGenerator",
    "cvae": "clinisynth.generators.cvae:CVAEGenerator",
    "smote": "clinisynth.generators.smote:SMOTEGenerator",
})
register = GENERATORS.register
list_generators = GENERATORS.names
get_generator = GENERATORS.get

__all__ = ["GENERATORS", "BaseGenerator", "get_generator", "list_generators", "register"]
